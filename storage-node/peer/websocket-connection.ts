/**
 * A byte stream over one WebSocket: the carrier of a proxied IMAP session
 * between a client-facing node and the mailbox's home node (DESIGN §2.1).
 *
 * Invariants:
 * - IMAP bytes travel as binary frames only. A text frame inside the stream
 *   is a signal (imap-proxy-protocol.ts: `shutdown`, `compressed`), emitted
 *   as 'control'; any other text frame is a protocol error and destroys the
 *   stream (the login exchange before the stream starts is the only other
 *   place for text frames).
 * - Back-pressure both ways: a write completes only when `ws` has handed the
 *   frame to its socket (so the Writable buffer fills and `write()` returns
 *   false when the peer reads slowly), and incoming frames pause the
 *   WebSocket's socket while the reader does not keep up.
 * - When the WebSocket closes (either side, or a peer that died), the
 *   readable side ends after the bytes already received (a BYE the peer sent
 *   just before closing still reaches the reader); ending the writable side
 *   closes the WebSocket.
 * - With `keepaliveMs`, a ping goes out every third of it, and a link that
 *   carried no frame and no pong for `keepaliveMs` is terminated and the
 *   stream destroyed with an error: a silent peer is noticed within
 *   4/3 · keepaliveMs, not when TCP gives up.
 * - `setTimeout(ms)` behaves like net.Socket's: 'timeout' is emitted after
 *   `ms` without bytes in either direction (0 turns it off). Sessions on the
 *   home node rely on it for their idle limits.
 */
import { Duplex } from "node:stream";
import { WebSocket, type RawData } from "ws";
import { parseProxyControl, type ProxyControlData } from "./imap-proxy-protocol.ts";

export interface WebSocketConnectionOptions {
  /** The address the session is for (the client's IP, as the dialling node saw it). */
  remoteAddress?: string;
  /** Ping the peer and give up on a link silent this long; unset = no keepalive. */
  keepaliveMs?: number;
}

export class WebSocketConnection extends Duplex {
  readonly remoteAddress: string | undefined;
  /** True once the peer signalled that the rest of its stream is deflated (RFC 4978). */
  peerCompressed = false;
  private readonly ws: WebSocket;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private heardAt = Date.now();

  constructor(ws: WebSocket, options: WebSocketConnectionOptions = {}) {
    super({ allowHalfOpen: false });
    this.ws = ws;
    this.remoteAddress = options.remoteAddress;
    ws.on("message", (data: RawData, isBinary: boolean) => {
      this.heardAt = Date.now();
      if (!isBinary) return this.onControl(toBuffer(data).toString("utf8"));
      this.touch();
      if (!this.push(toBuffer(data))) ws.pause();
    });
    ws.on("pong", () => (this.heardAt = Date.now()));
    ws.once("close", () => {
      if (this.destroyed) return;
      this.push(null);
      // A write after the close can never complete; a write in progress fails through its callback.
      if (!this.writableEnded) this.end();
    });
    ws.on("error", (error) => this.destroy(error));
    if (options.keepaliveMs !== undefined && options.keepaliveMs > 0) this.startKeepalive(options.keepaliveMs);
  }

  /** Client-facing side: asks the home node to end the session with BYE (this node is shutting down). */
  requestShutdown(): void {
    this.sendControl({ type: "shutdown" });
  }

  /** Home side: the next bytes are deflated (RFC 4978); called before the first of them is written. */
  announceCompression(): void {
    this.sendControl({ type: "compressed" });
  }

  setTimeout(ms: number): this {
    this.timeoutMs = ms;
    this.touch();
    return this;
  }

  override _read(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) return callback(new Error("the peer link is closed"));
    this.touch();
    this.ws.send(chunk, { binary: true }, (error) => callback(error ?? null));
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, "session ended");
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(error ? 1011 : 1000, error ? "session failed" : "session ended");
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    callback(error);
  }

  private sendControl(frame: ProxyControlData): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private onControl(text: string): void {
    const frame = parseProxyControl(text);
    if (!frame) {
      this.destroy(new Error("unexpected text frame inside a proxied session"));
      return;
    }
    if (frame.type === "compressed") this.peerCompressed = true;
    this.emit("control", frame);
  }

  private startKeepalive(keepaliveMs: number): void {
    this.keepalive = setInterval(
      () => {
        if (Date.now() - this.heardAt < keepaliveMs) return this.ws.ping();
        // A silent peer cannot answer a close frame either: drop the link at once.
        this.ws.terminate();
        this.destroy(new Error("the peer stopped answering pings"));
      },
      Math.max(1, Math.floor(keepaliveMs / 3)),
    );
    this.keepalive.unref();
  }

  private touch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.timeoutMs <= 0 || this.destroyed) return;
    this.timer = setTimeout(() => this.emit("timeout"), this.timeoutMs);
    this.timer.unref();
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
