/**
 * Sealing: public-key encryption of inbound mail to an alias (DESIGN §3, "Sealing keys").
 *
 * Guarantees:
 * - Key pairs are X-Wing (X25519 + ML-KEM-768, `ml_kem768_x25519`): 1216-byte public key,
 *   32-byte secret key (the seed). A sealed message stays confidential unless *both* X25519 and
 *   ML-KEM-768 are broken, so mail queued today survives a future quantum computer.
 * - Every `seal` encapsulates afresh, so each message has its own content key:
 *   HKDF-SHA-256(ikm = KEM shared secret, salt = KEM ciphertext, info = "sealbox/seal/v1").
 * - Sealed format v1:
 *     version(1) = 0x01 ‖ KEM ciphertext(1120) ‖ chunk₀ ‖ chunk₁ ‖ … ‖ chunkₙ₋₁
 *   The plaintext is cut into 64 KiB chunks (the last may be shorter; an empty plaintext is one
 *   empty chunk); each chunk is ChaCha20-Poly1305 under the content key with nonce
 *   `counter(11, big-endian) ‖ last(1)`, where `last` is 1 only on the final chunk (STREAM,
 *   Hoang–Reyhanitabar–Rogaway–Vizár 2015). Associated data is `version ‖ context`. So a
 *   flipped bit, a dropped, duplicated or reordered chunk, a truncation (at a chunk boundary or
 *   not), a different `context` or a different secret key all fail authentication.
 * - `openSealed` either returns the whole plaintext or throws `SealError`; it never returns a
 *   prefix. Errors say which class of failure happened, never anything about the content.
 * - The sealing secret key is stored wrapped by the mailbox key:
 *     version(1) = 0x01 ‖ nonce(24) ‖ XChaCha20-Poly1305(secret key)(48), base64,
 *   under HKDF-SHA-256(ikm = MK, info = "sealbox/sealing-secret-wrap/v1") — a key separate from
 *   the MK itself, which also keys the SQLite file.
 */
import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ml_kem768_x25519 } from "@noble/post-quantum/hybrid.js";
import { fromBase64, randomBytes, toBase64, utf8 } from "./encoding.ts";
import { MAILBOX_KEY_BYTES } from "./mailbox-key.ts";

export const SEALING_PUBLIC_KEY_BYTES = 1216;
export const SEALING_SECRET_KEY_BYTES = 32;
/** Plaintext bytes per chunk in format v1. */
export const SEAL_CHUNK_BYTES = 64 * 1024;

const SEAL_VERSION = 1;
const KEM_CIPHERTEXT_BYTES = 1120;
const HEADER_BYTES = 1 + KEM_CIPHERTEXT_BYTES;
const TAG_BYTES = 16;
const SEAL_INFO = utf8("sealbox/seal/v1");

const SECRET_WRAP_VERSION = 1;
const SECRET_WRAP_INFO = utf8("sealbox/sealing-secret-wrap/v1");
const SECRET_WRAP_NONCE_BYTES = 24;
const SECRET_WRAP_BYTES = 1 + SECRET_WRAP_NONCE_BYTES + SEALING_SECRET_KEY_BYTES + TAG_BYTES;

export type SealErrorReason =
  /** Too short, or not a whole number of chunks. */
  | "malformed"
  /** A version byte this code does not know. */
  | "unsupported-version"
  /** Tampered, truncated, reordered, wrong key or wrong context: indistinguishable by design. */
  | "authentication"
  /** The key handed in has the wrong length. */
  | "invalid-key";

/** Opening a sealed message or a wrapped sealing secret failed. Carries no content. */
export class SealError extends Error {
  override name = "SealError";
  constructor(
    readonly reason: SealErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface SealingKeyPairData {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** A fresh X-Wing key pair for one alias. */
export function generateSealingKeyPair(): SealingKeyPairData {
  const { publicKey, secretKey } = ml_kem768_x25519.keygen();
  return { publicKey, secretKey };
}

/** Length of `seal(…, plaintext)` for a plaintext of `plaintextLength` bytes. */
export function sealedLength(plaintextLength: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextLength / SEAL_CHUNK_BYTES));
  return HEADER_BYTES + plaintextLength + chunks * TAG_BYTES;
}

function contentKey(sharedSecret: Uint8Array, kemCiphertext: Uint8Array): Uint8Array {
  return hkdf(sha256, sharedSecret, kemCiphertext, SEAL_INFO, 32);
}

function chunkNonce(counter: number, last: boolean): Uint8Array {
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  // Bytes 0–2 stay zero: 2^64 chunks is far beyond any message.
  view.setUint32(3, Math.floor(counter / 0x1_0000_0000));
  view.setUint32(7, counter >>> 0);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function associatedData(version: number, context: Uint8Array | undefined): Uint8Array {
  const ad = new Uint8Array(1 + (context?.length ?? 0));
  ad[0] = version;
  if (context) ad.set(context, 1);
  return ad;
}

/**
 * Seals `plaintext` to `publicKey`. `context` (e.g. the recipient alias id) is authenticated,
 * not encrypted, and must be given again to open. Throws RangeError for a wrong-length key.
 */
export function seal(publicKey: Uint8Array, plaintext: Uint8Array, context?: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== SEALING_PUBLIC_KEY_BYTES) {
    throw new RangeError(`sealing public key must be ${SEALING_PUBLIC_KEY_BYTES} bytes`);
  }
  const { cipherText: kemCiphertext, sharedSecret } = ml_kem768_x25519.encapsulate(publicKey);
  const key = contentKey(sharedSecret, kemCiphertext);
  sharedSecret.fill(0);
  const ad = associatedData(SEAL_VERSION, context);

  const out = new Uint8Array(sealedLength(plaintext.length));
  out[0] = SEAL_VERSION;
  out.set(kemCiphertext, 1);
  const chunks = Math.max(1, Math.ceil(plaintext.length / SEAL_CHUNK_BYTES));
  let offset = HEADER_BYTES;
  for (let i = 0; i < chunks; i++) {
    const start = i * SEAL_CHUNK_BYTES;
    const piece = plaintext.subarray(start, Math.min(plaintext.length, start + SEAL_CHUNK_BYTES));
    const sealed = chacha20poly1305(key, chunkNonce(i, i === chunks - 1), ad).encrypt(piece);
    out.set(sealed, offset);
    offset += sealed.length;
  }
  key.fill(0);
  return out;
}

/** Opens a sealed message with the alias's secret key and the same `context` used to seal. */
export function openSealed(secretKey: Uint8Array, sealed: Uint8Array, context?: Uint8Array): Uint8Array {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SEALING_SECRET_KEY_BYTES) {
    throw new SealError("invalid-key", `sealing secret key must be ${SEALING_SECRET_KEY_BYTES} bytes`);
  }
  if (!(sealed instanceof Uint8Array) || sealed.length < HEADER_BYTES + TAG_BYTES) {
    throw new SealError("malformed", "sealed message is too short");
  }
  if (sealed[0] !== SEAL_VERSION) throw new SealError("unsupported-version", "unknown sealed message version");

