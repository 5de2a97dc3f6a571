/**
 * The tunnel endpoint `GET /v1/tunnel` (WebSocket upgrade) and the operator's
 * view of connected nodes.
 *
 * The signature and freshness of the handshake are checked here, before any
 * Durable Object is touched; single use is checked by the node's object.
 * Unknown node, bad signature and stale time all get the same 401.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv, EdgeBindings } from "../env.ts";
import { getNodePublicKey, touchNodeSeen } from "../directory.ts";
import { readHandshakeHeaders, verifyHandshake } from "../../../shared/tunnel/handshake.ts";
import { constantTimeEqual, utf8 } from "../../../shared/crypto/encoding.ts";

function refused(c: Context<AppEnv>) {
  return c.json({ error: { code: "unauthorized", message: "tunnel handshake refused" } }, 401);
}

export function nodeTunnelStub(env: EdgeBindings, nodeId: string) {
  return env.NODE_TUNNEL.get(env.NODE_TUNNEL.idFromName(nodeId)) as DurableObjectStub<import("./node-tunnel.ts").NodeTunnel>;
}

function isAdmin(c: Context<AppEnv>): boolean {
  const expected = c.env.ADMIN_TOKEN;
  const header = c.req.header("authorization") ?? "";
  if (!expected || !header.startsWith("Bearer ")) return false;
  return constantTimeEqual(utf8(header.slice(7)), utf8(expected));
}

export function mountTunnel(app: OpenAPIHono<AppEnv>): void {
  app.get("/v1/tunnel", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ error: { code: "upgrade-required", message: "this endpoint takes a WebSocket upgrade" } }, 426);
    }
    const handshake = readHandshakeHeaders((name) => c.req.header(name) ?? null);
    if (!handshake) return refused(c);
    const publicKey = await getNodePublicKey(c.env.DB, handshake.nodeId);
    if (!publicKey || verifyHandshake(handshake, publicKey) !== "ok") return refused(c);
    await touchNodeSeen(c.env.DB, handshake.nodeId);
    return nodeTunnelStub(c.env, handshake.nodeId).fetch(c.req.raw);
  });

  // Operator: edge → node round trip (status), used by health checks and tests.
  app.get("/v1/admin/nodes/:id/status", async (c) => {
    if (!isAdmin(c)) return c.json({ error: { code: "unauthorized", message: "admin token required" } }, 401);
    const result = await nodeTunnelStub(c.env, c.req.param("id")).callNode("node.status", {});
    if (!result.ok) return c.json({ error: result.error }, result.error.code === "node-offline" ? 503 : 502);
    return c.json(result.value);
  });
}
