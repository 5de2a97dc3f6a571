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

/**
 * windows-1252 bytes 0x80–0x9F. Node 20's TextDecoder decodes the label as
 * ISO-8859-1 (C1 controls), so this range is mapped here (WHATWG table).
 */
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

function decodeCp1252(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    const chunk = bytes.subarray(i, i + 8192);
    out += String.fromCharCode(...Array.from(chunk, (b) => (b >= 0x80 && b < 0xa0 ? CP1252_HIGH[b - 0x80] : b)));
  }
  return out;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false });

/** Decodes `bytes` in `charset` (null: guess UTF-8, then windows-1252). */
export function decodeCharset(bytes: Uint8Array, charset: string | null): string {
  const dec = charset ? decoderFor(charset) : null;
  if (dec && dec.encoding === "windows-1252") return decodeCp1252(bytes);
  if (dec) return dec.decode(bytes);
  return decodeGuess(bytes);
}

/** UTF-8 if the bytes are valid UTF-8, else windows-1252. */
export function decodeGuess(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return decodeCp1252(bytes);
  }
}

export function decodeUtf8(bytes: Uint8Array): string {
  return lenientUtf8.decode(bytes);
}

/** True when the label names a charset we can decode. */
export function isKnownCharset(label: string): boolean {
  return decoderFor(label) !== null;
}
