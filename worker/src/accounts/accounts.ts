/**
 * Accounts: creation and password login.
 *
 * Invariants:
 * - The account password and API tokens are generated, shown once, stored only as hashes.
 * - A failed login answers the same 401 `invalid-credentials` whether the e-mail is unknown or
 *   the password is wrong, and is throttled by login name (login-throttle.ts) either way.
 * - With TOTP enabled a correct password alone is not enough: without a code the answer is 401
 *   `totp-required` (only after the password was verified), with a wrong or replayed code
 *   `invalid-credentials`, counted as a failure.
 */
import { generatePassword } from "../../../shared/crypto/password.ts";
import { ApiError } from "../errors.ts";
import { newId, nowIso } from "../ids.ts";
import { issueApiToken } from "./api-tokens.ts";
import { assertNotThrottled, clearFailures, recordFailure, throttleKey } from "./login-throttle.ts";
import { hashAccountPassword, verifyAccountPassword } from "./password-hash.ts";
import { acceptTotpCode } from "./totp.ts";

export interface CreateAccountOptions {
  email: string;
}

export interface CreatedAccountData {
  accountId: string;
  email: string;
  /** Shown once. */
  apiToken: string;
  /** Shown once. */
  password: string;
}

export interface AccountData {
  id: string;
  email: string;
  totpEnabled: boolean;
  createdAt: string;
}

export interface LoginOptions {
  email: string;
  password: string;
  totpCode?: string;
}

interface AccountRow {
  id: string;
  email: string;
  password_salt: string;
  password_hash: string;
  totp_secret: string | null;
  totp_last_step: number | null;
  created_at: string;
}

/** Compared against when the login name is unknown; no password hashes to it. */
const UNKNOWN_ACCOUNT_HASH = { salt: "00".repeat(16), hash: "00".repeat(32) };

export async function createAccount(db: D1Database, options: CreateAccountOptions): Promise<CreatedAccountData> {
  const email = options.email.toLowerCase();
  const password = generatePassword();
  const { salt, hash } = hashAccountPassword(password);
  const accountId = newId("acc");
  const inserted = await db
    .prepare(
      `INSERT INTO accounts (id, email, password_salt, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (email) DO NOTHING`,
    )
    .bind(accountId, email, salt, hash, nowIso())
    .run();
  if (inserted.meta.changes === 0) {
    throw new ApiError(409, "email-unavailable", "This e-mail address cannot be used for a new account");
  }
  const apiToken = await issueApiToken(db, accountId);
  return { accountId, email, apiToken, password };
}

export async function getAccount(db: D1Database, accountId: string): Promise<AccountData> {
  const row = await db.prepare("SELECT * FROM accounts WHERE id = ?").bind(accountId).first<AccountRow>();
  // The token resolved to this account a moment ago; a missing row means it was just deleted.
  if (row === null) throw new ApiError(401, "unauthorized", "Missing or invalid API token");
  return { id: row.id, email: row.email, totpEnabled: row.totp_secret !== null, createdAt: row.created_at };
}

/** Checks e-mail, password and (when enrolled) a TOTP code; returns a new API token. */
export async function login(db: D1Database, options: LoginOptions, now: number = Date.now()): Promise<string> {
  const email = options.email.toLowerCase();
  const key = throttleKey("login", email);
  await assertNotThrottled(db, key, now);

  const row = await db.prepare("SELECT * FROM accounts WHERE email = ?").bind(email).first<AccountRow>();
  // An unknown name still costs one hash, so timing does not tell it from a wrong password.
  const stored = row === null ? UNKNOWN_ACCOUNT_HASH : { salt: row.password_salt, hash: row.password_hash };
  const passwordOk = verifyAccountPassword(stored, options.password) && row !== null;
  if (row === null || !passwordOk) {
    await recordFailure(db, key, now);
    throw new ApiError(401, "invalid-credentials", "Invalid e-mail, password or code");
  }
  if (row.totp_secret !== null) {
    if (options.totpCode === undefined) {
      throw new ApiError(401, "totp-required", "A TOTP code is required for this account");
    }
    const accepted = await acceptTotpCode(db, row.id, row.totp_secret, row.totp_last_step, options.totpCode, now);
    if (!accepted) {
      await recordFailure(db, key, now);
      throw new ApiError(401, "invalid-credentials", "Invalid e-mail, password or code");
    }
  }
  await clearFailures(db, key);
  return issueApiToken(db, row.id);
}
