/**
 * Domains owned by accounts.
 *
 * Invariants:
 * - A domain belongs to at most one account (names are globally unique).
 * - Not-yours answers exactly like not-existing: every look-up is scoped by account id in SQL,
 *   so another account's domain yields the same 404 `domain-not-found` as a name nobody holds.
 * - Claiming a name that is already held answers 409 `domain-unavailable` with one fixed
 *   message, whether the holder is the caller or another account. This is the one bit that
 *   cannot be hidden (two accounts cannot hold one domain) and it is public anyway: the domain's
 *   MX records point at the service. Nothing else leaks — not the holder, not its aliases.
 *   (Proof of ownership by a DNS TXT record is not implemented yet; until then the first claim
 *   wins, and an operator settles disputes.)
 */
import { ApiError } from "../errors.ts";
import { newId, nowIso } from "../ids.ts";
import { DOMAINS_PER_ACCOUNT_MAX } from "../limits.ts";
import { normalizeDomain } from "../aliases/address.ts";

export interface DomainData {
  name: string;
  aliasCount: number;
  createdAt: string;
}

export interface OwnedDomainData {
  id: string;
  name: string;
}

const NOT_FOUND_MESSAGE = "No such domain";

/** The canonical name, or 400 `invalid-domain`. */
export function requireDomainName(text: string): string {
  const name = normalizeDomain(text);
  if (name === null) throw new ApiError(400, "invalid-domain", "Not a valid domain name");
  return name;
}

/** The caller's domain `name`, or 404 — identical for "another account's" and "nobody's". */
export async function requireOwnedDomain(db: D1Database, accountId: string, name: string): Promise<OwnedDomainData> {
  const canonical = requireDomainName(name);
  const row = await db
    .prepare("SELECT id, name FROM domains WHERE name = ? AND account_id = ?")
    .bind(canonical, accountId)
    .first<OwnedDomainData>();
  if (row === null) throw new ApiError(404, "domain-not-found", NOT_FOUND_MESSAGE);
  return row;
}

export async function claimDomain(db: D1Database, accountId: string, name: string): Promise<DomainData> {
  const canonical = requireDomainName(name);
  const createdAt = nowIso();
  // The per-account limit is checked inside the INSERT, so concurrent claims cannot pass it.
  const inserted = await db
    .prepare(
      `INSERT INTO domains (id, account_id, name, created_at)
       SELECT ?1, ?2, ?3, ?4 WHERE (SELECT COUNT(*) FROM domains WHERE account_id = ?2) < ?5
       ON CONFLICT (name) DO NOTHING`,
    )
    .bind(newId("dom"), accountId, canonical, createdAt, DOMAINS_PER_ACCOUNT_MAX)
    .run();
  if (inserted.meta.changes === 0) {
    const count = await db.prepare("SELECT COUNT(*) AS n FROM domains WHERE account_id = ?").bind(accountId).first<{ n: number }>();
    if ((count?.n ?? 0) >= DOMAINS_PER_ACCOUNT_MAX) {
      throw new ApiError(409, "too-many-domains", `An account may hold at most ${DOMAINS_PER_ACCOUNT_MAX} domains`);
    }
    throw new ApiError(409, "domain-unavailable", "This domain cannot be added");
  }
  return { name: canonical, aliasCount: 0, createdAt };
}

const DOMAIN_SELECT = `SELECT d.name, d.created_at, (SELECT COUNT(*) FROM aliases a WHERE a.domain_id = d.id) AS alias_count
                         FROM domains d`;

interface DomainRow {
  name: string;
  created_at: string;
  alias_count: number;
}

function toDomainData(row: DomainRow): DomainData {
  return { name: row.name, aliasCount: row.alias_count, createdAt: row.created_at };
}

export async function listDomains(db: D1Database, accountId: string): Promise<DomainData[]> {
  const { results } = await db
    .prepare(`${DOMAIN_SELECT} WHERE d.account_id = ? ORDER BY d.name`)
    .bind(accountId)
    .all<DomainRow>();
  return results.map(toDomainData);
}

export async function getDomain(db: D1Database, accountId: string, name: string): Promise<DomainData> {
  const domain = await requireOwnedDomain(db, accountId, name);
  const row = await db.prepare(`${DOMAIN_SELECT} WHERE d.id = ?`).bind(domain.id).first<DomainRow>();
  if (row === null) throw new ApiError(404, "domain-not-found", NOT_FOUND_MESSAGE);
  return toDomainData(row);
}

/**
 * Deletes the domain with all its aliases, passwords, forwards and webhooks. Returns the
 * addresses that stopped existing, for the caller to push to the nodes.
 */
export async function deleteDomain(db: D1Database, accountId: string, name: string): Promise<string[]> {
  const domain = await requireOwnedDomain(db, accountId, name);
  const { results } = await db
    .prepare("SELECT local_part FROM aliases WHERE domain_id = ?")
    .bind(domain.id)
    .all<{ local_part: string }>();
  await db.prepare("DELETE FROM domains WHERE id = ? AND account_id = ?").bind(domain.id, accountId).run();
  return results.map((row) => `${row.local_part}@${domain.name}`);
}
