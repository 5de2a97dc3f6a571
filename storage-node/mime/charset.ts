/**
 * Charset decoding for search text, via the WHATWG Encoding Standard
 * (`TextDecoder`; Node ships full ICU).
 *
 * Invariants:
 * - Never throws: malformed sequences become U+FFFD; an unknown charset label
 *   decodes as UTF-8 when the bytes are valid UTF-8, else as windows-1252 (a
 *   superset of ISO-8859-1 for printable text), so no text is lost to search.
 * - Decoders are cached per label; the cache is bounded by the label set.
 */

import { TextDecoder } from "node:util";

const ALIASES: Record<string, string> = {
  cp932: "shift_jis",
  "x-gbk": "gbk",
  "utf-16": "utf-16le",
};

const cache = new Map<string, TextDecoder | null>();
const MAX_CACHED = 256;

function decoderFor(label: string): TextDecoder | null {
  const key = label.trim().toLowerCase();
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let dec: TextDecoder | null = null;
  try {
    dec = new TextDecoder(ALIASES[key] ?? key, { fatal: false });
  } catch {
    dec = null;
  }
  if (cache.size < MAX_CACHED) cache.set(key, dec);
  return dec;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false });
const fallback8bit = new TextDecoder("windows-1252", { fatal: false });

/** Decodes `bytes` in `charset` (null: guess UTF-8, then windows-1252). */
export function decodeCharset(bytes: Uint8Array, charset: string | null): string {
  const dec = charset ? decoderFor(charset) : null;
  if (dec) return dec.decode(bytes);
  return decodeGuess(bytes);
}

/** UTF-8 if the bytes are valid UTF-8, else windows-1252. */
export function decodeGuess(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return fallback8bit.decode(bytes);
  }
}

export function decodeUtf8(bytes: Uint8Array): string {
  return lenientUtf8.decode(bytes);
}

/** True when the label names a charset we can decode. */
export function isKnownCharset(label: string): boolean {
  return decoderFor(label) !== null;
}
