/**
 * Byte encodings and randomness shared by the edge and the storage nodes.
 *
 * Guarantees:
 * - Pure Web APIs (crypto.getRandomValues, TextEncoder); no `node:*`, no Buffer, so the same
 *   bytes come out in workerd and in Node.
 * - Decoders are strict: `fromBase64` accepts only canonical, padded standard base64 and
 *   `fromHex` only an even number of hex digits; anything else throws `EncodingError`, whose
 *   message never repeats the input (it may be a secret).
 * - `randomBytes` and `randomChars` draw from the CSPRNG only; `randomChars` is unbiased
 *   because its alphabet has exactly 32 symbols (256 is a multiple of 32).
 * - `constantTimeEqual` takes time that depends on the lengths only, never on the contents.
 */

/** A malformed encoded value. The message names the encoding, never the value. */
export class EncodingError extends Error {
  override name = "EncodingError";
}

const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_LOOKUP = buildLookup(BASE64_ALPHABET);

/** RFC 4648 §6 base32 alphabet (upper case), as used by TOTP secrets. */
const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE32_LOOKUP = buildLookup(BASE32_ALPHABET);

const HEX_DIGITS = "0123456789abcdef";

function buildLookup(alphabet: string): Int16Array {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}

function lookup(table: Int16Array, code: number): number {
  return code < 128 ? table[code] : -1;
}

/** Standard base64 (RFC 4648 §4), padded. */
export function toBase64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out +=
      BASE64_ALPHABET[n >>> 18] +
      BASE64_ALPHABET[(n >>> 12) & 63] +
      BASE64_ALPHABET[(n >>> 6) & 63] +
      BASE64_ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += BASE64_ALPHABET[n >>> 18] + BASE64_ALPHABET[(n >>> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += BASE64_ALPHABET[n >>> 18] + BASE64_ALPHABET[(n >>> 12) & 63] + BASE64_ALPHABET[(n >>> 6) & 63] + "=";
  }
  return out;
}

/**
 * Decodes canonical padded standard base64. Throws `EncodingError` on a wrong length, a
 * character outside the alphabet (whitespace included), misplaced padding or non-zero
 * trailing bits, so each byte string has exactly one accepted encoding.
 */
export function fromBase64(text: string): Uint8Array {
  if (typeof text !== "string" || text.length % 4 !== 0) throw new EncodingError("invalid base64");
  let padding = 0;
  if (text.endsWith("==")) padding = 2;
  else if (text.endsWith("=")) padding = 1;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const a = lookup(BASE64_LOOKUP, text.charCodeAt(i));
    const b = lookup(BASE64_LOOKUP, text.charCodeAt(i + 1));
    const c = last && padding === 2 ? 0 : lookup(BASE64_LOOKUP, text.charCodeAt(i + 2));
    const d = last && padding >= 1 ? 0 : lookup(BASE64_LOOKUP, text.charCodeAt(i + 3));
    if ((a | b | c | d) < 0) throw new EncodingError("invalid base64");
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    if (last && padding === 2) {
      if ((n & 0xffff) !== 0) throw new EncodingError("invalid base64");
      break;
    }
    out[o++] = (n >>> 8) & 0xff;
    if (last && padding === 1) {
      if ((n & 0xff) !== 0) throw new EncodingError("invalid base64");
      break;
    }
    out[o++] = n & 0xff;
  }
  return out;
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX_DIGITS[bytes[i] >>> 4] + HEX_DIGITS[bytes[i] & 15];
  return out;
}

/** Decodes hex (either case). Throws `EncodingError` on an odd length or a non-hex digit. */
export function fromHex(text: string): Uint8Array {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new EncodingError("invalid hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** RFC 4648 §6 base32, upper case, without padding (the form authenticator apps expect). */
export function toBase32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    buffer = ((buffer << 8) | bytes[i]) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Decodes RFC 4648 base32 as people and apps write it: either case, optional trailing `=`
 * padding, spaces ignored. Throws `EncodingError` on any other character or an impossible length.
 */
export function fromBase32(text: string): Uint8Array {
  if (typeof text !== "string") throw new EncodingError("invalid base32");
  const clean = text.replace(/ /g, "").replace(/=+$/, "").toUpperCase();
  // Lengths whose leftover bits cannot form a whole byte never come out of an encoder.
  if ([1, 3, 6].includes(clean.length % 8)) throw new EncodingError("invalid base32");
  const out = new Uint8Array(Math.floor((clean.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    const v = lookup(BASE32_LOOKUP, clean.charCodeAt(i));
    if (v < 0) throw new EncodingError("invalid base32");
    buffer = ((buffer << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >>> bits) & 0xff;
    }
  }
  return out;
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Largest request crypto.getRandomValues accepts in one call (Web Crypto spec). */
const RANDOM_CALL_LIMIT = 65_536;

/** `n` bytes from the platform CSPRNG. */
export function randomBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("randomBytes: length must be a non-negative integer");
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += RANDOM_CALL_LIMIT) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + RANDOM_CALL_LIMIT)));
  }
  return out;
}

/**
 * `count` characters drawn uniformly from a 32-symbol alphabet, each carrying 5 bits of
 * CSPRNG entropy. Used for passwords and tokens.
 */
export function randomChars(count: number, alphabet: string): string {
  if (alphabet.length !== 32 || new Set(alphabet).size !== 32) {
    throw new RangeError("randomChars: alphabet must have 32 distinct symbols");
  }
  const bytes = randomBytes(count);
  let out = "";
  for (let i = 0; i < count; i++) out += alphabet[bytes[i] & 31];
  bytes.fill(0);
  return out;
}

/** Compares two byte strings in time independent of their contents. Different lengths are unequal. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
