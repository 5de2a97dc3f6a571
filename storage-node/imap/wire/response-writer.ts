/**
 * Server output: response encoding (RFC 3501 §7, §9) and a buffered writer
 * with back-pressure.
 *
 * Invariants:
 * - A string goes out quoted only if every byte is allowed in a quoted string
 *   (no CR, LF, NUL; 8-bit only when UTF-8 is allowed); otherwise as a literal
 *   with its exact byte count, so any bytes round-trip.
 * - The writer never holds more than `highWater` bytes (plus one store chunk)
 *   before it waits for the sink to drain; message bodies are written chunk by
 *   chunk from the store.
 * - Output is encoded straight into one growing buffer (no per-token
 *   allocations) and handed to the sink in one write per flush; a buffer the
 *   sink may still hold is never written to again.
 * - Nothing is written after `close()`.
 */

export interface OutputSink {
  /** Returns false when the caller should wait for `drain` before writing more. */
  write(chunk: Buffer): boolean;
  drain(): Promise<void>;
}

export type WirePart = string | Buffer;

const CRLF = "\r\n";
/** First allocation of the output buffer; it doubles as needed (idle connections stay small). */
const INITIAL_BUFFER_BYTES = 4096;
/** Flushes up to this size are copied out so the output buffer can be reused. */
const SMALL_FLUSH_BYTES = 8192;

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
  /** Pending output, encoded in place; `null` until the first write after a hand-off. */
  private buffer: Buffer | null = null;
  private used = 0;
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

  /** Bytes written but not yet handed to the sink. */
  get pending(): number {
    return this.used;
  }

  write(...parts: WirePart[]): void {
    if (this.closed) return;
    for (const part of parts) {
      if (typeof part === "string") this.writeString(part);
      else this.writeBytes(part);
    }
  }

  /** Appends one string as UTF-8 (ASCII for all protocol syntax). */
  writeString(text: string): void {
    if (this.closed) return;
    // UTF-8 needs at most three bytes per UTF-16 code unit.
    const buffer = this.reserve(text.length * 3);
    this.used += buffer.write(text, this.used, "utf8");
  }

  /** Appends a string whose characters are bytes (protocol syntax, formatted ENVELOPE/BODYSTRUCTURE). */
  writeLatin1(text: string): void {
    if (this.closed) return;
    const buffer = this.reserve(text.length);
    this.used += buffer.write(text, this.used, "latin1");
  }

  writeBytes(bytes: Uint8Array): void {
    if (this.closed) return;
    const buffer = this.reserve(bytes.byteLength);
    buffer.set(bytes, this.used);
    this.used += bytes.byteLength;
  }

  /** A buffer with room for `bytes` more bytes after `used`. */
  private reserve(bytes: number): Buffer {
    const needed = this.used + bytes;
    const current = this.buffer;
    if (current !== null && needed <= current.length) return current;
    let size = current === null ? INITIAL_BUFFER_BYTES : current.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    if (current !== null && this.used > 0) current.copy(grown, 0, 0, this.used);
    this.buffer = grown;
    return grown;
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

  /** Flushes when more than `highWater` bytes are pending (synchronous no-op below it). */
  maybeFlush(): Promise<void> | undefined {
    return this.used >= this.highWater ? this.flush() : undefined;
  }

  async flush(): Promise<void> {
    const buffer = this.buffer;
    if (this.closed || buffer === null || this.used === 0) return;
    let data: Buffer;
    if (this.used <= SMALL_FLUSH_BYTES) {
      // Small responses are copied out (from Node's pool) so the buffer is reused.
      data = Buffer.from(buffer.subarray(0, this.used));
    } else {
      // The sink keeps a reference until the bytes are sent: hand the buffer over.
      data = buffer.subarray(0, this.used);
      this.buffer = null;
    }
    this.used = 0;
    this.bytesWritten += data.length;
    if (!this.sink.write(data)) await this.sink.drain();
  }

  /** Streams bytes (a literal's body) without buffering them all. */
  async writeChunks(chunks: AsyncIterable<Uint8Array>): Promise<number> {
    let total = 0;
    for await (const chunk of chunks) {
      total += chunk.byteLength;
      this.writeBytes(chunk);
      const flushed = this.maybeFlush();
      if (flushed) await flushed;
    }
    return total;
  }

  close(): void {
    this.closed = true;
    this.buffer = null;
    this.used = 0;
  }
}
