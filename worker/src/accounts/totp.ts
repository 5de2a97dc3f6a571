/**
 * TOTP second factor for account login (RFC 6238, SHA-1, 6 digits, 30 s steps).
 *
 * Invariants:
 * - Enrolment is two-step: `startTotpEnrolment` stores a *pending* secret and returns it with
 *   its otpauth URI; only `confirmTotpEnrolment` with a valid code makes it active, so an
 *   account is never locked behind a secret its owner could not scan.
 * - A code is accepted at most once: the accepted time step is recorded and a code for that
 *   step or an earlier one is refused (RFC 6238 §5.2).
 * - Disabling requires a valid current code.
 * - Failed code checks on an authenticated account are throttled like logins, so a stolen API
 *   token cannot be used to brute-force the second factor.
 */
import { generateTotpSecret, matchTotp, totpUri } from "../../../shared/crypto/totp.ts";
import { ApiError } from "../errors.ts";
import { TOTP_WINDOW_STEPS } from "../limits.ts";
import { assertNotThrottled, clearFailures, recordFailure, throttleKey } from "./login-throttle.ts";

const ISSUER = "Sealbox";

/** The time step `code` is valid for within the window around `now`, or null. */
function matchTotpStep(secret: string, code: string, now: number): number | null {
  return matchTotp(secret, code, now, TOTP_WINDOW_STEPS);
}

/**
 * Accepts `code` for the account's active secret when it is valid and newer than the last
 * accepted step, recording the step. False otherwise.
 */
export async function acceptTotpCode(
  db: D1Database,
  accountId: string,
  secret: string,
  lastStep: number | null,
  code: string,
  now: number,
): Promise<boolean> {
  const step = matchTotpStep(secret, code, now);
  if (step === null || (lastStep !== null && step <= lastStep)) return false;
  // Conditional on the step, so two concurrent requests with one code cannot both succeed.
  const updated = await db
    .prepare("UPDATE accounts SET totp_last_step = ?1 WHERE id = ?2 AND (totp_last_step IS NULL OR totp_last_step < ?1)")
    .bind(step, accountId)
    .run();
  return updated.meta.changes === 1;
}

interface TotpRow {
  email: string;
  totp_secret: string | null;
  totp_pending_secret: string | null;
  totp_last_step: number | null;
}

async function totpRow(db: D1Database, accountId: string): Promise<TotpRow> {
  const row = await db
    .prepare("SELECT email, totp_secret, totp_pending_secret, totp_last_step FROM accounts WHERE id = ?")
    .bind(accountId)
    .first<TotpRow>();
  if (row === null) throw new ApiError(401, "unauthorized", "Missing or invalid API token");
  return row;
}

export interface TotpEnrolmentData {
  /** Base32 secret, shown during enrolment only. */
  secret: string;
  /** otpauth:// URI for authenticator apps. */
  uri: string;
}

export async function startTotpEnrolment(db: D1Database, accountId: string): Promise<TotpEnrolmentData> {
  const row = await totpRow(db, accountId);
  if (row.totp_secret !== null) throw new ApiError(409, "totp-already-enabled", "TOTP is already enabled");
  const secret = generateTotpSecret();
  await db.prepare("UPDATE accounts SET totp_pending_secret = ? WHERE id = ?").bind(secret, accountId).run();
  return { secret, uri: totpUri(secret, row.email, ISSUER) };
}

async function checkCode(db: D1Database, accountId: string, secret: string, code: string, now: number): Promise<number> {
  const key = throttleKey("totp", accountId);
  await assertNotThrottled(db, key, now);
  const step = matchTotpStep(secret, code, now);
  if (step === null) {
    await recordFailure(db, key, now);
    throw new ApiError(400, "invalid-totp-code", "The TOTP code is not valid");
  }
  await clearFailures(db, key);
  return step;
}

export async function confirmTotpEnrolment(db: D1Database, accountId: string, code: string, now: number = Date.now()): Promise<void> {
  const row = await totpRow(db, accountId);
  if (row.totp_secret !== null) throw new ApiError(409, "totp-already-enabled", "TOTP is already enabled");
  if (row.totp_pending_secret === null) throw new ApiError(409, "totp-not-pending", "Start TOTP enrolment first");
  const step = await checkCode(db, accountId, row.totp_pending_secret, code, now);
  await db
    .prepare(
      "UPDATE accounts SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_last_step = ? WHERE id = ?",
    )
    .bind(step, accountId)
    .run();
}

export async function disableTotp(db: D1Database, accountId: string, code: string, now: number = Date.now()): Promise<void> {
  const row = await totpRow(db, accountId);
  if (row.totp_secret === null) throw new ApiError(409, "totp-not-enabled", "TOTP is not enabled");
  const key = throttleKey("totp", accountId);
  await assertNotThrottled(db, key, now);
  if (!(await acceptTotpCode(db, accountId, row.totp_secret, row.totp_last_step, code, now))) {
    await recordFailure(db, key, now);
    throw new ApiError(400, "invalid-totp-code", "The TOTP code is not valid");
  }
  await clearFailures(db, key);
  await db
    .prepare("UPDATE accounts SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL WHERE id = ?")
    .bind(accountId)
    .run();
}
