/**
 * RFC 2047 encoded-word decoding for search text and base subjects.
 *
 * Invariants:
 * - Input is a binary string (one char per byte); output is Unicode text.
 * - Linear: one regular-expression pass with no nested quantifiers.
 * - Whitespace between two adjacent encoded words is dropped (RFC 2047 §6.2);
 *   adjacent words in the same charset are joined as bytes before decoding,
 *   so a multi-byte character split across words survives.
 * - Raw 8-bit text outside encoded words is taken as UTF-8 (RFC 6532), or
 *   windows-1252 when it is not valid UTF-8.
 * - Malformed words are kept literally; nothing throws.
 */
import { binaryToBytes } from "./binary-string.ts";
import { decodeCharset, decodeGuess } from "./charset.ts";
import { decodeBase64 } from "./transfer-encoding.ts";

const WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function decodeQWord(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5f) out.push(0x20);
    else if (c === 0x3d && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c & 0xff);
  }
  return Uint8Array.from(out);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const r = new Uint8Array(a.length + b.length);
  r.set(a, 0);
  r.set(b, a.length);
  return r;
}

export function decodeEncodedWords(value: string): string {
  let out = "";
  let last = 0;
  let pending: { charset: string; bytes: Uint8Array } | null = null;
  const flush = (): void => {
    if (pending) out += decodeCharset(pending.bytes, pending.charset);
    pending = null;
  };
  WORD.lastIndex = 0;
  for (let m = WORD.exec(value); m !== null; m = WORD.exec(value)) {
    const between = value.slice(last, m.index);
    const adjacent = pending !== null && /^[ \t\r\n]*$/.test(between);
    if (!adjacent) {
      flush();
      out += decodeRaw(between);
    }
    // RFC 2231 §5: charset may carry "*language".
    const charset = m[1].split("*")[0];
    const bytes = m[2] === "b" || m[2] === "B" ? decodeBase64(binaryToBytes(m[3])) : decodeQWord(m[3]);
    const p = pending as { charset: string; bytes: Uint8Array } | null;
    if (p && p.charset.toLowerCase() === charset.toLowerCase()) p.bytes = concat(p.bytes, bytes);
    else {
      flush();
      pending = { charset, bytes };
    }
    last = m.index + m[0].length;
  }
  flush();
  out += decodeRaw(value.slice(last));
  return out;
}

function decodeRaw(s: string): string {
  if (s.length === 0) return s;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return decodeGuess(binaryToBytes(s));
  return s;
}
