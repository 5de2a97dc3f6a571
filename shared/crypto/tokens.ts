/**
 * API tokens for the edge (bearer credentials for the REST API and CLI).
 *
 * Guarantees:
 * - A token is "sbx_" followed by 52 lower-case RFC 4648 base32 characters: 260 bits from the
 *   CSPRNG, above the 256-bit floor.
 * - Only `hashToken(token)` is ever stored: SHA-256 over the UTF-8 token, lower-case hex. With
 *   256+ bits of entropy a fast hash is enough, and equal tokens always hash equal, so the hash
 *   is the lookup key.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { randomChars, toHex, utf8 } from "./encoding.ts";

export const API_TOKEN_PREFIX = "sbx_";
const TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
const TOKEN_CHARS = 52;
/** Entropy of one generated token. */
export const API_TOKEN_ENTROPY_BITS = TOKEN_CHARS * 5;
const TOKEN_PATTERN = new RegExp(`^${API_TOKEN_PREFIX}[a-z2-7]{${TOKEN_CHARS}}$`);

/** A fresh API token, shown to its owner once. */
export function generateApiToken(): string {
  return API_TOKEN_PREFIX + randomChars(TOKEN_CHARS, TOKEN_ALPHABET);
}

/** True when `text` has the exact shape of a generated token (cheap pre-check before a lookup). */
export function isApiToken(text: string): boolean {
  return typeof text === "string" && TOKEN_PATTERN.test(text);
}

/** SHA-256 of the token, lower-case hex: what the edge stores and looks tokens up by. */
export function hashToken(token: string): string {
  return toHex(sha256(utf8(token)));
}
