/**
 * Content-Transfer-Encoding decoders (RFC 2045 §6.7 quoted-printable,
 * §6.8 base64).
 *
 * Invariants:
 * - Total and linear: every input decodes to some output in one pass, output
 *   never longer than the input.
 * - Base64 ignores characters outside the alphabet (RFC 2045 §6.8) and stops
 *   at the first '='; a trailing partial quantum keeps its whole bytes.
 * - Quoted-printable keeps a malformed '=' sequence literally (RFC 2045 §6.7
 *   note 1), drops trailing whitespace before a line break and removes soft
 *   line breaks; line breaks are kept as they were (CRLF or LF).
 * - Identity encodings (7bit, 8bit, binary, unknown) return the input.
 */

const B64 = new Int16Array(256).fill(-1);
{
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) B64[alphabet.charCodeAt(i)] = i;
}

export function decodeBase64(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.floor((input.length * 3) / 4) + 3);
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c === 0x3d) break;
    const v = B64[c];
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

export function decodeQuotedPrintable(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length);
  let o = 0;
  let i = 0;
  const n = input.length;
  // Start of a run of spaces/tabs not yet known to be trailing.
  let wsStart = -1;
  while (i < n) {
    const c = input[i];
    if (c === 0x20 || c === 0x09) {
      if (wsStart < 0) wsStart = o;
      out[o++] = c;
      i++;
      continue;
    }
    if (c === 0x0d || c === 0x0a) {
      // Transport padding before a line break is not content.
      if (wsStart >= 0) o = wsStart;
      wsStart = -1;
      out[o++] = c;
      i++;
      continue;
    }
    wsStart = -1;
    if (c !== 0x3d) {
      out[o++] = c;
      i++;
      continue;
    }
    // "=" escape or soft line break.
    let j = i + 1;
    while (j < n && (input[j] === 0x20 || input[j] === 0x09)) j++;
    if (j >= n) {
      i = j;
      continue;
    }
    if (input[j] === 0x0a) {
      i = j + 1;
      continue;
    }
    if (input[j] === 0x0d && (j + 1 >= n || input[j + 1] === 0x0a)) {
      i = j + 2;
      continue;
    }
    const h = i + 2 < n ? hexValue(input[i + 1]) : -1;
    const l = i + 2 < n ? hexValue(input[i + 2]) : -1;
    if (h >= 0 && l >= 0) {
      out[o++] = (h << 4) | l;
      i += 3;
    } else {
      out[o++] = c;
      i++;
    }
  }
  return out.subarray(0, o);
}

/** Decodes by encoding name; null for an encoding that cannot be decoded. */
export function decodeTransfer(input: Uint8Array, encoding: string): Uint8Array | null {
  switch (encoding.toLowerCase()) {
    case "base64":
      return decodeBase64(input);
    case "quoted-printable":
      return decodeQuotedPrintable(input);
    case "7bit":
    case "8bit":
    case "binary":
    case "":
      return input;
    default:
      return null;
  }
}
