/**
 * Aliases: the addresses of a domain, with their destinations (IMAP storage, forward
 * recipients, webhooks).
 *
 * Invariants:
 * - Every look-up goes through the caller's own domain (requireOwnedDomain), so another
 *   account's alias answers exactly like one that never existed.
 * - An alias always has a destination: IMAP on, or at least one forward or webhook.
 * - The mailbox id is random (ids.ts), made once with the alias, never derived from the address.
 * - A webhook's signing key is generated here and returned only in the answer that created it;
 *   afterwards it is only ever sent to nodes (directory.ts).
 * - A forward to the alias's own address is refused (it would loop).
 */
import { randomBytes, toBase64 } from "../../../shared/crypto/encoding.ts";
import { requireOwnedDomain } from "../domains/domains.ts";
import { ApiError } from "../errors.ts";
import { newId, nowIso } from "../ids.ts";
import { ALIASES_PER_DOMAIN_MAX, FORWARDS_PER_ALIAS_MAX, WEBHOOKS_PER_ALIAS_MAX } from "../limits.ts";
import { normalizeAliasLocalPart, normalizeForwardAddress, normalizeWebhookUrl, type WebhookUrlOptions } from "./address.ts";
import { EMPTY_WEBHOOK_STATUS, toWebhookStatus, WEBHOOK_STATUS_COLUMNS, type WebhookStatusData, type WebhookStatusRow } from "./webhook-status.ts";

export interface WebhookInput {
  url: string;
}

export interface CreateAliasOptions {
  localPart: string;
  forwardTo?: string[];
  webhooks?: WebhookInput[];
  imap?: boolean;
  quotaBytes?: number | null;
}

export interface UpdateAliasOptions {
  forwardTo?: string[];
  webhooks?: WebhookInput[];
  imap?: boolean;
  quotaBytes?: number | null;
}

export interface WebhookData {
  id: string;
  url: string;
  /** Present only in the answer that created the webhook. */
  signingKey?: string;
  /** Delivery status reported by the nodes. */
  status: WebhookStatusData;
}

