/**
 * A recursive-descent reader over one IMAP command: the current line plus any
 * literals that continue it (RFC 3501 §4.3, RFC 7888 LITERAL+, RFC 3516 literal8).
 *
 * Invariants:
 * - Every literal size is checked against the limit for its purpose *before*
 *   the `+` continuation is sent (synchronizing) or any of its bytes are read
 *   (non-synchronizing); a refused literal ends the command with the error the
 *   caller chose.
 * - The bytes of one command (lines plus buffered literals) never exceed
 *   `maxCommandBytes`; streamed literals (APPEND messages) count against their
 *   own limit instead and are never buffered.
 * - Quoted strings refuse NUL, CR and LF; 8-bit bytes are kept as-is (UTF-8
 *   under UTF8=ACCEPT, RFC 6855 §3).
 * - Handlers never see raw tokens: they call typed readers (`atom`, `astring`,
 *   `literal`, `sequenceSet`, …) that throw `ParseError` (→ tagged BAD).
 */

import { ByteReader } from "./byte-reader.ts";

export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ParseError";
  }
}

/** A refusal decided before a literal is accepted: the command ends with this status. */
export class LiteralRefusedError extends Error {
  constructor(
    readonly status: "NO" | "BAD",
    readonly code: string | null,
    message: string,
    /** For a non-synchronizing literal: the bytes are on their way and must be skipped. */
    readonly literal: LiteralMarker,
  ) {
    super(message);
    this.name = "LiteralRefusedError";
  }
}

export interface LiteralMarker {
  size: number;
  /** False for `{N+}` (LITERAL+): the client sends the bytes without waiting. */
  sync: boolean;
  /** `~{N}` literal8 (RFC 3516): may contain NUL. */
  binary: boolean;
}

export interface CursorHost {
  readonly maxLineBytes: number;
  readonly maxCommandBytes: number;
  /** Writes and flushes `+ …` before a synchronizing literal is read. */
  sendContinuation(): Promise<void>;
  /** True when the client may use `{N+}` for this size (LITERAL+ or LITERAL- with N ≤ 4096). */
  acceptsNonSync(size: number): boolean;
}

export interface LiteralLimit {
  maxBytes: number;
  /** Response for a literal over maxBytes (e.g. NO [TOOBIG] for APPEND, RFC 7889). */
  tooBig?: { status: "NO" | "BAD"; code: string | null; message: string };
}

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** RFC 3501 ATOM-CHAR: any CHAR except atom-specials. */
function isAtomChar(byte: number): boolean {
  if (byte <= 0x1f || byte >= 0x7f) return false;
  switch (byte) {
    case 0x28: // (
    case 0x29: // )
    case 0x7b: // {
    case SP:
    case 0x25: // %
    case 0x2a: // *
    case DQUOTE:
    case BACKSLASH:
    case 0x5d: // ]
      return false;
    default:
      return true;
  }
}

export type SequenceNumber = number | "*";
export interface SequenceRange {
  start: SequenceNumber;
  end: SequenceNumber;
}
/** A parsed sequence set; `saved` is RFC 5182's `$` (the last SEARCH result). */
export type SequenceSet = { saved: false; ranges: SequenceRange[] } | { saved: true; ranges: [] };

/** RFC 3501 §2.3.2 system flags, lower-case (\\Recent is accepted and then ignored by the commands). */
const MESSAGE_SYSTEM_FLAGS = new Set(["\\answered", "\\flagged", "\\deleted", "\\seen", "\\draft", "\\recent"]);

export class CommandCursor {
  private line: Buffer;
  private pos = 0;
  private commandBytes: number;

  constructor(
    line: Buffer,
    private readonly reader: ByteReader,
    private readonly host: CursorHost,
  ) {
    this.line = line;
    this.commandBytes = line.length;
  }

  get position(): number {
    return this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.line.length;
  }

  peek(): number {
    return this.pos < this.line.length ? this.line[this.pos] : -1;
  }

