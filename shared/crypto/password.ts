/**
 * Service-generated passwords (DESIGN §3: passwords are generated, never chosen).
 *
 * Guarantees:
 * - Every password carries exactly `PASSWORD_ENTROPY_BITS` (140) bits from the CSPRNG, above
 *   the 128-bit floor that lets the mailbox-key wrap use a fast KDF.
 * - Easy to read aloud and type: 28 lower-case characters in 7 dash-separated groups of 4,
 *   from a 32-symbol alphabet without the look-alikes `l`, `o`, `0` and `1`.
 * - The password is used verbatim by the key wrap; callers that accept typed input may apply
 *   `normalizePassword` first (it only lower-cases and strips whitespace, so it never maps two
 *   generated passwords onto one).
 */
import { randomChars } from "./encoding.ts";

/** 32 symbols: a–z without l and o, digits 2–9. */
export const PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";
const GROUPS = 7;
const GROUP_LENGTH = 4;

/** Entropy of one generated password: 7 × 4 characters × 5 bits. */
export const PASSWORD_ENTROPY_BITS = GROUPS * GROUP_LENGTH * 5;

const PASSWORD_PATTERN = new RegExp(
  `^[${PASSWORD_ALPHABET}]{${GROUP_LENGTH}}(?:-[${PASSWORD_ALPHABET}]{${GROUP_LENGTH}}){${GROUPS - 1}}$`,
);

/** A fresh password such as `k7vq-m2xa-…` (7 groups of 4). */
export function generatePassword(): string {
  const chars = randomChars(GROUPS * GROUP_LENGTH, PASSWORD_ALPHABET);
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) groups.push(chars.slice(g * GROUP_LENGTH, (g + 1) * GROUP_LENGTH));
  return groups.join("-");
}

/** True when `text` has the exact shape `generatePassword` produces. */
export function isGeneratedPassword(text: string): boolean {
  return PASSWORD_PATTERN.test(text);
}

/** Lower-cases and strips whitespace, for passwords typed by hand. */
export function normalizePassword(text: string): string {
  return text.replace(/\s+/g, "").toLowerCase();
}
