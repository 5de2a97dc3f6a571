/**
 * Directory look-ups for the storage nodes (called by the tunnel, see tunnel/node-tunnel.ts).
 * Plain functions over D1; the shapes are the contract in shared/tunnel/records.ts.
 *
 * Invariants:
 * - Addresses match case-insensitively (both parts are stored canonical; see aliases/address.ts).
 *   Anything that is not a valid alias address is simply "not found".
 * - Only non-revoked passwords are returned, as (id, salt, wrapped MK): never a password.
 * - An alias without any password yet has no sealing key and nothing to log in with, so it has
 *   no credential record (null) and is never placed.
 * - Placement is first-come: the first node that looks up credentials for an unplaced alias,
 *   or that receives mail for it (`placeMailbox`), becomes its home node, atomically (a
 *   conditional UPDATE), so two nodes racing agree on one.
 * - A node's peer URL is only ever written by that node (over its authenticated tunnel).
 */
import type { PeerNodeData } from "../../shared/tunnel/messages.ts";
import type { AliasRouteData, CredentialRecordData, PasswordCredentialData } from "../../shared/tunnel/records.ts";
import { parseAliasAddress } from "./aliases/address.ts";
import { nowIso } from "./ids.ts";

interface AliasDirectoryRow {
  id: string;
  local_part: string;
  domain: string;
  imap: number;
  quota_bytes: number | null;
  mailbox_id: string;
  home_node: string | null;
  generation: number;
  sealing_public_key: string | null;
  sealing_secret_wrapped: string | null;
}

async function findAlias(db: D1Database, address: string): Promise<AliasDirectoryRow | null> {
  const parsed = parseAliasAddress(address);
  if (parsed === null) return null;
  return db
    .prepare(
      `SELECT a.id, a.local_part, d.name AS domain, a.imap, a.quota_bytes, a.mailbox_id, a.home_node,
              a.generation, a.sealing_public_key, a.sealing_secret_wrapped
         FROM aliases a JOIN domains d ON d.id = a.domain_id
        WHERE d.name = ? AND a.local_part = ?`,
    )
    .bind(parsed.domain, parsed.localPart)
    .first<AliasDirectoryRow>();
}

/** The active passwords of an alias, oldest first. */
export async function activePasswords(db: D1Database, aliasId: string): Promise<PasswordCredentialData[]> {
  const { results } = await db
    .prepare(
      "SELECT id, salt, wrapped_key FROM alias_passwords WHERE alias_id = ? AND revoked_at IS NULL ORDER BY created_at, id",
    )
    .bind(aliasId)
    .all<{ id: string; salt: string; wrapped_key: string }>();
  return results.map((row) => ({ id: row.id, salt: row.salt, wrappedKey: row.wrapped_key }));
}

/**
 * Everything a node needs to check a login for `address` and open its mailbox, or null when
 * the address is unknown or has no password. Places the mailbox on `requestingNodeId` when it
 * has no home node yet.
 */
export async function lookupCredentials(
  db: D1Database,
  address: string,
  requestingNodeId: string,
): Promise<CredentialRecordData | null> {
  const alias = await findAlias(db, address);
  if (alias === null || alias.sealing_public_key === null || alias.sealing_secret_wrapped === null) return null;

  const homeNode = alias.home_node ?? (await placeAlias(db, alias.id, requestingNodeId));

  return {
    address: `${alias.local_part}@${alias.domain}`,
    aliasId: alias.id,
    mailboxId: alias.mailbox_id,
    homeNode,
    imap: alias.imap === 1,
    quotaBytes: alias.quota_bytes,
    generation: alias.generation,
    sealingPublicKey: alias.sealing_public_key,
    sealingSecretWrapped: alias.sealing_secret_wrapped,
    passwords: await activePasswords(db, alias.id),
  };
}

/** Places an unplaced alias on `nodeId` (first come) and returns its home node after the race. */
async function placeAlias(db: D1Database, aliasId: string, nodeId: string): Promise<string | null> {
  await db
    .prepare("UPDATE aliases SET home_node = ?1 WHERE id = ?2 AND home_node IS NULL AND EXISTS (SELECT 1 FROM nodes WHERE id = ?1)")
    .bind(nodeId, aliasId)
    .run();
  const placed = await db.prepare("SELECT home_node FROM aliases WHERE id = ?").bind(aliasId).first<{ home_node: string | null }>();
  return placed?.home_node ?? null;
}

/**
 * Mail arrived on `nodeId` for a mailbox with no home node: the same first-come placement as a
 * login, so the mail can be spooled where the first login will drain it. Returns the home node
 * (the asking node, or whoever won the race); null when the mailbox has no key yet (no password).
 */