  peekChar(char: string): boolean {
    return this.peek() === char.charCodeAt(0);
  }

  /** Consumes `char` if it is next. */
  take(char: string): boolean {
    if (this.peekChar(char)) {
      this.pos++;
      return true;
    }
    return false;
  }

  expect(char: string, what = `"${char}"`): void {
    if (!this.take(char)) throw new ParseError(`Expected ${what}`);
  }

  sp(): void {
    this.expect(" ", "a space");
  }

  /** The command must end here. */
  end(): void {
    if (!this.atEnd()) throw new ParseError("Unexpected characters at end of command");
  }

  /** The next `count` bytes of the line as text, without consuming them. */
  lookahead(count: number): string {
    return this.line.toString("latin1", this.pos, Math.min(this.line.length, this.pos + count));
  }

  /** The rest of the current line (e.g. the SASL initial response). */
  rest(): string {
    const text = this.line.subarray(this.pos).toString("latin1");
    this.pos = this.line.length;
    return text;
  }

  /** ATOM (RFC 3501 §9). `extra` adds characters allowed here (e.g. "]" for ASTRING-CHAR). */
  atom(what = "an atom", extra = ""): string {
    const start = this.pos;
    while (this.pos < this.line.length) {
      const byte = this.line[this.pos];
      if (isAtomChar(byte) || (extra.length > 0 && extra.includes(String.fromCharCode(byte)))) this.pos++;
      else break;
    }
    if (this.pos === start) throw new ParseError(`Expected ${what}`);
    return this.line.toString("latin1", start, this.pos);
  }

  /** The longest run of bytes accepted by `accept` (at least one). */
  span(accept: (byte: number) => boolean, what: string): string {
    const start = this.pos;
    while (this.pos < this.line.length && accept(this.line[this.pos])) this.pos++;
    if (this.pos === start) throw new ParseError(`Expected ${what}`);
    return this.line.toString("latin1", start, this.pos);
  }

  /** An atom compared case-insensitively, returned upper-case. */
  keyword(what = "a keyword"): string {
    return this.atom(what).toUpperCase();
  }

  /** A tag: ASTRING-CHAR except "+" (RFC 3501 §9). */
  tag(): string {
    const tag = this.atom("a tag", "]");
    if (tag.includes("+")) throw new ParseError("Invalid tag");
    return tag;
  }

  number(what = "a number"): number {
    const start = this.pos;
    while (this.pos < this.line.length && this.line[this.pos] >= 0x30 && this.line[this.pos] <= 0x39) this.pos++;
    if (this.pos === start) throw new ParseError(`Expected ${what}`);
    const text = this.line.toString("latin1", start, this.pos);
    if (text.length > 20) throw new ParseError(`${what} out of range`);
    const value = Number(text);
    if (!Number.isSafeInteger(value)) throw new ParseError(`${what} out of range`);
    return value;
  }

  /** nz-number limited to 32 bits (RFC 3501 §9 number: 0 ≤ n < 4,294,967,296). */
  number32(what = "a number", nonZero = false): number {
    const value = this.number(what);
    if (value > 0xffffffff || (nonZero && value === 0)) throw new ParseError(`${what} out of range`);
    return value;
  }

  /** A literal marker `{N}`, `{N+}`, `~{N}` starting here and ending the line, if any. */
  literalMarker(): LiteralMarker | null {
    let i = this.pos;
    let binary = false;
    if (this.line[i] === 0x7e) {
      binary = true;
      i++;
    }
    if (this.line[i] !== 0x7b) return null;
    const close = this.line.indexOf(0x7d, i);
    if (close !== this.line.length - 1) return null;
    const match = /^\{(\d{1,20})(\+?)\}$/.exec(this.line.toString("latin1", i, close + 1));
    if (!match) return null;
    const size = Number(match[1]);
    if (!Number.isSafeInteger(size)) return null;
    return { size, sync: match[2] !== "+", binary };
  }

