/**
 * Alias passwords (DESIGN §3): generated, shown once, each a separate wrap of the mailbox key.
 *
 * Invariants:
 * - The edge never stores a password or the MK: per password only (salt, MK wrapped under a key
 *   derived from the password). The MK exists in memory only while a password is being made.
 * - The first password of an alias — or the first after every password was revoked — creates a
 *   fresh random MK and a fresh sealing key pair (public half stored, secret half wrapped by the
 *   MK). When earlier passwords existed, nobody can open the old mailbox any more, so the alias
 *   also gets a new mailbox id and generation 0 and is placed afresh: "start over" (DESIGN §3).
 * - A further password needs an existing password to unwrap the MK: missing → 400
 *   `existing-password-required`, not matching any active password → 403
 *   `existing-password-invalid`.
 * - Inserts are conditional on the alias's sealing key being the one the MK belongs to, so a
 *   concurrent "start over" can never leave a password wrapping a stale MK (409, retry).
 * - Listing shows id, label, created and last used: never a salt, a wrap or a password.
 */
import { unwrapMailboxKey, generateMailboxKey, wrapMailboxKey } from "../../../shared/crypto/mailbox-key.ts";
import { generatePassword } from "../../../shared/crypto/password.ts";
import { generateSealingKeyPair, wrapSealingSecret } from "../../../shared/crypto/sealing.ts";
import { toBase64 } from "../../../shared/crypto/encoding.ts";
import { activePasswords } from "../directory.ts";
import { ApiError } from "../errors.ts";
import { newId, nowIso } from "../ids.ts";
import { PASSWORDS_PER_ALIAS_MAX } from "../limits.ts";
import { requireOwnedAlias } from "./aliases.ts";

export interface CreatePasswordOptions {
  label: string;
  existingPassword?: string;
}

export interface CreatedPasswordData {
  id: string;
  label: string;
  /** Shown once. */
  password: string;
  createdAt: string;
  /** True when this password started a new mailbox (first password, or after all were revoked). */
  newMailbox: boolean;
}

export interface PasswordListItemData {
  id: string;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface CreatedPasswordResultData {
  address: string;
  password: CreatedPasswordData;
}

export async function createAliasPassword(
  db: D1Database,
  accountId: string,
  domainName: string,
  localPart: string,
  options: CreatePasswordOptions,
): Promise<CreatedPasswordResultData> {
  const alias = await requireOwnedAlias(db, accountId, domainName, localPart);
  const active = await activePasswords(db, alias.id);
  if (active.length >= PASSWORDS_PER_ALIAS_MAX) {
    throw new ApiError(409, "too-many-passwords", `An alias may have at most ${PASSWORDS_PER_ALIAS_MAX} active passwords`);
  }

  const id = newId("pwd");
  const createdAt = nowIso();
  const password = generatePassword();
  const statements: D1PreparedStatement[] = [];
  let mailboxKey: Uint8Array | null = null;
  let sealingPublicKey: string;
  const newMailbox = active.length === 0;

  try {
    if (newMailbox) {
      mailboxKey = generateMailboxKey();
      const pair = generateSealingKeyPair();
      sealingPublicKey = toBase64(pair.publicKey);
      const sealingSecretWrapped = wrapSealingSecret(pair.secretKey, mailboxKey);
      pair.secretKey.fill(0);
      const startOver = alias.sealingPublicKey !== null;
      statements.push(
        db
          .prepare(
            `UPDATE aliases SET sealing_public_key = ?1, sealing_secret_wrapped = ?2, updated_at = ?3,
                    mailbox_id = CASE WHEN ?4 THEN ?5 ELSE mailbox_id END,
                    generation = CASE WHEN ?4 THEN 0 ELSE generation END,
                    home_node = CASE WHEN ?4 THEN NULL ELSE home_node END
              WHERE id = ?6 AND sealing_public_key IS ?7
                AND NOT EXISTS (SELECT 1 FROM alias_passwords WHERE alias_id = ?6 AND revoked_at IS NULL)`,
          )
          .bind(sealingPublicKey, sealingSecretWrapped, createdAt, startOver ? 1 : 0, newId("mbx"), alias.id, alias.sealingPublicKey),
      );
    } else {
      if (options.existingPassword === undefined) {
        throw new ApiError(400, "existing-password-required", "existingPassword is required to add a further password");
      }
      const existing = options.existingPassword;
      for (const record of active) {
        mailboxKey = unwrapMailboxKey(record, existing);
        if (mailboxKey !== null) break;
      }
      if (mailboxKey === null || alias.sealingPublicKey === null) {
        throw new ApiError(403, "existing-password-invalid", "existingPassword does not match an active password of this alias");
      }
      sealingPublicKey = alias.sealingPublicKey;
    }

    const wrap = wrapMailboxKey(mailboxKey, password);
    statements.push(
      db
        .prepare(
          `INSERT INTO alias_passwords (id, alias_id, label, salt, wrapped_key, created_at)
           SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM aliases WHERE id = ?2 AND sealing_public_key = ?7)`,
        )
        .bind(id, alias.id, options.label, wrap.salt, wrap.wrappedKey, createdAt, sealingPublicKey),
    );
  } finally {
    mailboxKey?.fill(0);
  }

  const results = await db.batch(statements);
  if (results[results.length - 1].meta.changes !== 1) {
    throw new ApiError(409, "concurrent-change", "The alias's passwords changed meanwhile; try again");
  }
  return { address: alias.address, password: { id, label: options.label, password, createdAt, newMailbox } };
}

export async function listAliasPasswords(
  db: D1Database,
  accountId: string,
  domainName: string,
  localPart: string,
): Promise<PasswordListItemData[]> {
  const alias = await requireOwnedAlias(db, accountId, domainName, localPart);
  const { results } = await db
    .prepare(
      "SELECT id, label, created_at, last_used_at FROM alias_passwords WHERE alias_id = ? AND revoked_at IS NULL ORDER BY created_at, id",
    )
    .bind(alias.id)
    .all<{ id: string; label: string; created_at: string; last_used_at: string | null }>();
  return results.map((row) => ({ id: row.id, label: row.label, createdAt: row.created_at, lastUsedAt: row.last_used_at }));
}

/** Revokes one password at once; returns the alias address. Unknown or already revoked → 404. */
export async function revokeAliasPassword(
  db: D1Database,
  accountId: string,
  domainName: string,
  localPart: string,
  passwordId: string,
): Promise<string> {
  const alias = await requireOwnedAlias(db, accountId, domainName, localPart);
  const result = await db
    .prepare("UPDATE alias_passwords SET revoked_at = ? WHERE id = ? AND alias_id = ? AND revoked_at IS NULL")
    .bind(nowIso(), passwordId, alias.id)
    .run();
  if (result.meta.changes === 0) throw new ApiError(404, "password-not-found", "No such password");
  return alias.address;
}
