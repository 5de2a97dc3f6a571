/**
 * Throttle for failed logins and failed second-factor checks.
 *
 * Invariants:
 * - Keyed by SHA-256 of a purpose-prefixed name (e.g. "login:" + e-mail), so the table holds no
 *   address, and unknown names are throttled exactly like known ones: the throttle never tells
 *   whether an account exists.
 * - After LOGIN_MAX_FAILURES failures within LOGIN_FAILURE_WINDOW_MS the key is locked for
 *   LOGIN_LOCK_MS; while locked every attempt is refused with 429 before any credential check,
 *   even a correct one. A success clears the key.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex, utf8 } from "../../../shared/crypto/encoding.ts";
import { ApiError } from "../errors.ts";
import { LOGIN_FAILURE_WINDOW_MS, LOGIN_LOCK_MS, LOGIN_MAX_FAILURES } from "../limits.ts";

export function throttleKey(purpose: "login" | "totp", name: string): string {
  return toHex(sha256(utf8(`${purpose}:${name}`)));
}

interface ThrottleRow {
  failures: number;
  window_start_ms: number;
  locked_until_ms: number | null;
}

/** Throws 429 `too-many-attempts` while `key` is locked. */
export async function assertNotThrottled(db: D1Database, key: string, now: number): Promise<void> {
  const row = await db.prepare("SELECT * FROM login_throttle WHERE key_hash = ?").bind(key).first<ThrottleRow>();
  if (row?.locked_until_ms != null && row.locked_until_ms > now) {
    throw new ApiError(429, "too-many-attempts", "Too many failed attempts; try again later");
  }
}

/** Counts one failure against `key`, locking it when the limit is reached. */
export async function recordFailure(db: D1Database, key: string, now: number): Promise<void> {
  // One statement, so concurrent failures cannot lose counts.
  await db
    .prepare(
      `INSERT INTO login_throttle (key_hash, failures, window_start_ms, locked_until_ms)
       VALUES (?1, 1, ?2, CASE WHEN 1 >= ?3 THEN ?2 + ?5 ELSE NULL END)
       ON CONFLICT (key_hash) DO UPDATE SET
         failures = CASE WHEN window_start_ms + ?4 <= ?2 OR (locked_until_ms IS NOT NULL AND locked_until_ms <= ?2)
                         THEN 1 ELSE failures + 1 END,
         window_start_ms = CASE WHEN window_start_ms + ?4 <= ?2 OR (locked_until_ms IS NOT NULL AND locked_until_ms <= ?2)
                                THEN ?2 ELSE window_start_ms END,
         locked_until_ms = CASE WHEN (CASE WHEN window_start_ms + ?4 <= ?2 OR (locked_until_ms IS NOT NULL AND locked_until_ms <= ?2)
                                           THEN 1 ELSE failures + 1 END) >= ?3
                                THEN ?2 + ?5 ELSE NULL END`,
    )
    .bind(key, now, LOGIN_MAX_FAILURES, LOGIN_FAILURE_WINDOW_MS, LOGIN_LOCK_MS)
    .run();
}

export async function clearFailures(db: D1Database, key: string): Promise<void> {
  await db.prepare("DELETE FROM login_throttle WHERE key_hash = ?").bind(key).run();
}
