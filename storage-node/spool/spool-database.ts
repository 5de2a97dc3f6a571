/**
 * The node's spool database: sealed inbound mail waiting for its mailbox, and
 * the forward/webhook job queues with the plaintext copies they deliver.
 *
 * Invariants:
 * - One SQLite file (`<dataDir>/spool/spool.sqlite`), encrypted with the
 *   node's spool key (cipher chacha20, raw 32-byte key, checked to reserve 32
 *   bytes per page for the MAC). The key comes from the settings, never from a
 *   file beside the database.
 * - Sealed entries are sealed to the alias's public key before they get here,
 *   so the spool key alone never reveals mailbox mail (DESIGN §3).
 * - `write()` resolves only after its transaction is committed with
 *   `synchronous=FULL` (the WAL is fsync'd): an SMTP `250` may follow at once
 *   (DESIGN §4). Concurrent writes are folded into one commit (group commit,
 *   RFC 5321 §6.1 spirit: one fsync for many messages).
 * - All rows of one delivery (sealed entries, message copy, jobs) commit in
 *   one transaction: after a crash either all of them exist or none.
 * - A message copy lives while at least one job refers to it; finishing the
 *   last job deletes it in the same transaction.
 * - A sealed entry with a `relay_node` is waiting to be relayed to that home
 *   node over a peer link (schema 2): it is never drained here, only deleted
 *   once the home node has acknowledged it durable.
 */
import { openSync, readSync, closeSync } from "node:fs";
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3-multiple-ciphers";
import { SPOOL_LIMITS } from "../limits.ts";

type SqliteDatabase = InstanceType<typeof Database>;

export const SPOOL_KEY_BYTES = 32;
const SCHEMA_VERSION = 2;

export class SpoolError extends Error {
  override name = "SpoolError";
}

export interface SealedEntryData {
  /** Spool id: also the dedupe key of the mailbox append. */
  id: string;
  mailboxId: string;
  aliasId: string;
  receivedAt: Date;
  /** Plaintext size (what the mailbox quota will count). */
  size: number;
  sealed: Uint8Array;
  /** Home node to relay the entry to; null/absent = drain it here. */
  relayTo?: string | null;
}

/** A sealed entry waiting for its home node, with its retry state. */
export interface RelayJobData extends SealedEntryData {
  relayTo: string;
  attempts: number;
}

/** The SMTP envelope of a received message, as queues and webhooks report it. */
export interface SmtpEnvelopeData {
  mailFrom: string;
  rcptTo: string[];
  remoteAddress: string;
  helo: string;
  secure: boolean;
}

export interface SpooledMessageData {
  id: string;
  raw: Uint8Array;
  envelope: SmtpEnvelopeData;
  /** Authentication-Results value(s) computed at the MX. */
  authResults: string;
  receivedAt: Date;
}

export type SpoolJobKind = "forward" | "webhook";

export interface SpoolJobData {
  id: string;
  kind: SpoolJobKind;
  messageId: string;
  /** Kind-specific JSON (forward recipient, webhook URL and key, …). */
  target: string;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
}

export interface NewJobData {
  id: string;
  kind: SpoolJobKind;
  target: string;
  nextAttemptAt: number;
}

export interface SpoolWriteData {
  sealed?: SealedEntryData[];
  message?: SpooledMessageData;
  jobs?: NewJobData[];
}

export interface OpenSpoolOptions {
  dir: string;
  key: Uint8Array;
}

function checkReservedBytes(file: string): void {
  // SQLite3MultipleCiphers leaves bytes 16–23 of page 1 in the clear; byte 20
  // is the per-page reserved space where chacha20 keeps its nonce and MAC.
  const fd = openSync(file, "r");
  try {
    const header = Buffer.alloc(24);
    readSync(fd, header, 0, 24, 0);
    if (header[20] !== 32) throw new SpoolError("spool database does not reserve 32 bytes per page: refusing to use it");
  } finally {
    closeSync(fd);
  }
}