export interface AliasData {
  address: string;
  localPart: string;
  forwardTo: string[];
  webhooks: WebhookData[];
  imap: boolean;
  quotaBytes: number | null;
  mailboxId: string;
  /** Active (non-revoked) passwords. */
  passwordCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface OwnedAliasData {
  id: string;
  domainId: string;
  localPart: string;
  domain: string;
  address: string;
  sealingPublicKey: string | null;
}

const NOT_FOUND_MESSAGE = "No such alias";

function aliasNotFound(): ApiError {
  return new ApiError(404, "alias-not-found", NOT_FOUND_MESSAGE);
}

/** The caller's alias, or 404 (for a bad local part too: syntax says nothing about existence). */
export async function requireOwnedAlias(
  db: D1Database,
  accountId: string,
  domainName: string,
  localPart: string,
): Promise<OwnedAliasData> {
  const domain = await requireOwnedDomain(db, accountId, domainName);
  const local = normalizeAliasLocalPart(localPart);
  if (local === null) throw aliasNotFound();
  const row = await db
    .prepare("SELECT id, sealing_public_key FROM aliases WHERE domain_id = ? AND local_part = ?")
    .bind(domain.id, local)
    .first<{ id: string; sealing_public_key: string | null }>();
  if (row === null) throw aliasNotFound();
  return {
    id: row.id,
    domainId: domain.id,
    localPart: local,
    domain: domain.name,
    address: `${local}@${domain.name}`,
    sealingPublicKey: row.sealing_public_key,
  };
}

function normalizeForwards(list: string[], ownAddress: string): string[] {
  if (list.length > FORWARDS_PER_ALIAS_MAX) {
    throw new ApiError(400, "too-many-forwards", `At most ${FORWARDS_PER_ALIAS_MAX} forward addresses`);
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (const [index, text] of list.entries()) {
    const address = normalizeForwardAddress(text);
    if (address === null) throw new ApiError(400, "invalid-forward-address", `forwardTo.${index} is not a valid e-mail address`);
    const key = address.toLowerCase();
    if (key === ownAddress) throw new ApiError(400, "forward-loop", `forwardTo.${index} is the alias itself`);
    if (seen.has(key)) throw new ApiError(400, "duplicate-forward-address", `forwardTo.${index} is listed twice`);
    seen.add(key);
    out.push(address);
  }
  return out;
}

function normalizeWebhooks(list: WebhookInput[], options: WebhookUrlOptions): string[] {
  if (list.length > WEBHOOKS_PER_ALIAS_MAX) {
    throw new ApiError(400, "too-many-webhooks", `At most ${WEBHOOKS_PER_ALIAS_MAX} webhooks`);
  }
  const out: string[] = [];
  for (const [index, hook] of list.entries()) {
    const url = normalizeWebhookUrl(hook.url, options);
    if (url === null) {
      throw new ApiError(400, "invalid-webhook-url", `webhooks.${index}.url must be an https URL on a public host name`);
    }
    if (out.includes(url)) throw new ApiError(400, "duplicate-webhook-url", `webhooks.${index}.url is listed twice`);
    out.push(url);
  }
  return out;
}

function assertHasDestination(imap: boolean, forwards: number, webhooks: number): void {
  if (!imap && forwards === 0 && webhooks === 0) {
    throw new ApiError(400, "no-destination", "An alias needs IMAP storage, a forward address or a webhook");
  }
}

function webhookStatements(db: D1Database, aliasId: string, urls: string[], existing: Map<string, string>) {
  const created: WebhookData[] = [];
  const statements: D1PreparedStatement[] = [];
  const result: WebhookData[] = [];
  for (const [position, url] of urls.entries()) {
    const keptId = existing.get(url);
    if (keptId !== undefined) {
      statements.push(db.prepare("UPDATE alias_webhooks SET position = ? WHERE id = ?").bind(position, keptId));
      result.push({ id: keptId, url, status: EMPTY_WEBHOOK_STATUS });
      continue;
    }
    const hook = { id: newId("whk"), url, signingKey: toBase64(randomBytes(32)), status: EMPTY_WEBHOOK_STATUS };
    statements.push(
      db
        .prepare("INSERT INTO alias_webhooks (id, alias_id, position, url, signing_key, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(hook.id, aliasId, position, url, hook.signingKey, nowIso()),
    );
    created.push(hook);
    result.push(hook);
  }
  return { statements, result, created };
}

function forwardStatements(db: D1Database, aliasId: string, forwards: string[]): D1PreparedStatement[] {
  return [
    db.prepare("DELETE FROM alias_forwards WHERE alias_id = ?").bind(aliasId),
    ...forwards.map((address, position) =>
      db.prepare("INSERT INTO alias_forwards (alias_id, position, address) VALUES (?, ?, ?)").bind(aliasId, position, address),
    ),
  ];
}

export async function createAlias(
  db: D1Database,
  accountId: string,
  domainName: string,
  options: CreateAliasOptions,
  urlOptions: WebhookUrlOptions,
): Promise<AliasData> {
  const domain = await requireOwnedDomain(db, accountId, domainName);
  const local = normalizeAliasLocalPart(options.localPart);
  if (local === null) throw new ApiError(400, "invalid-local-part", "localPart is not a valid alias name");
  const address = `${local}@${domain.name}`;
  const imap = options.imap ?? true;
  const forwards = normalizeForwards(options.forwardTo ?? [], address);
  const webhookUrls = normalizeWebhooks(options.webhooks ?? [], urlOptions);
  assertHasDestination(imap, forwards.length, webhookUrls.length);

  const aliasId = newId("ali");
  const now = nowIso();
  const inserted = await db
    .prepare(
      `INSERT INTO aliases (id, domain_id, local_part, imap, quota_bytes, mailbox_id, created_at, updated_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7 WHERE (SELECT COUNT(*) FROM aliases WHERE domain_id = ?2) < ?8
       ON CONFLICT (domain_id, local_part) DO NOTHING`,
    )
    .bind(aliasId, domain.id, local, imap ? 1 : 0, options.quotaBytes ?? null, newId("mbx"), now, ALIASES_PER_DOMAIN_MAX)
    .run();
  if (inserted.meta.changes === 0) {
    const exists = await db
      .prepare("SELECT 1 FROM aliases WHERE domain_id = ? AND local_part = ?")
      .bind(domain.id, local)
      .first();
    if (exists !== null) throw new ApiError(409, "alias-exists", "The alias already exists");
    throw new ApiError(409, "too-many-aliases", `A domain may hold at most ${ALIASES_PER_DOMAIN_MAX} aliases`);
  }
  const hooks = webhookStatements(db, aliasId, webhookUrls, new Map());
  const statements = [...forwardStatements(db, aliasId, forwards), ...hooks.statements];
  if (statements.length > 0) await db.batch(statements);
  const alias = await readAlias(db, aliasId, address);
  const keys = new Map(hooks.created.map((hook) => [hook.id, hook.signingKey]));
  return { ...alias, webhooks: alias.webhooks.map((hook) => (keys.has(hook.id) ? { ...hook, signingKey: keys.get(hook.id) } : hook)) };
}

interface AliasRow {
  id: string;
  local_part: string;
  imap: number;
  quota_bytes: number | null;
  mailbox_id: string;
  created_at: string;
  updated_at: string;
  password_count: number;
}

async function readAlias(db: D1Database, aliasId: string, address: string): Promise<AliasData> {
  const [aliasResult, forwardResult, webhookResult] = await db.batch([
    db
      .prepare(
        `SELECT a.*, (SELECT COUNT(*) FROM alias_passwords p WHERE p.alias_id = a.id AND p.revoked_at IS NULL) AS password_count
           FROM aliases a WHERE a.id = ?`,
      )
      .bind(aliasId),
    db.prepare("SELECT address FROM alias_forwards WHERE alias_id = ? ORDER BY position").bind(aliasId),
    db
      .prepare(`SELECT w.id, w.url, ${WEBHOOK_STATUS_COLUMNS} FROM alias_webhooks w LEFT JOIN webhook_status s ON s.webhook_id = w.id WHERE w.alias_id = ? ORDER BY w.position`)
      .bind(aliasId),
  ]);
  const row = (aliasResult.results as AliasRow[])[0];
  if (row === undefined) throw aliasNotFound();
  return toAliasData(
    row,
    address,
    (forwardResult.results as { address: string }[]).map((forward) => forward.address),
    (webhookResult.results as ({ id: string; url: string } & WebhookStatusRow)[]).map((hook) => ({ id: hook.id, url: hook.url, status: toWebhookStatus(hook) })),
  );
}

function toAliasData(row: AliasRow, address: string, forwardTo: string[], webhooks: WebhookData[]): AliasData {
  return {
    address,
    localPart: row.local_part,
    forwardTo,
    webhooks,
    imap: row.imap === 1,
    quotaBytes: row.quota_bytes,
    mailboxId: row.mailbox_id,
    passwordCount: row.password_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function getAlias(db: D1Database, accountId: string, domainName: string, localPart: string): Promise<AliasData> {
  const alias = await requireOwnedAlias(db, accountId, domainName, localPart);
  return readAlias(db, alias.id, alias.address);
}

export async function listAliases(db: D1Database, accountId: string, domainName: string): Promise<AliasData[]> {
  const domain = await requireOwnedDomain(db, accountId, domainName);
  // Three queries for the whole domain, not three per alias.
  const [aliasResult, forwardResult, webhookResult] = await db.batch([
    db
      .prepare(
        `SELECT a.*, (SELECT COUNT(*) FROM alias_passwords p WHERE p.alias_id = a.id AND p.revoked_at IS NULL) AS password_count
           FROM aliases a WHERE a.domain_id = ? ORDER BY a.local_part`,
      )
      .bind(domain.id),
    db
      .prepare(
        `SELECT f.alias_id, f.address FROM alias_forwards f JOIN aliases a ON a.id = f.alias_id
          WHERE a.domain_id = ? ORDER BY f.alias_id, f.position`,
      )
      .bind(domain.id),
    db
      .prepare(
        `SELECT w.alias_id, w.id, w.url, ${WEBHOOK_STATUS_COLUMNS} FROM alias_webhooks w JOIN aliases a ON a.id = w.alias_id
           LEFT JOIN webhook_status s ON s.webhook_id = w.id
          WHERE a.domain_id = ? ORDER BY w.alias_id, w.position`,
      )
      .bind(domain.id),
  ]);
  const forwards = new Map<string, string[]>();
  for (const row of forwardResult.results as { alias_id: string; address: string }[]) {
    forwards.set(row.alias_id, [...(forwards.get(row.alias_id) ?? []), row.address]);
  }
  const webhooks = new Map<string, WebhookData[]>();
  for (const row of webhookResult.results as ({ alias_id: string; id: string; url: string } & WebhookStatusRow)[]) {
    webhooks.set(row.alias_id, [...(webhooks.get(row.alias_id) ?? []), { id: row.id, url: row.url, status: toWebhookStatus(row) }]);
  }
  return (aliasResult.results as AliasRow[]).map((row) =>
    toAliasData(row, `${row.local_part}@${domain.name}`, forwards.get(row.id) ?? [], webhooks.get(row.id) ?? []),
  );
}

/**
 * Changes destinations and settings. `forwardTo` and `webhooks` replace their lists; a webhook
 * whose URL was already listed keeps its id and signing key, a new URL gets a new key (returned
 * in this answer only).
 */
export async function updateAlias(
  db: D1Database,
  accountId: string,
  domainName: string,
  localPart: string,
  options: UpdateAliasOptions,
  urlOptions: WebhookUrlOptions,
): Promise<AliasData> {
  const owned = await requireOwnedAlias(db, accountId, domainName, localPart);
  const current = await readAlias(db, owned.id, owned.address);
  const imap = options.imap ?? current.imap;
  const forwards = options.forwardTo === undefined ? current.forwardTo : normalizeForwards(options.forwardTo, owned.address);
  const webhookUrls =
    options.webhooks === undefined ? current.webhooks.map((hook) => hook.url) : normalizeWebhooks(options.webhooks, urlOptions);
  assertHasDestination(imap, forwards.length, webhookUrls.length);

  const statements: D1PreparedStatement[] = [
    db
      .prepare("UPDATE aliases SET imap = ?, quota_bytes = ?, updated_at = ? WHERE id = ?")
      .bind(imap ? 1 : 0, options.quotaBytes === undefined ? current.quotaBytes : options.quotaBytes, nowIso(), owned.id),
  ];
  if (options.forwardTo !== undefined) statements.push(...forwardStatements(db, owned.id, forwards));
  let created: WebhookData[] = [];
  if (options.webhooks !== undefined) {
    const existing = new Map(current.webhooks.map((hook) => [hook.url, hook.id]));
    const keep = new Set(webhookUrls);
    for (const hook of current.webhooks) {
      if (!keep.has(hook.url)) statements.push(db.prepare("DELETE FROM alias_webhooks WHERE id = ?").bind(hook.id));
    }
    const hooks = webhookStatements(db, owned.id, webhookUrls, existing);
    statements.push(...hooks.statements);
    created = hooks.created;
  }
  await db.batch(statements);
  const updated = await readAlias(db, owned.id, owned.address);
  const keys = new Map(created.map((hook) => [hook.id, hook.signingKey]));
  return { ...updated, webhooks: updated.webhooks.map((hook) => (keys.has(hook.id) ? { ...hook, signingKey: keys.get(hook.id) } : hook)) };
}

/** Deletes the alias with its passwords, forwards and webhooks; returns its address. */
export async function deleteAlias(db: D1Database, accountId: string, domainName: string, localPart: string): Promise<string> {
  const owned = await requireOwnedAlias(db, accountId, domainName, localPart);
  await db.prepare("DELETE FROM aliases WHERE id = ?").bind(owned.id).run();
  return owned.address;
}
