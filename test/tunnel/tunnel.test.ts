/**
 * The node↔edge tunnel against the real edge in workerd: handshake checks,
 * calls both ways, pushes, and reconnection after the edge restarts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ApiClient } from "../../cli/api-client.ts";
import { handshakeHeaders, signHandshake, type HandshakeData } from "../../shared/tunnel/handshake.ts";
import { CredentialCache, EdgeUnavailableError } from "../../storage-node/auth/credential-cache.ts";
import { createLogger } from "../../storage-node/log.ts";
import { TunnelClient } from "../../storage-node/tunnel/tunnel-client.ts";
import { createTestMailbox, eventually, registerTestNode } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";

const logger = createLogger("silent");

/** Opens a raw WebSocket with the given handshake; resolves to the HTTP status (101 = accepted). */
function dialRaw(edge: EdgeHandle, handshake: HandshakeData): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${edge.url.replace("http", "ws")}/v1/tunnel`, { headers: handshakeHeaders(handshake) });
    socket.once("open", () => {
      socket.close();
      resolve(101);
    });
    socket.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once("error", () => resolve(-1));
  });
}

describe("node↔edge tunnel", () => {
  let edge: EdgeHandle;
  let node: Awaited<ReturnType<typeof registerTestNode>>;
  let client: TunnelClient;
  let cache: CredentialCache;

  beforeAll(async () => {
    edge = await startEdge();
    node = await registerTestNode(edge);
    client = new TunnelClient({
      edgeUrl: edge.url,
      nodeId: node.nodeId,
      nodeSecretKey: node.secretKey,
      logger,
      backoffBaseMs: 100,
      backoffMaxMs: 1_000,
      handlers: {
        "node.ping": () => ({ pong: true, time: Date.now() }),
        "node.status": () => ({ nodeId: node.nodeId, version: "test", uptimeSeconds: 1, listeners: [{ name: "imap", port: 1 }] }),
        "address.changed": ({ address }) => {
          cache.invalidate(address);
          return { invalidated: true };
        },
      },
      onPush: (event, data) => {
        if (event === "address.changed") cache.invalidate(data.address);
      },
    });
    cache = new CredentialCache(async (address) => {
      const result = await client.call("credentials.lookup", { address });
      if (!result.ok) throw new EdgeUnavailableError(result.error.code);
      return result.value;
    }, 60_000);
    client.start();
    await client.waitConnected();
  });

  afterAll(async () => {
    await client?.close();
    await edge?.stop();
  });

  it("lets the edge call the node (status round trip)", async () => {
    const api = new ApiClient({ edgeUrl: edge.url });
    const status = await api.nodeStatus(edge.adminToken, node.nodeId);
    expect(status).toEqual({ nodeId: node.nodeId, version: "test", uptimeSeconds: 1, listeners: [{ name: "imap", port: 1 }] });
  });

  it("answers 503 for a node that is not connected", async () => {
    const other = await registerTestNode(edge, "offline node");
    const response = await fetch(`${edge.url}/v1/admin/nodes/${other.nodeId}/status`, { headers: { authorization: `Bearer ${edge.adminToken}` } });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("node-offline");
  });

  it("refuses a handshake signed with a key that is not the node's", async () => {
    const impostor = await registerTestNode(edge, "impostor");
    expect(await dialRaw(edge, signHandshake(node.nodeId, impostor.secretKey))).toBe(401);
  });

  it("refuses an unknown node id and a stale timestamp with the same answer", async () => {
    expect(await dialRaw(edge, signHandshake("no-such-node", node.secretKey))).toBe(401);
    expect(await dialRaw(edge, signHandshake(node.nodeId, node.secretKey, Date.now() - 10 * 60_000))).toBe(401);
  });

  it("refuses a replayed handshake", async () => {
    const spare = await registerTestNode(edge, "replay target");
    const handshake = signHandshake(spare.nodeId, spare.secretKey);
    expect(await dialRaw(edge, handshake)).toBe(101);
    expect(await dialRaw(edge, handshake)).toBe(401);
  });

  it("serves credential look-ups to the node and a push empties the node's cache", async () => {
    const mailbox = await createTestMailbox(edge);
    const record = await cache.get(mailbox.address);
    expect(record?.address).toBe(mailbox.address);
    expect(record?.homeNode).toBe(node.nodeId);
    expect(record?.passwords.map((p) => p.id)).toEqual([mailbox.passwordId]);
    expect(JSON.stringify(record)).not.toContain(mailbox.password);
    expect(cache.has(mailbox.address)).toBe(true);

    await mailbox.api.revokePassword(mailbox.address, mailbox.passwordId);
    // Acknowledged invalidation: gone by the time the API answered, no waiting.
    expect(cache.has(mailbox.address)).toBe(false);
    const fresh = await cache.get(mailbox.address);
    expect(fresh?.passwords).toEqual([]);
  });

  it("answers null for an unknown address", async () => {
    expect(await cache.get("nobody@unknown.example.test")).toBeNull();
  });

  it("reconnects after the edge restarts", async () => {
    const { persistDir, port, adminToken } = edge;
    let disconnected = false;
    client.once("disconnected", () => (disconnected = true));
    await edge.stop();
    await eventually(() => disconnected, 15_000, "the disconnect");
    expect((await client.call("node.ping" as never, {} as never)).ok).toBe(false);
    edge = await startEdge({ persistDir, port, adminToken });
    await client.waitConnected(30_000);
    const status = await new ApiClient({ edgeUrl: edge.url }).nodeStatus(edge.adminToken, node.nodeId);
    expect(status.nodeId).toBe(node.nodeId);
  });
});
