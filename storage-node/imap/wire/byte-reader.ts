/**
 * The IMAP receiver's byte source: bytes pushed in from the socket, pulled out
 * by the command parser as lines and literals.
 *
 * Invariants:
 * - Never holds more than one line (capped by the caller's `maxBytes`) plus
 *   whatever the socket delivered ahead; `onPressure` asks the socket to pause
 *   when more than `highWater` bytes wait, and to resume once they are read.
 * - A line that exceeds the cap is skipped up to its LF, never buffered whole;
 *   the caller gets its last bytes so it can see a trailing literal marker.
 * - Literals are handed out as chunks exactly as received (`readChunks`), so a
 *   50 MB APPEND never exists as one buffer.
 * - `discardBuffered` drops everything received but not yet read: STARTTLS
 *   calls it so nothing pipelined in plaintext is read as if it came over TLS.
 */

export class ConnectionClosedError extends Error {
  constructor() {
    super("connection closed");
    this.name = "ConnectionClosedError";
  }
}

export type LineData = { line: Buffer; tooLong: false } | { line: Buffer; tooLong: true };

const TAIL_BYTES = 32;

export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private waiter: (() => void) | null = null;
  private paused = false;

  constructor(
    private readonly highWater: number,
    private readonly onPressure: (pause: boolean) => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    if (this.ended || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (!this.paused && this.buffered > this.highWater) {
      this.paused = true;
      this.onPressure(true);
    }
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  get isEnded(): boolean {
    return this.ended && this.buffered === 0;
  }

  /** Bytes received and not yet read. */
  get pending(): number {
    return this.buffered;
  }

  /** True when a whole line (a pipelined command) is already buffered. */
  get hasLine(): boolean {
    return this.buffered > 0 && this.indexOfLf(0) >= 0;
  }

  /** Drops everything received but not yet read; returns how many bytes were dropped. */
  discardBuffered(): number {
    const dropped = this.buffered;
    this.chunks = [];
    this.buffered = 0;
    this.relieve();
    return dropped;
  }

  /** Takes everything received but not yet read (a connection handed to a proxy keeps it). */
  takeBuffered(): Buffer {
    const taken = Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    this.relieve();
    return taken;
  }

  /** Reads one line without its CRLF (a bare LF is accepted). Null at end of stream. */
  async readLine(maxBytes: number): Promise<LineData | null> {
    let scanned = 0; // bytes of the current line already searched (in chunks[0..])
    let skipped = 0; // bytes dropped because the line is too long
    let tail: Buffer = Buffer.alloc(0);
    for (;;) {
      const lf = this.indexOfLf(scanned);
      if (lf >= 0) {
        const raw = this.take(lf + 1);
        let end = raw.length - 1;
        if (end > 0 && raw[end - 1] === 0x0d) end--;
        const line = raw.subarray(0, end);
        if (skipped > 0 || line.length > maxBytes) {
          const combined = Buffer.concat([tail, line]);
          return { line: combined.subarray(Math.max(0, combined.length - TAIL_BYTES)), tooLong: true };
        }
        return { line, tooLong: false };
      }
      scanned = this.buffered;
      if (this.buffered > maxBytes) {
        // Keep only a short tail of the overlong line; drop the rest as it comes.
        const all = this.take(this.buffered);
        skipped += all.length;
        tail = Buffer.from(all.subarray(Math.max(0, all.length - TAIL_BYTES)));
        scanned = 0;
      }
      if (this.ended) {
        if (this.buffered > 0) this.take(this.buffered);
        return null;
      }
      await this.wait();
    }
  }

  /** Reads exactly `size` bytes into one buffer (for small literals). */
  async readExact(size: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.readChunks(size)) parts.push(chunk);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Yields exactly `size` bytes as they arrive. Throws if the stream ends first. */
  async *readChunks(size: number): AsyncGenerator<Buffer> {
    let remaining = size;
    while (remaining > 0) {
      if (this.buffered === 0) {
        if (this.ended) throw new ConnectionClosedError();
        await this.wait();
        continue;
      }
      const chunk = this.takeUpTo(remaining);
      remaining -= chunk.length;
      yield chunk;
    }
  }

  /** Waits for and returns up to `max` bytes (at least one). Throws at end of stream. */
  async readChunk(max: number): Promise<Buffer> {
    while (this.buffered === 0) {
      if (this.ended) throw new ConnectionClosedError();
      await this.wait();
    }
    return this.takeUpTo(max);
  }

  /** Reads and drops `size` bytes. */
  async discard(size: number): Promise<void> {
    for await (const _chunk of this.readChunks(size)) {
      // dropped
    }
  }

  private indexOfLf(from: number): number {
    let offset = 0;
    for (const chunk of this.chunks) {
      if (from < offset + chunk.length) {
        const index = chunk.indexOf(0x0a, Math.max(0, from - offset));
        if (index >= 0) return offset + index;
      }
      offset += chunk.length;
    }
    return -1;
  }

  private take(size: number): Buffer {
    if (size === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    if (first.length === size) {
      this.chunks.shift();
      this.buffered -= size;
      this.relieve();
      return first;
    }
    const parts: Buffer[] = [];
    let need = size;
    while (need > 0) {
      const part = this.takeUpTo(need);
      parts.push(part);
      need -= part.length;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  private takeUpTo(size: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length <= size) {
      out = first;
      this.chunks.shift();
    } else {
      out = first.subarray(0, size);
      this.chunks[0] = first.subarray(size);
    }
    this.buffered -= out.length;
    this.relieve();
    return out;
  }

  private relieve(): void {
    if (this.paused && this.buffered <= this.highWater / 2) {
      this.paused = false;
      this.onPressure(false);
    }
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}