  /** Reads a string (quoted or literal), buffered. */
  async string(limit: LiteralLimit, what = "a string"): Promise<Buffer> {
    if (this.peek() === DQUOTE) return this.quoted();
    const marker = this.literalMarker();
    if (marker) return this.literal(marker, limit);
    throw new ParseError(`Expected ${what}`);
  }

  /** astring = 1*ASTRING-CHAR / string. */
  async astring(limit: LiteralLimit, what = "a string"): Promise<Buffer> {
    const byte = this.peek();
    if (byte === DQUOTE || byte === 0x7b || byte === 0x7e) return this.string(limit, what);
    return Buffer.from(this.atom(what, "]"), "latin1");
  }

  /** nstring = string / NIL. */
  async nstring(limit: LiteralLimit): Promise<Buffer | null> {
    if (this.peek() !== DQUOTE && this.peek() !== 0x7b) {
      const save = this.pos;
      const word = this.atom("a string or NIL");
      if (word.toUpperCase() === "NIL") return null;
      this.pos = save;
      throw new ParseError("Expected a string or NIL");
    }
    return this.string(limit);
  }

  quoted(): Buffer {
    this.expect('"');
    const out: number[] = [];
    for (;;) {
      if (this.pos >= this.line.length) throw new ParseError("Unterminated quoted string");
      const byte = this.line[this.pos++];
      if (byte === DQUOTE) break;
      if (byte === 0x00) throw new ParseError("NUL in quoted string");
      if (byte === BACKSLASH) {
        const next = this.line[this.pos++];
        if (next !== DQUOTE && next !== BACKSLASH) throw new ParseError("Invalid escape in quoted string");
        out.push(next);
        continue;
      }
      out.push(byte);
    }
    return Buffer.from(out);
  }

  /** Reads a literal announced by `marker` into one buffer, then the rest of the command line. */
  async literal(marker: LiteralMarker, limit: LiteralLimit): Promise<Buffer> {
    await this.admitLiteral(marker, limit, true);
    const bytes = await this.reader.readExact(marker.size);
    if (!marker.binary && bytes.includes(0)) {
      await this.continueLine();
      throw new ParseError("NUL in literal (use literal8)");
    }
    await this.continueLine();
    return bytes;
  }

  /**
   * Starts a streamed literal (APPEND's message). The caller must consume or
   * `drain()` it completely and then call `continueLine()`.
   */
  async literalStream(marker: LiteralMarker, limit: LiteralLimit): Promise<StreamedLiteral> {
    await this.admitLiteral(marker, limit, false);
    return new StreamedLiteral(this.reader, marker.size);
  }

  /** After a literal: the command goes on in the next line. */
  async continueLine(): Promise<void> {
    const next = await this.reader.readLine(this.host.maxLineBytes);
    if (next === null) throw new ParseError("Connection closed inside a command");
    if (next.tooLong) throw new ParseError("Command line too long");
    this.commandBytes += next.line.length;
    if (this.commandBytes > this.host.maxCommandBytes) throw new ParseError("Command too long");
    this.line = next.line;
    this.pos = 0;
  }

  /**
   * Skips what is left of a command that failed: a pending non-synchronizing
   * literal and its continuation lines are read and dropped so they are never
   * taken for commands. Returns false if the connection must be closed instead.
   */
  async skipRest(maxSkipBytes: number): Promise<boolean> {
    for (;;) {
      const marker = this.literalMarkerAtEndOfLine();
      if (!marker || marker.sync) return true;
      if (marker.size > maxSkipBytes) return false;
      await this.reader.discard(marker.size);
      const next = await this.reader.readLine(this.host.maxLineBytes);
      if (next === null) return true;
      if (next.tooLong) return false;
      this.line = next.line;
      this.pos = 0;
    }
  }

