/**
 * Server output: response encoding (RFC 3501 §7, §9) and a buffered writer
 * with back-pressure.
 *
 * Invariants:
 * - A string goes out quoted only if every byte is allowed in a quoted string
 *   (no CR, LF, NUL; 8-bit only when UTF-8 is allowed); otherwise as a literal
 *   with its exact byte count, so any bytes round-trip.
 * - The writer never holds more than `highWater` bytes before it waits for the
 *   sink to drain; message bodies are written chunk by chunk from the store.
 * - Nothing is written after `close()`.
 */

export interface OutputSink {
  /** Returns false when the caller should wait for `drain` before writing more. */
  write(chunk: Buffer): boolean;
  drain(): Promise<void>;
}

export type WirePart = string | Buffer;

const CRLF = Buffer.from("\r\n");

/** IMAP string: quoted when possible, else a literal. `null` → NIL. */
export function encodeString(value: string | Buffer | null, options: { utf8?: boolean } = {}): Buffer {
  if (value === null) return Buffer.from("NIL");
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  let quotable = bytes.length <= 4096;
  let escapes = 0;
  for (let i = 0; quotable && i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === 0x00 || byte === 0x0d || byte === 0x0a) quotable = false;
    else if (byte >= 0x80 && !options.utf8) quotable = false;
    else if (byte === 0x22 || byte === 0x5c) escapes++;
  }
  if (!quotable) return Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`), bytes]);
  const out = Buffer.allocUnsafe(bytes.length + escapes + 2);
  let o = 0;
  out[o++] = 0x22;
  for (const byte of bytes) {
    if (byte === 0x22 || byte === 0x5c) out[o++] = 0x5c;
    out[o++] = byte;
  }
  out[o++] = 0x22;
  return out;
}

/** An atom when the value is a safe non-NIL atom, else a string. */
export function encodeAstring(value: string | Buffer, options: { utf8?: boolean } = {}): Buffer {
  const text = typeof value === "string" ? value : value.toString("latin1");
  if (/^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|~\]]+$/.test(text) && text.toUpperCase() !== "NIL") {
    return Buffer.from(text, "latin1");
  }
  return encodeString(value, options);
}

export class ResponseWriter {
  private parts: Buffer[] = [];
  private size = 0;
  private closed = false;
  /** Bytes written through this writer, for metrics and tests. */
  bytesWritten = 0;

  constructor(
    private sink: OutputSink,
    private readonly highWater: number,
  ) {}

  /** Replaces the sink (STARTTLS, COMPRESS): pending output must be flushed first. */
  setSink(sink: OutputSink): void {
    this.sink = sink;
  }

  write(...parts: WirePart[]): void {
    if (this.closed) return;
    for (const part of parts) {
      const bytes = typeof part === "string" ? Buffer.from(part, "utf8") : part;
      this.parts.push(bytes);
      this.size += bytes.length;
    }
  }

  /** One complete response line (CRLF appended). */
  line(...parts: WirePart[]): void {
    this.write(...parts, CRLF);
  }

  untagged(...parts: WirePart[]): void {
    this.line("* ", ...parts);
  }

  continuation(text: string): void {
    this.line("+ ", text);
  }

  tagged(tag: string, status: "OK" | "NO" | "BAD", code: string | null, text: string): void {
    this.line(tag, " ", status, " ", code ? `[${code}] ` : "", text);
  }

  /** Flushes when more than `highWater` bytes are pending. */
  async maybeFlush(): Promise<void> {
    if (this.size >= this.highWater) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.closed || this.size === 0) return;
    const data = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.bytesWritten += data.length;
    if (!this.sink.write(data)) await this.sink.drain();
  }

  /** Streams bytes (a literal's body) without buffering them all. */
  async writeChunks(chunks: AsyncIterable<Uint8Array>): Promise<number> {
    let total = 0;
    for await (const chunk of chunks) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      total += bytes.length;
      this.write(bytes);
      await this.maybeFlush();
    }
    return total;
  }

  close(): void {
    this.closed = true;
    this.parts = [];
    this.size = 0;
  }
}
