/**
 * Peer links between storage nodes, in this process: a real PeerServer and
 * PeerPool over real WebSockets on loopback with real Ed25519 keys. Only the
 * edge's node registry is a table here (the link is what is under test; the
 * two-process test in relay.test.ts uses the real edge).
 *
 * Checked: a relay call round trip; every forged dial (wrong key, unknown
 * node, replayed, stale, or signed for another node) is refused with 401 and
 * reaches no handler; an impostor answering on a peer's URL gets nothing; and
 * the limits (frame size, pending calls, links per peer, idle close) at their
 * edges.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { HANDSHAKE_MAX_SKEW_MS, generateNodeKeyPair, handshakeHeaders, signHandshake, type HandshakeData } from "../../shared/tunnel/handshake.ts";
import { TUNNEL_PROTOCOL_VERSION, type PeerNodeData, type RelayEntryData } from "../../shared/tunnel/messages.ts";
import { peerContext } from "../../shared/tunnel/peer-handshake.ts";
import { createLogger } from "../../storage-node/log.ts";
import { PeerDirectory } from "../../storage-node/peer/peer-directory.ts";
import { PeerPool } from "../../storage-node/peer/peer-pool.ts";
import { PeerServer, type PeerServerOptions } from "../../storage-node/peer/peer-server.ts";
import { ensureSelfSignedCertificate } from "../../storage-node/tls/self-signed.ts";
import { eventually } from "../support/api.ts";

const logger = createLogger("silent");

interface TestNode {
  nodeId: string;
  secretKey: string;
  publicKey: string;
}

function testNode(nodeId: string): TestNode {
  return { nodeId, ...generateNodeKeyPair() };
}

function entry(id: string, sealed = "c2VhbGVk"): RelayEntryData {
  return { id, mailboxId: "mbx_1", aliasId: "al_1", receivedAt: 1_700_000_000_000, size: 6, sealed };
}

describe("peer links", () => {
  const registry = new Map<string, PeerNodeData>();
  const directory = () => new PeerDirectory(async (nodeId) => registry.get(nodeId) ?? null, 0);
  const closers: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    registry.clear();
  });

  /** Node B accepting links; `received` collects what reached its handler. */
  async function acceptor(
    node: TestNode,
    options: { limits?: PeerServerOptions["limits"]; slow?: Promise<void>; registerAs?: TestNode; tls?: { key: string; cert: string } } = {},
  ) {
    const received: RelayEntryData[] = [];
    const server = new PeerServer({ nodeId: node.nodeId, nodeSecretKey: node.secretKey, directory: directory(), logger, limits: options.limits, tls: options.tls });
    server.handle("spool.relay", async (params) => {
      received.push(params);
      await options.slow;
      return { stored: true };
    });
    const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
    closers.push(() => server.close());
    const url = `${options.tls ? "wss" : "ws"}://127.0.0.1:${port}`;
    const registered = options.registerAs ?? node;
    registry.set(registered.nodeId, { nodeId: registered.nodeId, publicKey: registered.publicKey, peerUrl: url });
    return { server, url, received };
  }

  function dialler(node: TestNode, limits?: ConstructorParameters<typeof PeerPool>[0]["limits"], ca?: string) {
    registry.set(node.nodeId, { nodeId: node.nodeId, publicKey: node.publicKey, peerUrl: null });
    const pool = new PeerPool({ nodeId: node.nodeId, nodeSecretKey: node.secretKey, directory: directory(), logger, limits, ca });
    closers.push(() => pool.close());
    return pool;
  }

  /** Dials with hand-made handshake headers; resolves to the HTTP status (101 when accepted). */
  function rawDial(url: string, handshake: HandshakeData, maxPayload?: number): Promise<{ status: number; socket: WebSocket | null }> {
    return new Promise((resolve) => {
      const socket = new WebSocket(url, { headers: handshakeHeaders(handshake), maxPayload });
      socket.on("unexpected-response", (_request, response) => {
        socket.terminate();
        resolve({ status: response.statusCode ?? 0, socket: null });
      });
      socket.on("open", () => {
        closers.push(async () => socket.terminate());
        resolve({ status: 101, socket });
      });
      socket.on("error", () => resolve({ status: 0, socket: null }));
    });
  }

  it("relays an entry to the accepting node and returns its answer", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    const { received } = await acceptor(b);
    const pool = dialler(a);
    const result = await pool.call("node-b", "spool.relay", entry("d1.0"), 5_000);
    expect(result).toEqual({ ok: true, value: { stored: true } });
    expect(received).toEqual([entry("d1.0")]);
    // The link is reused for the next call.
    expect(await pool.call("node-b", "spool.relay", entry("d1.1"), 5_000)).toMatchObject({ ok: true });
    expect(pool.openLinks).toBe(1);
  });

  it("runs over TLS (wss://) and refuses a peer certificate it does not trust", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    const tls = await ensureSelfSignedCertificate(await mkdtemp(path.join(tmpdir(), "sealbox-peer-tls-")), "localhost");
    const { received } = await acceptor(b, { tls });
    const trusting = dialler(a, undefined, tls.cert);
    expect(await trusting.call("node-b", "spool.relay", entry("t1"), 5_000)).toEqual({ ok: true, value: { stored: true } });
    const untrusting = dialler(a);
    expect(await untrusting.call("node-b", "spool.relay", entry("t2"), 5_000)).toMatchObject({ ok: false, error: { code: "peer-unavailable" } });
    expect(received.map((r) => r.id)).toEqual(["t1"]);
  });

  it("refuses a dialler whose key is not the registered one", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    const { received, url } = await acceptor(b);
    registry.set("node-a", { nodeId: "node-a", publicKey: a.publicKey, peerUrl: null });
    const forger = generateNodeKeyPair();
    const forged = signHandshake("node-a", forger.secretKey, Date.now(), peerContext("node-b"));
    expect((await rawDial(url, forged)).status).toBe(401);
    const forgedPool = new PeerPool({ nodeId: "node-a", nodeSecretKey: forger.secretKey, directory: directory(), logger });
    closers.push(() => forgedPool.close());
    expect(await forgedPool.call("node-b", "spool.relay", entry("x"), 2_000)).toMatchObject({ ok: false, error: { code: "peer-unavailable" } });
    expect(received).toEqual([]);
  });

  it("refuses an unknown node id, a stale or future time, and a handshake meant for another node", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    const { received, url } = await acceptor(b);
    registry.set("node-a", { nodeId: "node-a", publicKey: a.publicKey, peerUrl: null });
    const stranger = testNode("node-x");
    expect((await rawDial(url, signHandshake("node-x", stranger.secretKey, Date.now(), peerContext("node-b")))).status).toBe(401);
    const now = Date.now();
    expect((await rawDial(url, signHandshake("node-a", a.secretKey, now - HANDSHAKE_MAX_SKEW_MS - 1_000, peerContext("node-b")))).status).toBe(401);
    expect((await rawDial(url, signHandshake("node-a", a.secretKey, now + HANDSHAKE_MAX_SKEW_MS + 1_000, peerContext("node-b")))).status).toBe(401);
    expect((await rawDial(url, signHandshake("node-a", a.secretKey, now, peerContext("node-c")))).status).toBe(401);
    // The tunnel's handshake (signed for the edge) does not open a peer link either.
    expect((await rawDial(url, signHandshake("node-a", a.secretKey, now))).status).toBe(401);
    // The same node with a good handshake is let in: the refusals above were about the handshake.
    expect((await rawDial(url, signHandshake("node-a", a.secretKey, Date.now(), peerContext("node-b")))).status).toBe(101);
    expect(received).toEqual([]);
  });

  it("refuses a replayed handshake", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    const { url } = await acceptor(b);
    registry.set("node-a", { nodeId: "node-a", publicKey: a.publicKey, peerUrl: null });
    const handshake = signHandshake("node-a", a.secretKey, Date.now(), peerContext("node-b"));
    const first = await rawDial(url, handshake);
    expect(first.status).toBe(101);
    first.socket?.terminate();
    expect((await rawDial(url, handshake)).status).toBe(401);
  });

  it("hands nothing to an impostor answering on the peer's address", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    const impostor = testNode("node-b");
    // The impostor runs a peer server under B's id with its own key, at the URL the edge gives for B.
    const { received } = await acceptor(impostor, { registerAs: b });
    const pool = dialler(a);
    // The impostor knows A's public key (it is public) and lets A in; A still refuses it.
    const result = await pool.call("node-b", "spool.relay", entry("secret.0"), 2_000);
    expect(result).toMatchObject({ ok: false, error: { code: "peer-unverified" } });
    expect(received).toEqual([]);
  });

  it("accepts a frame of exactly maxFrameBytes and closes the link on one byte more", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    const maxFrameBytes = 4_096;
    const { url, received } = await acceptor(b, { limits: { maxFrameBytes } });
    registry.set("node-a", { nodeId: "node-a", publicKey: a.publicKey, peerUrl: null });
    const frameOf = (bytes: number, id: string) => {
      const base = (pad: string) => JSON.stringify({ v: TUNNEL_PROTOCOL_VERSION, type: "req", id, method: "spool.relay", params: entry(id, pad) });
      const padLength = bytes - base("").length;
      return base("A".repeat(padLength));
    };
    const { socket } = await rawDial(url, signHandshake("node-a", a.secretKey, Date.now(), peerContext("node-b")));
    const answers: string[] = [];
    socket!.on("message", (data) => answers.push(data.toString()));
    const exact = frameOf(maxFrameBytes, "ok1");
    expect(Buffer.byteLength(exact)).toBe(maxFrameBytes);
    socket!.send(exact);
    await eventually(() => answers.length === 1, 5_000, "the answer");
    expect(JSON.parse(answers[0])).toMatchObject({ id: "ok1", ok: true });
    const closed = new Promise<number>((resolve) => socket!.once("close", (code) => resolve(code)));
    socket!.send(frameOf(maxFrameBytes + 1, "big1"));
    expect(await closed).toBe(1009);
    expect(received.map((r) => r.id)).toEqual(["ok1"]);
  });

  it("answers busy past maxPendingCalls, on the dialling and on the accepting side", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const { received } = await acceptor(b, { slow, limits: { maxPendingCalls: 3 } });
    const tight = dialler(a, { maxPendingCalls: 2 });
    const first = [tight.call("node-b", "spool.relay", entry("p1"), 10_000), tight.call("node-b", "spool.relay", entry("p2"), 10_000)];
    await eventually(() => received.length === 2, 5_000, "two calls in progress");
    expect(await tight.call("node-b", "spool.relay", entry("p3"), 10_000)).toMatchObject({ ok: false, error: { code: "busy" } });
    release();
    expect((await Promise.all(first)).every((r) => r.ok)).toBe(true);

    let releaseAgain!: () => void;
    const slowAgain = new Promise<void>((resolve) => (releaseAgain = resolve));
    const c = testNode("node-c");
    const { received: atC } = await acceptor(c, { slow: slowAgain, limits: { maxPendingCalls: 3 } });
    const loose = dialler(a, { maxPendingCalls: 10 });
    const three = [1, 2, 3].map((n) => loose.call("node-c", "spool.relay", entry(`q${n}`), 10_000));
    await eventually(() => atC.length === 3, 5_000, "three calls in progress");
    expect(await loose.call("node-c", "spool.relay", entry("q4"), 10_000)).toMatchObject({ ok: false, error: { code: "busy" } });
    releaseAgain();
    expect((await Promise.all(three)).every((r) => r.ok)).toBe(true);
    expect(atC.map((r) => r.id)).toEqual(["q1", "q2", "q3"]);
  });

  it("accepts maxConnectionsPerPeer links from one node and refuses one more", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    const { url } = await acceptor(b, { limits: { maxConnectionsPerPeer: 2 } });
    registry.set("node-a", { nodeId: "node-a", publicKey: a.publicKey, peerUrl: null });
    const dial = () => rawDial(url, signHandshake("node-a", a.secretKey, Date.now(), peerContext("node-b")));
    const one = await dial();
    const two = await dial();
    expect([one.status, two.status]).toEqual([101, 101]);
    expect((await dial()).status).toBe(503);
    const closed = new Promise<void>((resolve) => one.socket!.once("close", () => resolve()));
    one.socket!.close();
    await closed;
    await eventually(async () => {
      const again = await dial();
      again.socket?.terminate();
      return again.status === 101;
    }, 5_000, "a slot to free up");
  });

  it("closes an idle link and dials again on the next call", async () => {
    const a = testNode("node-a");
    const b = testNode("node-b");
    await acceptor(b);
    const pool = dialler(a, { idleMs: 50 });
    expect(await pool.call("node-b", "spool.relay", entry("i1"), 5_000)).toMatchObject({ ok: true });
    await eventually(() => pool.openLinks === 0, 5_000, "the idle link to close");
    expect(await pool.call("node-b", "spool.relay", entry("i2"), 5_000)).toMatchObject({ ok: true });
  });

  it("backs off after a failed dial instead of dialling on every call", async () => {
    const a = testNode("node-a");
    registry.set("node-b", { nodeId: "node-b", publicKey: generateNodeKeyPair().publicKey, peerUrl: "ws://127.0.0.1:9" });
    const pool = dialler(a, { backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    expect(await pool.call("node-b", "spool.relay", entry("b1"), 2_000)).toMatchObject({ ok: false, error: { code: "peer-unavailable", message: "the peer cannot be reached" } });
    expect(await pool.call("node-b", "spool.relay", entry("b2"), 2_000)).toMatchObject({ ok: false, error: { code: "peer-unavailable", message: "the peer was unreachable a moment ago" } });
    expect(await pool.call("node-z", "spool.relay", entry("b3"), 2_000)).toMatchObject({ ok: false, error: { code: "peer-unknown" } });
  });
});
