/**
 * Follows a stream of server responses (RFC 3501 §7; literals §4.3, literal8
 * RFC 3516) without parsing them, to tell whether it stands between two
 * responses: the only place where a proxy (home-proxy.ts) may add an untagged
 * BYE of its own without corrupting what the client reads.
 *
 * Invariants:
 * - Constant state per stream: the literal bytes still owed, whether the
 *   stream is at the start of a response, the first bytes of the current
 *   response and the last bytes of its current line (enough for `{n}`).
 * - A line that ends in `{n}` or `~{n}` is followed by n bytes of literal data
 *   that are skipped unseen, then the same response continues.
 * - `byeSeen` turns true at the end of the first untagged BYE response.
 */

const BYE_PREFIX = "* BYE ";
/** Longest tail that can hold a literal marker: "~{" + 20 digits + "}\r". */
const TAIL_BYTES = 24;
const LITERAL_AT_END = /~?\{(\d{1,20})\}\r?$/;

export class ResponseBoundaryTracker {
  /** True once the stream carried an untagged BYE: the server already said goodbye. */
  byeSeen = false;
  private literalLeft = 0;
  private atStart = true;
  private head = "";
  private tail = "";

  /** True between two responses (nothing of a response, literal or line, is pending). */
  get atBoundary(): boolean {
    return this.atStart && this.literalLeft === 0;
  }

  /** Takes the next bytes of the stream, in order. */
  track(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.literalLeft > 0) {
        const taken = Math.min(this.literalLeft, chunk.length - at);
        this.literalLeft -= taken;
        at += taken;
        continue;
      }
      const lf = chunk.indexOf(0x0a, at);
      const end = lf < 0 ? chunk.length : lf;
      this.note(chunk, at, end);
      if (lf < 0) return;
      this.endLine();
      at = lf + 1;
    }
  }

  private note(chunk: Buffer, from: number, to: number): void {
    if (to === from) return;
    if (this.atStart) this.head = "";
    this.atStart = false;
    if (this.head.length < BYE_PREFIX.length) this.head += chunk.toString("latin1", from, Math.min(to, from + BYE_PREFIX.length - this.head.length));
    this.tail = (this.tail + chunk.toString("latin1", Math.max(from, to - TAIL_BYTES), to)).slice(-TAIL_BYTES);
  }

  private endLine(): void {
    const literal = LITERAL_AT_END.exec(this.tail);
    this.tail = "";
    if (literal) {
      this.literalLeft = Number(literal[1]);
      this.atStart = false;
      return;
    }
    if (this.head === BYE_PREFIX) this.byeSeen = true;
    this.atStart = true;
  }
}
