/**
 * Header block scanner (RFC 5322 §2.2, §3.2.2 folding).
 *
 * Invariants:
 * - Works on bytes; only individual field values (each capped at
 *   MIME_MAX_HEADER_FIELD_BYTES) become binary strings, so a 10 MB header
 *   flood costs one linear scan and bounded memory.
 * - A header ends at the first empty line (CRLF or bare LF), at a line the
 *   caller identifies as a MIME boundary, or at the end of the range. The
 *   returned `end` is the offset just after the empty line, if any.
 * - At most MIME_MAX_HEADER_FIELDS fields and MIME_MAX_HEADER_BYTES octets are
 *   interpreted; everything else is still skipped over, never re-scanned.
 */
import type { HeaderFieldData } from "./types.ts";
import { MIME_MAX_HEADER_BYTES, MIME_MAX_HEADER_FIELD_BYTES, MIME_MAX_HEADER_FIELDS } from "../limits.ts";
import { bytesToBinary } from "./binary-string.ts";

export interface HeaderScanData {
  fields: HeaderFieldData[];
  /** Offset just after the header (including its empty line when present). */
  end: number;
}

const LF = 0x0a;
const CR = 0x0d;

/** Returns the offset just after the next LF at or after `pos`, or `end`. */
export function lineEndAfter(buf: Uint8Array, pos: number, end: number): number {
  const i = buf.indexOf(LF, pos);
  return i < 0 || i >= end ? end : i + 1;
}

/** Empty line: "\n" or "\r\n" (the offset range excludes nothing else). */
export function isBlankLine(buf: Uint8Array, start: number, lineEnd: number): boolean {
  const len = lineEnd - start;
  if (len === 1) return buf[start] === LF;
  if (len === 2) return buf[start] === CR && buf[start + 1] === LF;
  return false;
}

/**
 * Scans a header block starting at `start`. `isBoundary(lineStart, lineEnd)`
 * lets the MIME parser stop at a boundary line inside a broken part header.
 */
export function scanHeader(
  buf: Uint8Array,
  start: number,
  end: number,
  isBoundary: (lineStart: number, lineEnd: number) => boolean,
): HeaderScanData {
  const fields: HeaderFieldData[] = [];
  let pos = start;
  // Current field being accumulated: name plus the byte range of its value.
  let curName: string | null = null;
  let valStart = 0;
  let valEnd = 0;
  let interpreted = 0;

  const flush = (): void => {
    if (curName === null) return;
    const len = Math.min(valEnd - valStart, MIME_MAX_HEADER_FIELD_BYTES);
    if (fields.length < MIME_MAX_HEADER_FIELDS && interpreted + len <= MIME_MAX_HEADER_BYTES) {
      fields.push({ name: curName, value: bytesToBinary(buf, valStart, valStart + len) });
      interpreted += len;
    }
    curName = null;
  };

  while (pos < end) {
    const lineEnd = lineEndAfter(buf, pos, end);
    if (isBlankLine(buf, pos, lineEnd)) {
      flush();
      return { fields, end: lineEnd };
    }
    if (isBoundary(pos, lineEnd)) {
      flush();
      return { fields, end: pos };
    }
    const first = buf[pos];
    // Value range excludes the line terminator of the last line.
    let contentEnd = lineEnd;
    if (contentEnd > pos && buf[contentEnd - 1] === LF) contentEnd--;
    if (contentEnd > pos && buf[contentEnd - 1] === CR) contentEnd--;
    if (first === 0x20 || first === 0x09) {
      // Folded continuation of the current field (RFC 5322 §2.2.3).
      if (curName !== null) valEnd = contentEnd;
    } else {
      flush();
      const colon = indexOfColon(buf, pos, contentEnd);
      if (colon > pos) {
        let nameEnd = colon;
        while (nameEnd > pos && (buf[nameEnd - 1] === 0x20 || buf[nameEnd - 1] === 0x09)) nameEnd--;
        if (nameEnd > pos && colon - pos <= 998) {
          curName = bytesToBinary(buf, pos, nameEnd);
          valStart = colon + 1;
          valEnd = contentEnd;
        }
      }
    }
    pos = lineEnd;
  }
  flush();
  return { fields, end: pos };
}

/** Position of the first ':' on the line, or -1; a name never holds WSP-then-text. */
function indexOfColon(buf: Uint8Array, start: number, end: number): number {
  const limit = Math.min(end, start + 1000);
  for (let i = start; i < limit; i++) {
    const c = buf[i];
    if (c === 0x3a) return i;
    if (c < 0x21 && c !== 0x20 && c !== 0x09) return -1;
  }
  return -1;
}

/** Removes CR and LF (unfolding keeps the folding whitespace), as IMAP clients see it. */
export function unfold(value: string): string {
  return value.indexOf("\n") < 0 && value.indexOf("\r") < 0 ? value : value.replace(/[\r\n]/g, "");
}

/**
 * Unfolded value as ENVELOPE and BODYSTRUCTURE show it: the first space or
 * tab after the colon is dropped, and further leading whitespace too unless
 * the first line holds nothing else (what Dovecot does, so clients see the
 * same strings); trailing whitespace is kept.
 */
export function fieldText(value: string): string {
  let v = value;
  if (v.startsWith(" ") || v.startsWith("\t")) v = v.slice(1);
  const m = /^[ \t]+/.exec(v);
  if (m && m[0].length < v.length && v[m[0].length] !== "\r" && v[m[0].length] !== "\n") v = v.slice(m[0].length);
  return unfold(v);
}

/** First field with the given (case-insensitive) name. */
export function firstField(fields: HeaderFieldData[], name: string): HeaderFieldData | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower);
}
