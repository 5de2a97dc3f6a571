/**
 * The peer side of proxied IMAP sessions in this process: a real PeerServer
 * and ImapProxyDialer over real WebSockets on loopback with real Ed25519
 * keys; the home node's IMAP server is replaced by a handler that answers the
 * login frame (the two-process test imap-proxy.test.ts runs the real one).
 *
 * Checked: PEER_LIMITS.maxProxiedSessionsPerPeer at its edge on both ends
 * (the dialler answers UNAVAILABLE without dialling, the acceptor refuses the
 * socket), a slot freed when a session closes, the home node's refusal passed
 * on with its code, bytes both ways as binary frames, a forged session dial
 * refused like any peer dial, and an unreachable home node as UNAVAILABLE.
 */
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { generateNodeKeyPair, handshakeHeaders, signHandshake } from "../../shared/tunnel/handshake.ts";
import type { PeerNodeData } from "../../shared/tunnel/messages.ts";
import { peerContext } from "../../shared/tunnel/peer-handshake.ts";
import type { HomeSessionData } from "../../storage-node/imap/home-proxy.ts";
import { createLogger } from "../../storage-node/log.ts";
import { PeerDirectory } from "../../storage-node/peer/peer-directory.ts";
import { ImapProxyDialer } from "../../storage-node/peer/imap-proxy-dialer.ts";
import { PEER_SESSION_PATH, parseProxyLogin } from "../../storage-node/peer/imap-proxy-protocol.ts";
import { PeerServer } from "../../storage-node/peer/peer-server.ts";
import { WebSocketConnection } from "../../storage-node/peer/websocket-connection.ts";
import { eventually } from "../support/api.ts";
import { freePort } from "../support/edge.ts";

const logger = createLogger("silent");
const login = { address: "someone@example.test", password: "not-a-real-password", ip: "192.0.2.1", secure: true };

describe("proxied IMAP session sockets", () => {
  const registry = new Map<string, PeerNodeData>();
  const directory = () => new PeerDirectory(async (nodeId) => registry.get(nodeId) ?? null, 0);
  const closers: (() => Promise<void>)[] = [];
  const home = { nodeId: "node_home", ...generateNodeKeyPair() };
  const front = { nodeId: "node_front", ...generateNodeKeyPair() };

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    registry.clear();
  });

  /** The home node: answers every login frame; `refuse` answers NO [AUTHENTICATIONFAILED] instead; echoes bytes. */
  async function homeNode(maxProxiedSessionsPerPeer: number, refuse = false) {
    const server = new PeerServer({ nodeId: home.nodeId, nodeSecretKey: home.secretKey, directory: directory(), logger, limits: { maxProxiedSessionsPerPeer } });
    server.handleSessions((ws) => {
      ws.once("message", (data: Buffer) => {
        expect(parseProxyLogin(data.toString("utf8"))).toEqual({ type: "login", ...login });
        if (refuse) return ws.send(JSON.stringify({ type: "no", code: "AUTHENTICATIONFAILED", text: "Authentication failed." }));
        ws.send(JSON.stringify({ type: "ok", capabilities: ["IMAP4rev1", "IDLE"] }));
        const connection = new WebSocketConnection(ws);
        connection.on("error", () => undefined);
        connection.pipe(connection);
      });
    });
    const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
    closers.push(() => server.close());
    registry.set(home.nodeId, { nodeId: home.nodeId, publicKey: home.publicKey, peerUrl: `ws://127.0.0.1:${port}` });
    registry.set(front.nodeId, { nodeId: front.nodeId, publicKey: front.publicKey, peerUrl: null });
    return { server, port };
  }

  function dialler(maxProxiedSessionsPerPeer?: number) {
    return new ImapProxyDialer({ nodeId: front.nodeId, nodeSecretKey: front.secretKey, directory: directory(), logger, limits: { maxProxiedSessionsPerPeer } });
  }

  function connectionOf(result: HomeSessionData) {
    if (!result.ok) throw new Error(`refused: ${result.code}`);
    closers.push(async () => void result.connection.destroy());
    return result;
  }

  function rawSessionDial(port: number, secretKey: string): Promise<number> {
    const handshake = signHandshake(front.nodeId, secretKey, Date.now(), peerContext(home.nodeId));
    return new Promise((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}${PEER_SESSION_PATH}`, { headers: handshakeHeaders(handshake) });
      socket.on("unexpected-response", (_request, response) => {
        socket.terminate();
        resolve(response.statusCode ?? 0);
      });
      socket.on("open", () => {
        closers.push(async () => void socket.terminate());
        resolve(101);
      });
      socket.on("error", () => resolve(0));
    });
  }

  it("carries bytes both ways and passes the home node's capabilities on", async () => {
    await homeNode(4);
    const opened = connectionOf(await dialler().open(home.nodeId, login));
    expect(opened.capabilities).toEqual(["IMAP4rev1", "IDLE"]);
    const echoed = new Promise<Buffer>((resolve) => opened.connection.once("data", (chunk: Buffer) => resolve(chunk)));
    opened.connection.write(Buffer.from("a1 NOOP\r\n"));
    expect((await echoed).toString("latin1")).toBe("a1 NOOP\r\n");
  });

  it("passes a refusal on with the home node's code", async () => {
    await homeNode(4, true);
    expect(await dialler().open(home.nodeId, login)).toEqual({ ok: false, code: "AUTHENTICATIONFAILED", text: "Authentication failed." });
  });

  it("enforces maxProxiedSessionsPerPeer on the dialling side, and frees the slot when a session ends", async () => {
    await homeNode(10);
    const proxy = dialler(2);
    const first = connectionOf(await proxy.open(home.nodeId, login));
    connectionOf(await proxy.open(home.nodeId, login));
    expect(proxy.sessionsTo(home.nodeId)).toBe(2);
    expect(await proxy.open(home.nodeId, login)).toMatchObject({ ok: false, code: "UNAVAILABLE" });
    first.connection.destroy();
    await eventually(() => proxy.sessionsTo(home.nodeId) === 1, 5_000, "the closed session's slot to be freed");
    connectionOf(await proxy.open(home.nodeId, login));
  });

  it("enforces maxProxiedSessionsPerPeer on the accepting side, apart from RPC links, and refuses forged dials", async () => {
    const { port } = await homeNode(2);
    expect(await rawSessionDial(port, generateNodeKeyPair().secretKey)).toBe(401);
    expect(await rawSessionDial(port, front.secretKey)).toBe(101);
    expect(await rawSessionDial(port, front.secretKey)).toBe(101);
    expect(await rawSessionDial(port, front.secretKey)).toBe(503);
    // The dialler past the acceptor's cap: the login is UNAVAILABLE, not a hang.
    expect(await dialler().open(home.nodeId, login)).toMatchObject({ ok: false, code: "UNAVAILABLE" });
  });

  it("answers UNAVAILABLE when the home node cannot be reached or is unknown", async () => {
    registry.set(home.nodeId, { nodeId: home.nodeId, publicKey: home.publicKey, peerUrl: `ws://127.0.0.1:${await freePort()}` });
    expect(await dialler().open(home.nodeId, login)).toMatchObject({ ok: false, code: "UNAVAILABLE" });
    expect(await dialler().open("node_nobody", login)).toMatchObject({ ok: false, code: "UNAVAILABLE" });
  });
});
