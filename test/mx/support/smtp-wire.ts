/**
 * A raw SMTP client for wire-level tests: writes exact bytes, reads whole
 * (multi-line) replies, can upgrade to TLS mid-stream.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";

export interface SmtpReplyData {
  code: number;
  /** All lines of the reply, without CRLF. */
  lines: string[];
  text: string;
}

export class SmtpWire {
  private socket: Socket | TLSSocket;
  private buffer = "";
  private waiters: (() => void)[] = [];
  closed = false;
  greeting: SmtpReplyData | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("latin1");
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("error", () => undefined);
  }

  static async open(port: number): Promise<SmtpWire> {
    const socket = netConnect({ port, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    const wire = new SmtpWire(socket);
    wire.greeting = await wire.reply();
    return wire;
  }

  /** The next complete reply (waits for it). Rejects if the connection closes first. */
  async reply(timeoutMs = 15_000): Promise<SmtpReplyData> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.buffer.split("\r\n");
      for (let i = 0; i < lines.length - 1; i++) {
        if (/^\d{3} /.test(lines[i]) || /^\d{3}$/.test(lines[i])) {
          const replyLines = lines.slice(0, i + 1);
          this.buffer = lines.slice(i + 1).join("\r\n");
          return { code: Number(replyLines[i].slice(0, 3)), lines: replyLines, text: replyLines.join("\n") };
        }
      }
      if (this.closed) throw new Error(`connection closed; pending: ${JSON.stringify(this.buffer.slice(0, 200))}`);
      if (Date.now() > deadline) throw new Error("no reply in time");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async command(line: string): Promise<SmtpReplyData> {
    this.write(line + "\r\n");
    return this.reply();
  }

  /** Upgrades the socket after a 220 to STARTTLS; anything already buffered is dropped. */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    this.buffer = "";
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
