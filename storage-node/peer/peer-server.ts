/**
 * The accepting end of peer links: a WebSocket server other storage nodes
 * dial to relay mail to this node (DESIGN §1 "links to peer nodes", §3).
 *
 * Invariants:
 * - Nothing is read from a link before the dialler is authenticated: its
 *   handshake headers must be signed for *this* node (peerContext(nodeId)) by
 *   the key the edge holds for the node id it claims, within the clock skew,
 *   with a nonce this server has not accepted before (kept for twice the skew
 *   window, so a replay is refused early or late). Unknown node, bad
 *   signature, stale time and replay all get the same 401 and no frame.
 * - The 101 answer carries this node's signature over the dialler's nonce
 *   (peer-handshake.ts), so the dialler can refuse an impostor.
 * - At most PEER_LIMITS.maxConnectionsPerPeer links per peer node (counting
 *   handshakes in progress); one more is refused with 503. Frames larger than
 *   PEER_LIMITS.maxFrameBytes close the link (ws maxPayload, close 1009).
 *   More than PEER_LIMITS.maxPendingCalls requests in progress on one link are
 *   answered `busy` without running.
 * - Requests are validated against `PeerMethods` by RpcPeer before a handler
 *   runs; a handler's exception text never crosses the wire.
 * - A WebSocket to PEER_SESSION_PATH carries one proxied IMAP session
 *   (imap-proxy-acceptor.ts) after the same authentication; at most
 *   PEER_LIMITS.maxProxiedSessionsPerPeer of them per peer node (503 past
 *   it), counted apart from the RPC links; every other path is the RPC link.
 * - A link that has not answered a WebSocket ping within PEER_LIMITS.idleMs is
 *   terminated, so a peer lost without a FIN (network partition) does not
 *   hold one of its slots for ever.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { HANDSHAKE_MAX_SKEW_MS, readHandshakeHeaders, verifyHandshake } from "../../shared/tunnel/handshake.ts";
import { PeerMethods, type TunnelMethodName } from "../../shared/tunnel/messages.ts";
import { PEER_PROOF_HEADER, peerContext, signPeerAccept } from "../../shared/tunnel/peer-handshake.ts";
import { RpcError, RpcPeer, type RpcHandlers } from "../../shared/tunnel/rpc-peer.ts";
import { PEER_LIMITS } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { PeerDirectory } from "./peer-directory.ts";
import { PEER_SESSION_PATH } from "./imap-proxy-protocol.ts";

/** Takes one authenticated proxied-session socket from `peerId`. */
export type PeerSessionHandler = (ws: WebSocket, peerId: string) => void;

export interface PeerServerOptions {
  nodeId: string;
  nodeSecretKey: string;
  directory: PeerDirectory;
  logger: Logger;
  /** PEM key and certificate: serve wss:// instead of ws://. */
  tls?: { key: string; cert: string };
  /** Overrides of limits (tests of their edges). */
  limits?: { [K in "maxFrameBytes" | "maxPendingCalls" | "maxConnectionsPerPeer" | "maxProxiedSessionsPerPeer"]?: number };
}

type PeerMethodName = keyof typeof PeerMethods & TunnelMethodName;