interface PendingWrite {
  data: SpoolWriteData;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class SpoolDatabase {
  private readonly db: SqliteDatabase;
  private pending: PendingWrite[] = [];
  private flushScheduled = false;
  private closed = false;

  private constructor(db: SqliteDatabase) {
    this.db = db;
  }

  static open(options: OpenSpoolOptions): SpoolDatabase {
    if (!(options.key instanceof Uint8Array) || options.key.length !== SPOOL_KEY_BYTES) {
      throw new SpoolError(`spool key must be ${SPOOL_KEY_BYTES} bytes`);
    }
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const file = path.join(options.dir, "spool.sqlite");
    const db = new Database(file);
    try {
      db.pragma("cipher='chacha20'");
      db.pragma(`key="x'${Buffer.from(options.key).toString("hex")}'"`);
      try {
        db.prepare("SELECT count(*) FROM sqlite_master").get();
      } catch {
        throw new SpoolError("the spool key does not open the spool database");
      }
      db.pragma("journal_mode=WAL");
      db.pragma("synchronous=FULL");
      db.pragma("busy_timeout=5000");
      db.pragma("foreign_keys=ON");
      const version = db.pragma("user_version", { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new SpoolError("spool database is from a newer version");
      if (version < 1) {
        db.exec(`
          CREATE TABLE IF NOT EXISTS sealed_mail (
            id TEXT PRIMARY KEY,
            mailbox_id TEXT NOT NULL,
            alias_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            size INTEGER NOT NULL,
            sealed BLOB NOT NULL
          );
          CREATE INDEX IF NOT EXISTS sealed_mail_mailbox ON sealed_mail(mailbox_id, received_at);
          CREATE TABLE IF NOT EXISTS messages (
            id TEXT PRIMARY KEY,
            raw BLOB NOT NULL,
            envelope TEXT NOT NULL,
            auth_results TEXT NOT NULL,
            received_at TEXT NOT NULL
          );
          CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('forward', 'webhook')),
            message_id TEXT NOT NULL REFERENCES messages(id),
            target TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT
          );
          CREATE INDEX IF NOT EXISTS jobs_due ON jobs(kind, next_attempt_at);
          CREATE INDEX IF NOT EXISTS jobs_message ON jobs(message_id);
          PRAGMA user_version = 1;
        `);
      }
      if (version < 2) {
        db.exec(`
          ALTER TABLE sealed_mail ADD COLUMN relay_node TEXT;
          ALTER TABLE sealed_mail ADD COLUMN relay_attempts INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE sealed_mail ADD COLUMN relay_next_at INTEGER NOT NULL DEFAULT 0;
          CREATE INDEX IF NOT EXISTS sealed_mail_relay_due ON sealed_mail(relay_next_at) WHERE relay_node IS NOT NULL;
          PRAGMA user_version = ${SCHEMA_VERSION};
        `);
      }
      checkReservedBytes(file);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SpoolDatabase(db);
  }

  /** Commits the rows durably (fsync'd) together with other concurrent writes. */
  write(data: SpoolWriteData): Promise<void> {
    if (this.closed) return Promise.reject(new SpoolError("spool is closed"));
    return new Promise((resolve, reject) => {
      this.pending.push({ data, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending.splice(0, SPOOL_LIMITS.groupCommitMaxOps);
    if (this.pending.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    if (batch.length === 0) return;
    const insertSealed = this.db.prepare(
      "INSERT OR IGNORE INTO sealed_mail (id, mailbox_id, alias_id, received_at, size, sealed, relay_node) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    const insertMessage = this.db.prepare("INSERT OR IGNORE INTO messages (id, raw, envelope, auth_results, received_at) VALUES (?, ?, ?, ?, ?)");
    const insertJob = this.db.prepare(
      "INSERT OR IGNORE INTO jobs (id, kind, message_id, target, attempts, created_at, next_attempt_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
    );
    const apply = (data: SpoolWriteData) => {
      for (const entry of data.sealed ?? []) {
        insertSealed.run(entry.id, entry.mailboxId, entry.aliasId, entry.receivedAt.toISOString(), entry.size, entry.sealed, entry.relayTo ?? null);
      }
      if (data.message) {
        const m = data.message;
        insertMessage.run(m.id, m.raw, JSON.stringify(m.envelope), m.authResults, m.receivedAt.toISOString());
        const now = Date.now();
        for (const job of data.jobs ?? []) insertJob.run(job.id, job.kind, m.id, job.target, now, job.nextAttemptAt);
      }
    };
    try {
      this.db.transaction(() => {
        for (const item of batch) apply(item.data);
      })();
    } catch (error) {
      // One bad write must not sink the others: retry them one by one.
      if (batch.length > 1) {
        for (const item of batch) {
          try {
            this.db.transaction(() => apply(item.data))();
            item.resolve();
          } catch (single) {
            item.reject(single instanceof Error ? single : new SpoolError("spool write failed"));
          }
        }
        return;
      }
      batch[0].reject(error instanceof Error ? error : new SpoolError("spool write failed"));
      return;
    }
    for (const item of batch) item.resolve();
  }

  /** Mailbox ids with sealed entries waiting. */
  hasSealed(mailboxId: string): boolean {
    return this.db.prepare("SELECT 1 FROM sealed_mail WHERE mailbox_id = ? AND relay_node IS NULL LIMIT 1").get(mailboxId) !== undefined;
  }

  /** Bytes of sealed mail waiting for a mailbox, here or on its way to its home node (counted against its quota). */
  sealedBytes(mailboxId: string): number {
    const row = this.db.prepare("SELECT coalesce(sum(size), 0) AS total FROM sealed_mail WHERE mailbox_id = ?").get(mailboxId) as { total: number };
    return row.total;
  }

  sealedBatch(mailboxId: string, limit: number, after: string | null = null): SealedEntryData[] {
    const rows = this.db
      .prepare(
        "SELECT id, mailbox_id, alias_id, received_at, size, sealed FROM sealed_mail WHERE mailbox_id = ? AND relay_node IS NULL AND id > ? ORDER BY id LIMIT ?",
      )
      .all(mailboxId, after ?? "", limit) as { id: string; mailbox_id: string; alias_id: string; received_at: string; size: number; sealed: Buffer }[];
    return rows.map((row) => ({
      id: row.id,
      mailboxId: row.mailbox_id,
      aliasId: row.alias_id,
      receivedAt: new Date(row.received_at),
      size: row.size,
      sealed: new Uint8Array(row.sealed.buffer, row.sealed.byteOffset, row.sealed.byteLength),
    }));
  }

  /** Removes a drained entry. Not fsync'd on purpose: if it comes back after a power loss, the dedupe key absorbs it. */
  deleteSealed(id: string): void {
    this.db.prepare("DELETE FROM sealed_mail WHERE id = ?").run(id);
  }

  /** Drops every sealed entry of a mailbox (the mailbox was destroyed). */
  deleteSealedForMailbox(mailboxId: string): void {
    this.db.prepare("DELETE FROM sealed_mail WHERE mailbox_id = ?").run(mailboxId);
  }

  /** Relay jobs due at `now`, oldest due first, skipping `exclude` (in flight). */
  dueRelays(now: number, limit: number, exclude: ReadonlySet<string>): RelayJobData[] {
    const rows = this.db
      .prepare(
        "SELECT id, mailbox_id, alias_id, received_at, size, sealed, relay_node, relay_attempts FROM sealed_mail WHERE relay_node IS NOT NULL AND relay_next_at <= ? ORDER BY relay_next_at LIMIT ?",
      )
      .all(now, limit + exclude.size) as {
      id: string;
      mailbox_id: string;
      alias_id: string;
      received_at: string;
      size: number;
      sealed: Buffer;
      relay_node: string;
      relay_attempts: number;
    }[];
    return rows
      .filter((row) => !exclude.has(row.id))
      .slice(0, limit)
      .map((row) => ({
        id: row.id,
        mailboxId: row.mailbox_id,
        aliasId: row.alias_id,
        receivedAt: new Date(row.received_at),
        size: row.size,
        sealed: new Uint8Array(row.sealed.buffer, row.sealed.byteOffset, row.sealed.byteLength),
        relayTo: row.relay_node,
        attempts: row.relay_attempts,
      }));
  }

  /** Earliest next attempt of any relay job, or null when none waits. */
  nextRelayAt(): number | null {
    const row = this.db.prepare("SELECT min(relay_next_at) AS t FROM sealed_mail WHERE relay_node IS NOT NULL").get() as { t: number | null };
    return row.t;
  }

  countRelays(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM sealed_mail WHERE relay_node IS NOT NULL").get() as { n: number }).n;
  }

  rescheduleRelay(id: string, attempts: number, nextAttemptAt: number): void {
    this.db.prepare("UPDATE sealed_mail SET relay_attempts = ?, relay_next_at = ? WHERE id = ? AND relay_node IS NOT NULL").run(attempts, nextAttemptAt, id);
  }

  countSealed(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM sealed_mail").get() as { n: number }).n;
  }

  dueJobs(kind: SpoolJobKind, now: number, limit: number, exclude: ReadonlySet<string>): SpoolJobData[] {
    const rows = this.db
      .prepare(
        "SELECT id, kind, message_id, target, attempts, created_at, next_attempt_at FROM jobs WHERE kind = ? AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
      )
      .all(kind, now, limit + exclude.size) as {
      id: string;
      kind: SpoolJobKind;
      message_id: string;
      target: string;
      attempts: number;
      created_at: number;
      next_attempt_at: number;
    }[];
    return rows
      .filter((row) => !exclude.has(row.id))
      .slice(0, limit)
      .map((row) => ({
        id: row.id,
        kind: row.kind,
        messageId: row.message_id,
        target: row.target,
        attempts: row.attempts,
        createdAt: row.created_at,
        nextAttemptAt: row.next_attempt_at,
      }));
  }

  /** Earliest next attempt of any job of this kind, or null when the queue is empty. */
  nextDueAt(kind: SpoolJobKind): number | null {
    const row = this.db.prepare("SELECT min(next_attempt_at) AS t FROM jobs WHERE kind = ?").get(kind) as { t: number | null };
    return row.t;
  }

  countJobs(kind: SpoolJobKind): number {
    return (this.db.prepare("SELECT count(*) AS n FROM jobs WHERE kind = ?").get(kind) as { n: number }).n;
  }

  message(id: string): SpooledMessageData | null {
    const row = this.db.prepare("SELECT id, raw, envelope, auth_results, received_at FROM messages WHERE id = ?").get(id) as
      | { id: string; raw: Buffer; envelope: string; auth_results: string; received_at: string }
      | undefined;
    if (!row) return null;
    return {
      id: row.id,
      raw: new Uint8Array(row.raw.buffer, row.raw.byteOffset, row.raw.byteLength),
      envelope: JSON.parse(row.envelope) as SmtpEnvelopeData,
      authResults: row.auth_results,
      receivedAt: new Date(row.received_at),
    };
  }

  /** Deletes a finished (delivered or abandoned) job, and its message copy once no job needs it. */
  finishJob(id: string, messageId: string): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM jobs WHERE id = ?").run(id);
      this.db.prepare("DELETE FROM messages WHERE id = ? AND NOT EXISTS (SELECT 1 FROM jobs WHERE message_id = ?)").run(messageId, messageId);
    })();
  }

  rescheduleJob(id: string, attempts: number, nextAttemptAt: number, lastError: string): void {
    this.db.prepare("UPDATE jobs SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?").run(attempts, nextAttemptAt, lastError.slice(0, 500), id);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const item of this.pending.splice(0)) item.reject(new SpoolError("spool is closed"));
    this.db.pragma("wal_checkpoint(TRUNCATE)");
    this.db.close();
  }
}
