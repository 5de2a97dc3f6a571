/**
 * The node's end of the tunnel: dials the edge, authenticates with a fresh
 * signed handshake on every attempt, answers the edge's calls, relays pushes,
 * and reconnects for ever with jittered exponential backoff.
 *
 * Invariants:
 * - Every connection attempt signs a new handshake (new nonce, current time);
 *   nothing from an earlier attempt is reused.
 * - `call()` never throws and never hangs: while disconnected it answers
 *   `disconnected` at once; otherwise the RPC timeout applies.
 * - A heartbeat ping goes out every `heartbeatMs`; if no pong (or any frame)
 *   arrives within `heartbeatTimeoutMs`, the socket is torn down and redialled.
 * - `close()` stops reconnecting and resolves once the socket is closed.
 */
import { EventEmitter } from "node:events";
import { WebSocket } from "ws";
import { handshakeHeaders, signHandshake } from "../../shared/tunnel/handshake.ts";
import { EdgeToNodeMethods, HEARTBEAT_PING, HEARTBEAT_PONG, type PushEventData, type TunnelMethodName, type TunnelMethods } from "../../shared/tunnel/messages.ts";
import { RpcPeer, type RpcHandlers, type RpcResult } from "../../shared/tunnel/rpc-peer.ts";
import { TUNNEL_LIMITS } from "../limits.ts";
import type { Logger } from "../log.ts";

export interface TunnelClientOptions {
  edgeUrl: string;
  nodeId: string;
  nodeSecretKey: string;
  handlers: RpcHandlers;
  logger: Logger;
  onPush?: <E extends keyof PushEventData>(event: E, data: PushEventData[E]) => void;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  rpcTimeoutMs?: number;
}

export interface TunnelClientEvents {
  connected: [];
  disconnected: [];
}

export class TunnelClient extends EventEmitter<TunnelClientEvents> {
  private readonly options: TunnelClientOptions;
  private socket: WebSocket | null = null;
  private peer: RpcPeer | null = null;
  private stopped = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private lastFrameAt = 0;

  constructor(options: TunnelClientOptions) {
    super();
    this.options = options;
  }

  get isConnected(): boolean {
    return this.peer !== null;
  }

  start(): void {
    this.stopped = false;
    this.dial();
  }

  /** Resolves once connected (or rejects after `timeoutMs`). */
  waitConnected(timeoutMs = 30_000): Promise<void> {
    if (this.isConnected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("connected", done);
        reject(new Error("tunnel did not connect in time"));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once("connected", done);
    });
  }

  async call<M extends TunnelMethodName>(method: M, params: TunnelMethods[M]["params"]): Promise<RpcResult<TunnelMethods[M]["result"]>> {
    if (!this.peer) return { ok: false, error: { code: "disconnected", message: "tunnel is not connected" } };
    return this.peer.call(method, params, this.options.rpcTimeoutMs ?? TUNNEL_LIMITS.rpcTimeoutMs);
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      socket.close(1001, "node shutting down");
      setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2_000).unref();
    });
  }

  private dial(): void {
    if (this.stopped) return;
    const url = new URL("/v1/tunnel", this.options.edgeUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const handshake = signHandshake(this.options.nodeId, this.options.nodeSecretKey);
    const socket = new WebSocket(url, { headers: handshakeHeaders(handshake), handshakeTimeout: 10_000, maxPayload: TUNNEL_LIMITS.maxFrameBytes });
    this.socket = socket;

    socket.on("open", () => {
      this.attempt = 0;
      this.lastFrameAt = Date.now();
      this.peer = new RpcPeer({
        send: (text) => {
          if (socket.readyState !== WebSocket.OPEN) throw new Error("not open");
          socket.send(text);
        },
        idPrefix: "n",
        schemas: EdgeToNodeMethods,
        handlers: this.options.handlers,
        onPush: (frame) => this.options.onPush?.(frame.event as keyof PushEventData, frame.data as never),
      });
      this.startHeartbeat(socket);
      this.options.logger.info({ edge: url.origin }, "tunnel connected");
      this.emit("connected");
    });

    socket.on("message", (data, isBinary) => {
      this.lastFrameAt = Date.now();
      if (isBinary) return;
      const text = data.toString();
      if (text === HEARTBEAT_PONG) return;
      const peer = this.peer;
      if (!peer) return;
      peer.receive(text).then(
        (valid) => {
          if (!valid) this.options.logger.warn("tunnel: dropped an invalid frame");
        },
        () => this.options.logger.warn("tunnel: frame handling failed"),
      );
    });

    socket.on("unexpected-response", (_request, response) => {
      this.options.logger.warn({ status: response.statusCode }, "tunnel handshake refused by the edge");
      socket.terminate();
    });

    socket.on("error", (error) => {
      this.options.logger.debug({ err: error.message }, "tunnel socket error");
    });

    socket.on("close", () => {
      if (this.socket === socket) this.socket = null;
      this.stopHeartbeat();
      const wasConnected = this.peer !== null;
      this.peer?.fail();
      this.peer = null;
      if (wasConnected) {
        this.options.logger.info("tunnel disconnected");
        this.emit("disconnected");
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const base = this.options.backoffBaseMs ?? TUNNEL_LIMITS.backoffBaseMs;
    const max = this.options.backoffMaxMs ?? TUNNEL_LIMITS.backoffMaxMs;
    const ceiling = Math.min(max, base * 2 ** Math.min(this.attempt, 16));
    // Full jitter: many nodes reconnecting after an edge restart spread out.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.dial();
    }, delay);
  }

  private startHeartbeat(socket: WebSocket): void {
    this.stopHeartbeat();
    const every = this.options.heartbeatMs ?? TUNNEL_LIMITS.heartbeatMs;
    const timeout = this.options.heartbeatTimeoutMs ?? TUNNEL_LIMITS.heartbeatTimeoutMs;
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastFrameAt > every + timeout) {
        this.options.logger.warn("tunnel heartbeat lost; reconnecting");
        socket.terminate();
        return;
      }
      if (socket.readyState === WebSocket.OPEN) socket.send(HEARTBEAT_PING);
    }, every);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }
}
