/**
 * Time-based one-time passwords for dashboard second factor (RFC 6238 over RFC 4226 HOTP).
 *
 * Guarantees:
 * - The profile every authenticator app supports: HMAC-SHA-1, 6 digits, 30-second steps from
 *   the Unix epoch (RFC 6238 §4). Secrets are 20 random bytes (160 bits, RFC 4226 §4 R6),
 *   exchanged as unpadded upper-case RFC 4648 base32.
 * - Verification accepts `window` steps either side of the current one to absorb clock drift
 *   (RFC 6238 §5.2), compares in constant time, and checks every step in the window so its
 *   timing does not reveal which one matched. A code that is not exactly 6 ASCII digits is
 *   refused before any HMAC work.
 * - Replay protection is the caller's: `matchTotp` returns the matched time step so the caller
 *   can refuse a step at or below the last one it accepted (RFC 6238 §5.2).
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { constantTimeEqual, fromBase32, randomBytes, toBase32, utf8 } from "./encoding.ts";

export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_SECRET_BYTES = 20;

/** A fresh TOTP secret, base32 (32 characters). */
export function generateTotpSecret(): string {
  return toBase32(randomBytes(TOTP_SECRET_BYTES));
}

/** RFC 4226 §5.3 HOTP: HMAC-SHA-1 over the 8-byte big-endian counter, dynamic truncation. */
export function hotpCode(key: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError("HOTP counter must be a non-negative integer");
  if (!Number.isInteger(digits) || digits < 6 || digits > 10) throw new RangeError("HOTP digits must be 6 to 10");
  const message = new Uint8Array(8);
  const view = new DataView(message.buffer);
  view.setUint32(0, Math.floor(counter / 0x1_0000_0000));
  view.setUint32(4, counter >>> 0);
  const mac = hmac(sha1, key, message);
  const offset = mac[mac.length - 1] & 0x0f;
  const binary =
    ((mac[offset] & 0x7f) * 0x100_0000 + (mac[offset + 1] << 16) + (mac[offset + 2] << 8) + mac[offset + 3]);
  return (binary % 10 ** digits).toString().padStart(digits, "0");
}

/** RFC 6238 §4.2 time step for a Unix time in milliseconds. */
export function totpTimeStep(timeMs: number): number {
  if (!Number.isFinite(timeMs) || timeMs < 0) throw new RangeError("TOTP time must be a non-negative number");
  return Math.floor(timeMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The 6-digit code for `timeMs`. Throws EncodingError for a secret that is not base32. */
export function totpCode(secretBase32: string, timeMs: number): string {
  return hotpCode(fromBase32(secretBase32), totpTimeStep(timeMs));
}

/**
 * The time step whose code equals `code`, searching `window` steps either side of `timeMs`;
 * null when none does, or when the code or secret is malformed.
 */
export function matchTotp(secretBase32: string, code: string, timeMs: number, window = 1): number | null {
  if (typeof code !== "string" || !/^[0-9]{6}$/.test(code)) return null;
  if (!Number.isInteger(window) || window < 0 || window > 10) throw new RangeError("TOTP window must be 0 to 10");
  let key: Uint8Array;
  try {
    key = fromBase32(secretBase32);
  } catch {
    return null;
  }
  if (key.length === 0) return null;
  const step = totpTimeStep(timeMs);
  const given = utf8(code);
  let matched: number | null = null;
  for (let s = step - window; s <= step + window; s++) {
    if (s < 0) continue;
    if (constantTimeEqual(utf8(hotpCode(key, s)), given) && matched === null) matched = s;
  }
  key.fill(0);
  return matched;
}

/** True when `code` is valid within `window` steps of `timeMs` (see `matchTotp` for replay protection). */
export function verifyTotp(secretBase32: string, code: string, timeMs: number, window = 1): boolean {
  return matchTotp(secretBase32, code, timeMs, window) !== null;
}

/**
 * The `otpauth://totp/…` URI authenticator apps scan as a QR code (Google Authenticator
 * Key Uri Format): label `issuer:account`, with secret, issuer, algorithm, digits and period.
 */
export function totpUri(secret: string, account: string, issuer: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const params = new URLSearchParams({
    secret: secret.replace(/[ =]/g, "").toUpperCase(),
    issuer,
    algorithm: "SHA1",
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD_SECONDS),
  });
  return `otpauth://totp/${label}?${params.toString().replace(/\+/g, "%20")}`;
}
