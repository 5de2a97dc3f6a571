/**
 * Edge entry point: the HTTP API plus the storage-node tunnel endpoint, and the
 * Durable Object class that holds each node's WebSocket.
 */
import { createApp } from "./app.ts";
import { mountTunnel } from "./tunnel/route.ts";

const app = createApp();
mountTunnel(app);

export default app;
export { NodeTunnel } from "./tunnel/node-tunnel.ts";
