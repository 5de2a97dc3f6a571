/**
 * The dialling end of peer links: at most one open link per peer node,
 * dialled on demand, reused by every call, closed when idle.
 *
 * Invariants:
 * - Every dial signs a fresh handshake for the node it means to reach
 *   (peerContext(target)); the link is used only after the 101 answer carried
 *   that node's valid signature over this dial's nonce, checked against the
 *   key the edge gave for it. Without it the socket is torn down before any
 *   frame is sent (`peer-unverified`).
 * - `call()` never throws and never hangs: it resolves to a result value —
 *   the answer, the remote error, `timeout`, `disconnected`, `peer-unknown`
 *   (no such node or no announced URL), `peer-unavailable` (dial failed, or
 *   still backing off after a failed dial), or `busy` when
 *   PEER_LIMITS.maxPendingCalls calls already wait on the link.
 * - After a failed dial the peer is not dialled again before a jittered,
 *   doubling backoff (PEER_LIMITS.backoffBaseMs … backoffMaxMs) has passed;
 *   a successful dial resets it.
 * - A call that times out tears the link down (it may be half dead); the next
 *   call dials afresh.
 */
import { WebSocket } from "ws";
import { handshakeHeaders, signHandshake } from "../../shared/tunnel/handshake.ts";
import type { TunnelMethodName, TunnelMethods } from "../../shared/tunnel/messages.ts";
import { PEER_PROOF_HEADER, peerContext, verifyPeerAccept } from "../../shared/tunnel/peer-handshake.ts";
import { RpcPeer, type RpcResult } from "../../shared/tunnel/rpc-peer.ts";
import { PEER_LIMITS } from "../limits.ts";
import type { Logger } from "../log.ts";
import { PeerUnavailableError, type PeerDirectory } from "./peer-directory.ts";

export interface PeerPoolOptions {
  nodeId: string;
  nodeSecretKey: string;
  directory: PeerDirectory;
  logger: Logger;
  /** Extra trusted CA (PEM) for wss:// peers. */
  ca?: string;
  limits?: { [K in "maxFrameBytes" | "maxPendingCalls" | "idleMs" | "backoffBaseMs" | "backoffMaxMs" | "handshakeTimeoutMs"]?: number };
}

interface Link {
  socket: WebSocket;
  rpc: RpcPeer;
  idleTimer: NodeJS.Timeout | null;
}

interface Backoff {
  failures: number;
  until: number;
}

type Failure = { ok: false; error: { code: string; message: string } };

function failure(code: string, message: string): Failure {
  return { ok: false, error: { code, message } };
}

export class PeerPool {
  private readonly options: PeerPoolOptions;
  private readonly links = new Map<string, Link>();
  private readonly dialling = new Map<string, Promise<Link | Failure>>();
  private readonly backoff = new Map<string, Backoff>();
  private readonly limits: { [K in keyof NonNullable<PeerPoolOptions["limits"]>]-?: number };
  private closed = false;

  constructor(options: PeerPoolOptions) {
    this.options = options;
    this.limits = {
      maxFrameBytes: options.limits?.maxFrameBytes ?? PEER_LIMITS.maxFrameBytes,
      maxPendingCalls: options.limits?.maxPendingCalls ?? PEER_LIMITS.maxPendingCalls,
      idleMs: options.limits?.idleMs ?? PEER_LIMITS.idleMs,
      backoffBaseMs: options.limits?.backoffBaseMs ?? PEER_LIMITS.backoffBaseMs,
      backoffMaxMs: options.limits?.backoffMaxMs ?? PEER_LIMITS.backoffMaxMs,
      handshakeTimeoutMs: options.limits?.handshakeTimeoutMs ?? PEER_LIMITS.handshakeTimeoutMs,
    };
  }

  /** Open links (for tests and status). */
  get openLinks(): number {
    return this.links.size;
  }