  const body = sealed.length - HEADER_BYTES;
  const fullChunk = SEAL_CHUNK_BYTES + TAG_BYTES;
  const chunks = Math.ceil(body / fullChunk);
  const lastLength = body - (chunks - 1) * fullChunk;
  if (lastLength < TAG_BYTES) throw new SealError("malformed", "sealed message ends inside a chunk tag");

  const kemCiphertext = sealed.subarray(1, HEADER_BYTES);
  let key: Uint8Array;
  try {
    const sharedSecret = ml_kem768_x25519.decapsulate(kemCiphertext, secretKey);
    key = contentKey(sharedSecret, kemCiphertext);
    sharedSecret.fill(0);
  } catch {
    throw new SealError("authentication", "sealed message could not be opened");
  }
  const ad = associatedData(SEAL_VERSION, context);
  const out = new Uint8Array(body - chunks * TAG_BYTES);
  try {
    for (let i = 0; i < chunks; i++) {
      const start = HEADER_BYTES + i * fullChunk;
      const last = i === chunks - 1;
      const piece = sealed.subarray(start, last ? sealed.length : start + fullChunk);
      out.set(chacha20poly1305(key, chunkNonce(i, last), ad).decrypt(piece), i * SEAL_CHUNK_BYTES);
    }
  } catch {
    out.fill(0);
    throw new SealError("authentication", "sealed message could not be opened");
  } finally {
    key.fill(0);
  }
  return out;
}

function secretWrapKey(mailboxKey: Uint8Array): Uint8Array {
  return hkdf(sha256, mailboxKey, undefined, SECRET_WRAP_INFO, 32);
}

/** Wraps an alias's sealing secret key under its mailbox key; base64. Throws RangeError on wrong lengths. */
export function wrapSealingSecret(secretKey: Uint8Array, mailboxKey: Uint8Array): string {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SEALING_SECRET_KEY_BYTES) {
    throw new RangeError(`sealing secret key must be ${SEALING_SECRET_KEY_BYTES} bytes`);
  }
  if (!(mailboxKey instanceof Uint8Array) || mailboxKey.length !== MAILBOX_KEY_BYTES) {
    throw new RangeError(`mailbox key must be ${MAILBOX_KEY_BYTES} bytes`);
  }
  const nonce = randomBytes(SECRET_WRAP_NONCE_BYTES);
  const key = secretWrapKey(mailboxKey);
  const version = Uint8Array.of(SECRET_WRAP_VERSION);
  const sealed = xchacha20poly1305(key, nonce, version).encrypt(secretKey);
  key.fill(0);
  const blob = new Uint8Array(SECRET_WRAP_BYTES);
  blob[0] = SECRET_WRAP_VERSION;
  blob.set(nonce, 1);
  blob.set(sealed, 1 + SECRET_WRAP_NONCE_BYTES);
  return toBase64(blob);
}

/** The sealing secret key; throws `SealError` for a wrong mailbox key or a damaged record. */
export function unwrapSealingSecret(wrapped: string, mailboxKey: Uint8Array): Uint8Array {
  if (!(mailboxKey instanceof Uint8Array) || mailboxKey.length !== MAILBOX_KEY_BYTES) {
    throw new SealError("invalid-key", `mailbox key must be ${MAILBOX_KEY_BYTES} bytes`);
  }
  let blob: Uint8Array;
  try {
    blob = fromBase64(wrapped);
  } catch {
    throw new SealError("malformed", "wrapped sealing secret is not valid base64");
  }
  if (blob.length !== SECRET_WRAP_BYTES) throw new SealError("malformed", "wrapped sealing secret has the wrong length");
  if (blob[0] !== SECRET_WRAP_VERSION) throw new SealError("unsupported-version", "unknown wrapped sealing secret version");
  const key = secretWrapKey(mailboxKey);
  try {
    return xchacha20poly1305(key, blob.subarray(1, 1 + SECRET_WRAP_NONCE_BYTES), blob.subarray(0, 1)).decrypt(
      blob.subarray(1 + SECRET_WRAP_NONCE_BYTES),
    );
  } catch {
    throw new SealError("authentication", "wrapped sealing secret could not be opened");
  } finally {
    key.fill(0);
  }
}