  private literalMarkerAtEndOfLine(): LiteralMarker | null {
    const open = this.line.lastIndexOf(0x7b);
    if (open < 0 || open < this.pos) return null;
    const save = this.pos;
    this.pos = open > 0 && this.line[open - 1] === 0x7e ? open - 1 : open;
    const marker = this.literalMarker();
    this.pos = save;
    return marker;
  }

  private async admitLiteral(marker: LiteralMarker, limit: LiteralLimit, buffered: boolean): Promise<void> {
    // The marker is the end of this line; it is consumed now.
    this.pos = this.line.length;
    if (!marker.sync && !this.host.acceptsNonSync(marker.size)) {
      throw new LiteralRefusedError("BAD", null, "Non-synchronizing literal too large", marker);
    }
    if (marker.size > limit.maxBytes) {
      const refusal = limit.tooBig ?? { status: "BAD" as const, code: null, message: "Literal too large" };
      throw new LiteralRefusedError(refusal.status, refusal.code, refusal.message, marker);
    }
    if (buffered) {
      if (this.commandBytes + marker.size > this.host.maxCommandBytes) {
        throw new LiteralRefusedError("BAD", null, "Command too long", marker);
      }
      this.commandBytes += marker.size;
    }
    if (marker.sync) await this.host.sendContinuation();
  }

  /** RFC 3501 §9 sequence-set, or RFC 5182 "$". */
  sequenceSet(): SequenceSet {
    if (this.take("$")) return { saved: true, ranges: [] };
    const ranges: SequenceRange[] = [];
    do {
      const start = this.seqNumber();
      const end = this.take(":") ? this.seqNumber() : start;
      ranges.push({ start, end });
    } while (this.take(","));
    return { saved: false, ranges };
  }

  private seqNumber(): SequenceNumber {
    if (this.take("*")) return "*";
    return this.number32("a sequence number", true);
  }

  /** A parenthesized list: calls `item` for each element. */
  async list(item: () => Promise<void> | void): Promise<void> {
    this.expect("(");
    if (this.take(")")) return;
    for (;;) {
      await item();
      if (this.take(")")) return;
      this.sp();
    }
  }

  /** A flag: "\" atom or atom (RFC 3501 §9 flag / flag-keyword). */
  flag(allowRecentWildcard = false): string {
    if (this.take("\\")) {
      if (allowRecentWildcard && this.take("*")) return "\\*";
      return "\\" + this.atom("a flag");
    }
    return this.atom("a flag");
  }

  /**
   * A flag of a message (STORE, APPEND). RFC 3501 §2.3.2 defines the system
   * flags; any other name starting with "\\" is a flag-extension (§9) that no
   * standard defines yet, so it is refused here, before any literal is read.
   */
  messageFlag(): string {
    const flag = this.flag();
    if (flag.startsWith("\\") && !MESSAGE_SYSTEM_FLAGS.has(flag.toLowerCase())) {
      const shown = flag.length <= 64 ? ` ${flag}` : "";
      throw new ParseError(`Unknown system flag${shown}: only \\Answered \\Flagged \\Deleted \\Seen \\Draft may start with \\`);
    }
    return flag;
  }
}

/**
 * The bytes of one literal, pulled from the connection as the consumer asks.
 * Stopping early does not lose the position: `drain()` skips what is left, so
 * the next command is never read from the middle of a message.
 */
export class StreamedLiteral implements AsyncIterable<Buffer> {
  private consumed = 0;

  constructor(
    private readonly reader: ByteReader,
    readonly size: number,
  ) {}

  get remaining(): number {
    return this.size - this.consumed;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: async () => {
        if (this.consumed >= this.size) return { done: true, value: undefined };
        const chunk = await this.reader.readChunk(this.size - this.consumed);
        this.consumed += chunk.length;
        return { done: false, value: chunk };
      },
      return: async () => ({ done: true, value: undefined }),
    };
  }

  async drain(): Promise<void> {
    const left = this.remaining;
    this.consumed = this.size;
    if (left > 0) await this.reader.discard(left);
  }
}