  async call<M extends TunnelMethodName>(nodeId: string, method: M, params: TunnelMethods[M]["params"], timeoutMs: number): Promise<RpcResult<TunnelMethods[M]["result"]>> {
    if (this.closed) return failure("disconnected", "peer links are closed");
    const link = await this.link(nodeId);
    if ("ok" in link) return link;
    if (link.rpc.pendingCount >= this.limits.maxPendingCalls) return failure("busy", "too many calls waiting on this peer link");
    if (link.idleTimer) clearTimeout(link.idleTimer);
    link.idleTimer = null;
    const result = await link.rpc.call(method, params, timeoutMs);
    if (!result.ok && result.error.code === "timeout") link.socket.terminate();
    else this.armIdle(nodeId, link);
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    const sockets = [...this.links.values()].map((link) => link.socket);
    for (const link of this.links.values()) if (link.idleTimer) clearTimeout(link.idleTimer);
    this.links.clear();
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === WebSocket.CLOSED) return resolve();
            socket.once("close", () => resolve());
            socket.close(1001, "node shutting down");
            setTimeout(() => {
              socket.terminate();
              resolve();
            }, 1_000).unref();
          }),
      ),
    );
  }

  /** Closes the link after `idleMs` without calls (restarted by every call). */
  private armIdle(nodeId: string, link: Link): void {
    if (link.rpc.pendingCount > 0 || this.links.get(nodeId) !== link) return;
    if (link.idleTimer) clearTimeout(link.idleTimer);
    link.idleTimer = setTimeout(() => {
      if (this.links.get(nodeId) === link && link.rpc.pendingCount === 0) link.socket.close(1000, "idle");
    }, this.limits.idleMs);
    link.idleTimer.unref();
  }

  private async link(nodeId: string): Promise<Link | Failure> {
    const open = this.links.get(nodeId);
    if (open && open.socket.readyState === WebSocket.OPEN) return open;
    const running = this.dialling.get(nodeId);
    if (running) return running;
    const backoff = this.backoff.get(nodeId);
    if (backoff && backoff.until > Date.now()) return failure("peer-unavailable", "the peer was unreachable a moment ago");
    const dial = this.dial(nodeId).finally(() => this.dialling.delete(nodeId));
    this.dialling.set(nodeId, dial);
    const result = await dial;
    if ("ok" in result) {
      if (result.error.code !== "peer-unknown") {
        const failures = (backoff?.failures ?? 0) + 1;
        const ceiling = Math.min(this.limits.backoffMaxMs, this.limits.backoffBaseMs * 2 ** Math.min(failures - 1, 16));
        this.backoff.set(nodeId, { failures, until: Date.now() + Math.round(ceiling / 2 + (Math.random() * ceiling) / 2) });
      }
    } else {
      this.backoff.delete(nodeId);
    }
    return result;
  }

  private async dial(nodeId: string): Promise<Link | Failure> {
    let peer;
    try {
      peer = await this.options.directory.lookup(nodeId);
    } catch (error) {
      if (error instanceof PeerUnavailableError) return failure("peer-unavailable", "the edge cannot be asked where the peer is");
      return failure("peer-unavailable", "peer look-up failed");
    }
    if (!peer || !peer.peerUrl) return failure("peer-unknown", "the peer has no announced address");
    const { publicKey, peerUrl } = peer;
    const handshake = signHandshake(this.options.nodeId, this.options.nodeSecretKey, Date.now(), peerContext(nodeId));
    return new Promise<Link | Failure>((resolve) => {
      let settled = false;
      let verified = false;
      const socket = new WebSocket(peerUrl, {
        headers: handshakeHeaders(handshake),
        handshakeTimeout: this.limits.handshakeTimeoutMs,
        maxPayload: this.limits.maxFrameBytes,
        perMessageDeflate: false,
        ca: this.options.ca,
      });
      const settle = (value: Link | Failure) => {
        if (settled) return;
        settled = true;
        resolve(value);
      };
      socket.on("upgrade", (response) => {
        const proof = response.headers[PEER_PROOF_HEADER];
        verified = typeof proof === "string" && verifyPeerAccept(proof, nodeId, publicKey, this.options.nodeId, handshake.nonce);
        if (!verified) {
          this.options.logger.warn({ peer: nodeId }, "peer link refused: the node did not prove its identity");
          this.options.directory.forget(nodeId);
          socket.terminate();
          settle(failure("peer-unverified", "the peer did not prove its identity"));
        }
      });
      socket.on("open", () => {
        if (!verified) {
          socket.terminate();
          return settle(failure("peer-unverified", "the peer did not prove its identity"));
        }
        const rpc = new RpcPeer({
          send: (text) => {
            if (socket.readyState !== WebSocket.OPEN) throw new Error("not open");
            socket.send(text);
          },
          idPrefix: "d",
          schemas: {},
          handlers: {},
        });
        const link: Link = { socket, rpc, idleTimer: null };
        this.links.set(nodeId, link);
        this.options.logger.debug({ peer: nodeId }, "peer link open");
        settle(link);
      });
      socket.on("message", (data, isBinary) => {
        const link = this.links.get(nodeId);
        if (isBinary || !link || link.socket !== socket) return;
        link.rpc.receive(data.toString()).then(
          (valid) => {
            if (!valid) socket.close(1007, "invalid frame");
          },
          () => socket.terminate(),
        );
      });
      socket.on("unexpected-response", (_request, response) => {
        this.options.logger.warn({ peer: nodeId, status: response.statusCode }, "peer link refused by the peer");
        socket.terminate();
        settle(failure("peer-unavailable", "the peer refused the link"));
      });
      socket.on("error", (error) => {
        this.options.logger.debug({ peer: nodeId, err: error.message }, "peer link error");
        settle(failure("peer-unavailable", "the peer cannot be reached"));
      });
      socket.on("close", () => {
        const link = this.links.get(nodeId);
        if (link && link.socket === socket) {
          if (link.idleTimer) clearTimeout(link.idleTimer);
          this.links.delete(nodeId);
          link.rpc.fail("disconnected", "peer link closed");
        }
        settle(failure("peer-unavailable", "the peer link closed"));
      });
    });
  }
}
