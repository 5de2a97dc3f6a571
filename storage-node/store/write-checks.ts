/**
 * Checks every store makes before a write, so both implementations refuse
 * the same inputs with the same error kinds.
 *
 * Invariants:
 * - A dedupe key is 1..STORE_MAX_DEDUPE_KEY_CHARS characters, else `invalid`.
 * - A write that adds bytes beyond the quota is `over-quota`; a write that adds
 *   none (a move, a flag change) is never refused for quota.
 */

import { STORE_MAX_DEDUPE_KEY_CHARS } from "../limits.ts";
import { StoreError } from "./types.ts";

export function checkDedupeKey(key: string | undefined): void {
  if (key !== undefined && (key.length === 0 || key.length > STORE_MAX_DEDUPE_KEY_CHARS)) throw new StoreError("invalid", "bad dedupe key");
}

/** `used()` is asked only when a limit applies and bytes are added. */
export function checkQuota(limit: number | undefined, used: () => number, extra: number): void {
  if (limit !== undefined && extra > 0 && used() + extra > limit) throw new StoreError("over-quota", "mailbox quota exceeded");
}

/** Internal dates cross threads as ms; NaN is a bad date. */
export function checkInternalDate(ms: number | undefined): void {
  if (ms !== undefined && Number.isNaN(ms)) throw new StoreError("invalid", "bad internal date");
}
