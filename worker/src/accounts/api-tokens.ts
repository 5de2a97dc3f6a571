/**
 * API tokens: bearer credentials for account routes.
 *
 * Invariants:
 * - A token is shown to its owner once; D1 holds only SHA-256(token) (shared/crypto/tokens.ts),
 *   which is also the look-up key.
 * - Anything that does not have the exact shape of a generated token is refused before any
 *   look-up.
 */
import { generateApiToken, hashToken, isApiToken } from "../../../shared/crypto/tokens.ts";
import { newId, nowIso } from "../ids.ts";

/** Token use is recorded at most this often, so authenticated reads do not all become writes. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Creates a token for `accountId` and returns it (the only time it exists in clear). */
export async function issueApiToken(db: D1Database, accountId: string): Promise<string> {
  const token = generateApiToken();
  await db
    .prepare("INSERT INTO api_tokens (id, account_id, token_hash, created_at) VALUES (?, ?, ?, ?)")
    .bind(newId("tok"), accountId, hashToken(token), nowIso())
    .run();
  return token;
}

/** The account a presented token belongs to, or null. */
export async function verifyApiToken(db: D1Database, token: string, now: number = Date.now()): Promise<string | null> {
  if (!isApiToken(token)) return null;
  const row = await db
    .prepare("SELECT id, account_id, last_used_at FROM api_tokens WHERE token_hash = ?")
    .bind(hashToken(token))
    .first<{ id: string; account_id: string; last_used_at: string | null }>();
  if (row === null) return null;
  if (row.last_used_at === null || Date.parse(row.last_used_at) < now - LAST_USED_RESOLUTION_MS) {
    await db.prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").bind(nowIso(now), row.id).run();
  }
  return row.account_id;
}
