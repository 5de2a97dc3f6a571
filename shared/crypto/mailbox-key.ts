/**
 * The mailbox key (MK) and its per-password wraps (DESIGN §3).
 *
 * Guarantees:
 * - An MK is exactly 32 bytes from the CSPRNG; wrapping refuses any other length.
 * - A wrap is `{ salt, wrappedKey }`, both standard base64: a fresh random 16-byte salt, and the
 *   blob `version(1) ‖ nonce(24) ‖ XChaCha20-Poly1305(MK)(48)` under
 *   HKDF-SHA-256(ikm = UTF-8 password, salt, info = "sealbox/mailbox-key-wrap/v1"). The version
 *   byte is also the associated data, so it cannot be swapped.
 * - Two wraps of one MK under one password never share a salt or a nonce, so they differ.
 * - `unwrapMailboxKey` returns the MK only when the password is the one used to wrap and neither
 *   salt nor blob was altered; otherwise null. A successful unwrap *is* the password check —
 *   there is no separate verifier. It never throws on bad records, and never says why it failed.
 * - HKDF rather than a slow hash is sound only because passwords are generated with ≥ 128 bits
 *   (see password.ts); never wrap under a password a person chose.
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64, randomBytes, toBase64, utf8 } from "./encoding.ts";

export const MAILBOX_KEY_BYTES = 32;
export const MAILBOX_KEY_SALT_BYTES = 16;
const WRAP_VERSION = 1;
const WRAP_INFO = utf8("sealbox/mailbox-key-wrap/v1");
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
const BLOB_BYTES = 1 + NONCE_BYTES + MAILBOX_KEY_BYTES + TAG_BYTES;

/** One password's wrap of the MK, as stored at the edge and sent to nodes. */
export interface WrappedMailboxKeyData {
  /** Random 16-byte KDF salt, base64. */
  salt: string;
  /** version ‖ nonce ‖ ciphertext ‖ tag, base64. */
  wrappedKey: string;
}

/** A fresh random 256-bit mailbox key. */
export function generateMailboxKey(): Uint8Array {
  return randomBytes(MAILBOX_KEY_BYTES);
}

function deriveWrapKey(password: string, salt: Uint8Array): Uint8Array {
  return hkdf(sha256, utf8(password), salt, WRAP_INFO, 32);
}

/** Wraps `mailboxKey` under `password`. Throws RangeError for an MK that is not 32 bytes or an empty password. */
export function wrapMailboxKey(mailboxKey: Uint8Array, password: string): WrappedMailboxKeyData {
  if (!(mailboxKey instanceof Uint8Array) || mailboxKey.length !== MAILBOX_KEY_BYTES) {
    throw new RangeError(`mailbox key must be ${MAILBOX_KEY_BYTES} bytes`);
  }
  if (typeof password !== "string" || password.length === 0) throw new RangeError("password must not be empty");
  const salt = randomBytes(MAILBOX_KEY_SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const version = Uint8Array.of(WRAP_VERSION);
  const key = deriveWrapKey(password, salt);
  const sealed = xchacha20poly1305(key, nonce, version).encrypt(mailboxKey);
  key.fill(0);
  const blob = new Uint8Array(BLOB_BYTES);
  blob[0] = WRAP_VERSION;
  blob.set(nonce, 1);
  blob.set(sealed, 1 + NONCE_BYTES);
  return { salt: toBase64(salt), wrappedKey: toBase64(blob) };
}

/** The MK, or null for a wrong password, a malformed or tampered record, or an unknown version. */
export function unwrapMailboxKey(record: WrappedMailboxKeyData, password: string): Uint8Array | null {
  if (typeof password !== "string" || password.length === 0) return null;
  if (record === null || typeof record !== "object") return null;
  let salt: Uint8Array;
  let blob: Uint8Array;
  try {
    salt = fromBase64(record.salt);
    blob = fromBase64(record.wrappedKey);
  } catch {
    return null;
  }
  if (salt.length !== MAILBOX_KEY_SALT_BYTES || blob.length !== BLOB_BYTES || blob[0] !== WRAP_VERSION) return null;
  const key = deriveWrapKey(password, salt);
  try {
    const mailboxKey = xchacha20poly1305(key, blob.subarray(1, 1 + NONCE_BYTES), blob.subarray(0, 1)).decrypt(
      blob.subarray(1 + NONCE_BYTES),
    );
    return mailboxKey.length === MAILBOX_KEY_BYTES ? mailboxKey : null;
  } catch {
    return null;
  } finally {
    key.fill(0);
  }
}