export class PeerServer {
  private readonly options: PeerServerOptions;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly handlers: RpcHandlers = {};
  /** `${nodeId} ${nonce}` → handshake time, for single use. */
  private readonly nonces = new Map<string, number>();
  /** Links (and handshakes in progress) per peer node id. */
  private readonly perPeer = new Map<string, number>();
  /** Proxied sessions (and their handshakes in progress) per peer node id. */
  private readonly sessionsPerPeer = new Map<string, number>();
  private sessionHandler: PeerSessionHandler | null = null;
  /** Proofs to put into the 101 answer, by request. */
  private readonly proofs = new WeakMap<IncomingMessage, string>();
  private readonly limits: { maxFrameBytes: number; maxPendingCalls: number; maxConnectionsPerPeer: number; maxProxiedSessionsPerPeer: number };
  private readonly alive = new WeakMap<WebSocket, boolean>();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(options: PeerServerOptions) {
    this.options = options;
    this.limits = {
      maxFrameBytes: options.limits?.maxFrameBytes ?? PEER_LIMITS.maxFrameBytes,
      maxPendingCalls: options.limits?.maxPendingCalls ?? PEER_LIMITS.maxPendingCalls,
      maxConnectionsPerPeer: options.limits?.maxConnectionsPerPeer ?? PEER_LIMITS.maxConnectionsPerPeer,
      maxProxiedSessionsPerPeer: options.limits?.maxProxiedSessionsPerPeer ?? PEER_LIMITS.maxProxiedSessionsPerPeer,
    };
    this.server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }) : createHttpServer();
    this.server.on("request", (_request, response) => {
      response.writeHead(426, { "content-type": "text/plain" }).end("peer links take a WebSocket upgrade\n");
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrameBytes });
    this.wss.on("headers", (headers, request) => {
      const proof = this.proofs.get(request);
      if (proof) headers.push(`${PEER_PROOF_HEADER}: ${proof}`);
    });
    this.server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => undefined);
      this.upgrade(request, socket, head).catch(() => refuse(socket, 503));
    });
  }

  /** Serves `method` to every authenticated peer. */
  handle<M extends PeerMethodName>(method: M, handler: NonNullable<RpcHandlers[M]>): void {
    (this.handlers as Record<string, unknown>)[method] = handler;
  }

  /** Accepts proxied IMAP sessions (PEER_SESSION_PATH) from authenticated peers. */
  handleSessions(handler: PeerSessionHandler): void {
    this.sessionHandler = handler;
  }

  async listen(options: { host: string; port: number }): Promise<{ port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(options.port, options.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.heartbeat = setInterval(() => {
      for (const client of this.wss.clients) {
        if (this.alive.get(client) === false) {
          client.terminate();
          continue;
        }
        this.alive.set(client, false);
        client.ping();
      }
    }, PEER_LIMITS.idleMs);
    this.heartbeat.unref();
    const address = this.server.address();
    return { port: typeof address === "object" && address !== null ? address.port : options.port };
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const client of this.wss.clients) client.close(1001, "node shutting down");
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const client of this.wss.clients) client.terminate();
        resolve();
      }, 2_000);
      timer.unref();
      this.wss.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const handshake = readHandshakeHeaders((name) => {
      const value = request.headers[name];
      return typeof value === "string" ? value : null;
    });
    const pathname = (request.url ?? "/").split("?")[0];
    // The announced peer URL may carry a path prefix (a reverse proxy): sessions are its PEER_SESSION_PATH below it.
    const isSession = pathname.endsWith(PEER_SESSION_PATH);
    if (!handshake || handshake.nodeId === this.options.nodeId) return refuse(socket, 401);
    const peerId = handshake.nodeId;
    const counts = isSession ? this.sessionsPerPeer : this.perPeer;
    const open = counts.get(peerId) ?? 0;
    if (isSession && !this.sessionHandler) return refuse(socket, 503);
    if (open >= (isSession ? this.limits.maxProxiedSessionsPerPeer : this.limits.maxConnectionsPerPeer)) return refuse(socket, 503);
    counts.set(peerId, open + 1);
    let accepted = false;
    try {
      const peer = await this.options.directory.lookup(peerId);
      const now = Date.now();
      if (!peer || verifyHandshake(handshake, peer.publicKey, now, peerContext(this.options.nodeId)) !== "ok") return refuse(socket, 401);
      this.forgetOldNonces(now);
      const nonceKey = `${peerId} ${handshake.nonce}`;
      if (this.nonces.has(nonceKey)) return refuse(socket, 401);
      this.nonces.set(nonceKey, handshake.timestamp);
      if (socket.destroyed) return;
      this.proofs.set(request, signPeerAccept(this.options.nodeId, this.options.nodeSecretKey, peerId, handshake.nonce));
      this.wss.handleUpgrade(request, socket, head, (ws) => (isSession ? this.serveSession(ws, peerId) : this.serve(ws, peerId)));
      accepted = true;
    } finally {
      if (!accepted) release(counts, peerId);
    }
  }

  private serveSession(ws: WebSocket, peerId: string): void {
    this.alive.set(ws, true);
    ws.on("pong", () => this.alive.set(ws, true));
    ws.once("close", () => release(this.sessionsPerPeer, peerId));
    ws.on("error", () => undefined);
    if (!this.sessionHandler) return ws.close(1011, "no session handler");
    this.sessionHandler(ws, peerId);
  }

  private serve(ws: WebSocket, peerId: string): void {
    let inFlight = 0;
    const handlers: RpcHandlers = {};
    for (const [method, handler] of Object.entries(this.handlers) as [PeerMethodName, (params: unknown) => unknown][]) {
      (handlers as Record<string, unknown>)[method] = async (params: unknown) => {
        if (inFlight >= this.limits.maxPendingCalls) throw new RpcError("busy", "too many requests in progress on this link");
        inFlight++;
        try {
          return await handler(params);
        } finally {
          inFlight--;
        }
      };
    }
    const rpc = new RpcPeer({
      send: (text) => ws.send(text),
      idPrefix: "p",
      schemas: PeerMethods,
      handlers,
    });
    this.options.logger.debug({ peer: peerId }, "peer link accepted");
    this.alive.set(ws, true);
    ws.on("pong", () => this.alive.set(ws, true));
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        ws.close(1003, "text frames only");
        return;
      }
      rpc.receive(data.toString()).then(
        (valid) => {
          if (!valid) ws.close(1007, "invalid frame");
        },
        () => ws.close(1011, "frame handling failed"),
      );
    });
    ws.on("error", () => undefined);
    ws.once("close", () => {
      rpc.fail();
      release(this.perPeer, peerId);
    });
  }

  private forgetOldNonces(now: number): void {
    const horizon = now - 2 * HANDSHAKE_MAX_SKEW_MS;
    for (const [key, timestamp] of this.nonces) {
      if (timestamp < horizon) this.nonces.delete(key);
    }
  }
}

function release(counts: Map<string, number>, peerId: string): void {
  const open = (counts.get(peerId) ?? 1) - 1;
  if (open <= 0) counts.delete(peerId);
  else counts.set(peerId, open);
}

function refuse(socket: Duplex, status: 401 | 503): void {
  if (socket.destroyed) return;
  const text = status === 401 ? "Unauthorized" : "Service Unavailable";
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
