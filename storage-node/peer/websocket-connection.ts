/**
 * A byte stream over one WebSocket: the carrier of a proxied IMAP session
 * between a client-facing node and the mailbox's home node (DESIGN §2.1).
 *
 * Invariants:
 * - Bytes travel as binary frames only; a text frame inside the stream is a
 *   protocol error and destroys it (the login exchange before the stream
 *   starts is the only place for text frames, imap-proxy-protocol.ts).
 * - Back-pressure both ways: a write completes only when `ws` has handed the
 *   frame to its socket (so the Writable buffer fills and `write()` returns
 *   false when the peer reads slowly), and incoming frames pause the
 *   WebSocket's socket while the reader does not keep up.
 * - When the WebSocket closes (either side, or a peer that died), the
 *   readable side ends; ending the writable side closes the WebSocket.
 * - `setTimeout(ms)` behaves like net.Socket's: 'timeout' is emitted after
 *   `ms` without bytes in either direction (0 turns it off). Sessions on the
 *   home node rely on it for their idle limits.
 */
import { Duplex } from "node:stream";
import { WebSocket, type RawData } from "ws";

export class WebSocketConnection extends Duplex {
  /** The address the session is for (the client's IP, as the dialling node saw it). */
  readonly remoteAddress: string | undefined;
  private readonly ws: WebSocket;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(ws: WebSocket, remoteAddress?: string) {
    super({ allowHalfOpen: false });
    this.ws = ws;
    this.remoteAddress = remoteAddress;
    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        this.destroy(new Error("text frame inside a proxied session"));
        return;
      }
      this.touch();
      if (!this.push(toBuffer(data))) ws.pause();
    });
    ws.once("close", () => {
      this.push(null);
      // A write after the close can never complete.
      if (!this.writableFinished) this.destroy();
    });
    ws.on("error", (error) => this.destroy(error));
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
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(error ? 1011 : 1000, error ? "session failed" : "session ended");
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    callback(error);
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