export async function placeMailbox(db: D1Database, mailboxId: string, nodeId: string): Promise<string | null> {
  const alias = await db
    .prepare("SELECT id, home_node FROM aliases WHERE mailbox_id = ? AND sealing_public_key IS NOT NULL")
    .bind(mailboxId)
    .first<{ id: string; home_node: string | null }>();
  if (alias === null) return null;
  return alias.home_node ?? (await placeAlias(db, alias.id, nodeId));
}

/** A node records where it accepts peer links. */
export async function announceNode(db: D1Database, nodeId: string, peerUrl: string): Promise<void> {
  await db.prepare("UPDATE nodes SET peer_url = ? WHERE id = ?").bind(peerUrl, nodeId).run();
}

/** What a node needs to dial and authenticate another node, or null when it is not registered. */
export async function lookupNode(db: D1Database, nodeId: string): Promise<PeerNodeData | null> {
  const row = await db
    .prepare("SELECT id, public_key, peer_url FROM nodes WHERE id = ?")
    .bind(nodeId)
    .first<{ id: string; public_key: string; peer_url: string | null }>();
  return row === null ? null : { nodeId: row.id, publicKey: row.public_key, peerUrl: row.peer_url };
}

/** How the MX routes mail for `address`, or null when it is not a known alias. */
export async function resolveAlias(db: D1Database, address: string): Promise<AliasRouteData | null> {
  const alias = await findAlias(db, address);
  if (alias === null) return null;
  const [forwards, webhooks] = await db.batch([
    db.prepare("SELECT address FROM alias_forwards WHERE alias_id = ? ORDER BY position").bind(alias.id),
    db.prepare("SELECT id, url, signing_key FROM alias_webhooks WHERE alias_id = ? ORDER BY position").bind(alias.id),
  ]);
  return {
    address: `${alias.local_part}@${alias.domain}`,
    aliasId: alias.id,
    // The mailbox exists once it has a key, i.e. once the first password was made.
    mailboxId: alias.sealing_public_key === null ? null : alias.mailbox_id,
    homeNode: alias.home_node,
    imap: alias.imap === 1,
    quotaBytes: alias.quota_bytes,
    sealingPublicKey: alias.sealing_public_key,
    forwardTo: (forwards.results as { address: string }[]).map((row) => row.address),
    webhooks: (webhooks.results as { id: string; url: string; signing_key: string }[]).map((row) => ({
      id: row.id,
      url: row.url,
      signingKey: row.signing_key,
    })),
  };
}

/** The registered Ed25519 public key (base64) of a node, or null when it is not registered. */
export async function getNodePublicKey(db: D1Database, nodeId: string): Promise<string | null> {
  const row = await db.prepare("SELECT public_key FROM nodes WHERE id = ?").bind(nodeId).first<{ public_key: string }>();
  return row?.public_key ?? null;
}

/** Records that a password was just used for a successful login. */
export async function touchPasswordUsed(db: D1Database, passwordId: string): Promise<void> {
  await db.prepare("UPDATE alias_passwords SET last_used_at = ? WHERE id = ?").bind(nowIso(), passwordId).run();
}

/** Records that a node was just seen (tunnel connect or heartbeat). */
export async function touchNodeSeen(db: D1Database, nodeId: string): Promise<void> {
  await db.prepare("UPDATE nodes SET last_seen_at = ? WHERE id = ?").bind(nowIso(), nodeId).run();
}

/**
 * A node reports that a password was just used to log in. Only the mailbox's
 * home node may say so (anything else is ignored), so a node cannot touch
 * records of mailboxes it does not hold.
 */
export async function recordPasswordUse(db: D1Database, passwordId: string, nodeId: string): Promise<void> {
  await db
    .prepare(
      "UPDATE alias_passwords SET last_used_at = ? WHERE id = ? AND alias_id IN (SELECT id FROM aliases WHERE home_node = ?)",
    )
    .bind(nowIso(), passwordId, nodeId)
    .run();
}

/**
 * Mirrors a mailbox's freshness generation (DESIGN §4): the edge keeps the
 * highest generation the home node has reported, and hands it out as the
 * minimum a file must have to be opened, so an older copy of the file put back
 * on disk is refused. Never moves backwards; only the home node may report.
 */
export async function recordGeneration(db: D1Database, mailboxId: string, generation: number, nodeId: string): Promise<void> {
  await db
    .prepare("UPDATE aliases SET generation = MAX(generation, ?) WHERE mailbox_id = ? AND home_node = ?")
    .bind(generation, mailboxId, nodeId)
    .run();
}
