/**
 * A `MailStore` decorator that drains the sealed spool into a mailbox when it
 * is opened (DESIGN §2.3), and knows which mailboxes are open on this node so
 * the MX can insert straight into them.
 *
 * Invariants:
 * - Drain order per entry: open the seal → `append("INBOX", …, { dedupeKey:
 *   spool id })` (durable when it resolves) → delete the entry. A crash before
 *   the append leaves the entry; a crash after it leaves an entry whose second
 *   append is a no-op (duplicate). Nothing is lost, nothing doubled.
 * - Sealing secrets come only from `rememberSecret()` (a login unwrapped them
 *   with the mailbox key). They live in memory, are dropped when the last
 *   handle of the mailbox closes or the alias changes, and are never logged.
 * - An entry that cannot be opened (damaged, wrong key) stays in the spool and
 *   is reported once per drain; it never blocks the other entries.
 * - Drains of one mailbox never run concurrently; `open()` resolves after the
 *   drain, so the first SELECT already sees the drained mail.
 * - A drain failure (e.g. over quota) never fails the open: the mail waits.
 */
import { openSealed } from "../../shared/crypto/sealing.ts";
import { utf8 } from "../../shared/crypto/encoding.ts";
import { SPOOL_LIMITS } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { Mailbox, MailStore, OpenMailboxOptions } from "../store/types.ts";
import type { SpoolDatabase } from "./spool-database.ts";

/** Authenticated data bound into each seal, so entries cannot be swapped. */
export function spoolSealContext(spoolId: string): Uint8Array {
  return utf8(`sealbox/spool/v1/${spoolId}`);
}

export interface DrainingStoreOptions {
  base: MailStore;
  spool: SpoolDatabase;
  logger: Logger;
}

export interface DrainResultData {
  drained: number;
  failed: number;
}

export class DrainingStore implements MailStore {
  private readonly base: MailStore;
  private readonly spool: SpoolDatabase;
  private readonly logger: Logger;
  /** mailboxId → aliasId → sealing secret key. */
  private readonly secrets = new Map<string, Map<string, Uint8Array>>();
  /** Open handles per mailbox id. */
  private readonly handles = new Map<string, Set<Mailbox>>();
  private readonly drains = new Map<string, Promise<DrainResultData>>();

  constructor(options: DrainingStoreOptions) {
    this.base = options.base;
    this.spool = options.spool;
    this.logger = options.logger;
  }

  rememberSecret(mailboxId: string, aliasId: string, secret: Uint8Array): void {
    let forMailbox = this.secrets.get(mailboxId);
    if (!forMailbox) this.secrets.set(mailboxId, (forMailbox = new Map()));
    forMailbox.get(aliasId)?.fill(0);
    forMailbox.set(aliasId, secret);
  }

  forgetAlias(aliasId: string): void {
    for (const [mailboxId, forMailbox] of this.secrets) {
      const secret = forMailbox.get(aliasId);
      if (secret) {
        secret.fill(0);
        forMailbox.delete(aliasId);
      }
      if (forMailbox.size === 0) this.secrets.delete(mailboxId);
    }
  }

  private forgetMailbox(mailboxId: string): void {
    const forMailbox = this.secrets.get(mailboxId);
    if (!forMailbox) return;
    for (const secret of forMailbox.values()) secret.fill(0);
    this.secrets.delete(mailboxId);
  }

  /** A handle of the mailbox when it is open on this node (for direct delivery), else null. */
  openMailbox(mailboxId: string): Mailbox | null {
    const set = this.handles.get(mailboxId);
    if (!set) return null;
    for (const handle of set) return handle;
    return null;
  }

  async open(options: OpenMailboxOptions): Promise<Mailbox> {
    const mailbox = await this.base.open(options);
    let set = this.handles.get(options.id);
    if (!set) this.handles.set(options.id, (set = new Set()));
    set.add(mailbox);
    const handles = set;
    const release = () => {
      if (!handles.delete(mailbox)) return;
      if (handles.size === 0 && this.handles.get(options.id) === handles) {
        this.handles.delete(options.id);
        this.forgetMailbox(options.id);
      }
    };
    try {
      await this.drain(options.id, mailbox);
    } catch (error) {
      release();
      await mailbox.close();
      throw error;
    }
    return closingHandle(mailbox, release);
  }

  /** Drains the sealed spool of one mailbox through `mailbox` (serialised per mailbox). */
  drain(mailboxId: string, mailbox: Mailbox): Promise<DrainResultData> {
    const previous = this.drains.get(mailboxId) ?? Promise.resolve({ drained: 0, failed: 0 });
    const next = previous.then(() => this.drainNow(mailboxId, mailbox));
    const tracked = next.finally(() => {
      if (this.drains.get(mailboxId) === tracked) this.drains.delete(mailboxId);
    });
    this.drains.set(mailboxId, tracked);
    return tracked;
  }

  private async drainNow(mailboxId: string, mailbox: Mailbox): Promise<DrainResultData> {
    const result = { drained: 0, failed: 0 };
    const secrets = this.secrets.get(mailboxId);
    if (!secrets || !this.spool.hasSealed(mailboxId)) return result;
    let after: string | null = null;
    for (;;) {
      const batch = this.spool.sealedBatch(mailboxId, SPOOL_LIMITS.drainBatch, after);
      if (batch.length === 0) break;
      after = batch[batch.length - 1].id;
      for (const entry of batch) {
        const secret = secrets.get(entry.aliasId);
        if (!secret) continue;
        let body: Uint8Array;
        try {
          body = openSealed(secret, entry.sealed, spoolSealContext(entry.id));
        } catch {
          result.failed++;
          continue;
        }
        try {
          await mailbox.append("INBOX", body, { dedupeKey: entry.id, internalDate: entry.receivedAt });
        } catch (error) {
          // Over quota or a store failure: the entry waits for the next open.
          this.logger.warn({ mailboxId, err: error instanceof Error ? error.name : "error" }, "spool drain stopped");
          return result;
        } finally {
          body.fill(0);
        }
        this.spool.deleteSealed(entry.id);
        result.drained++;
      }
    }
    if (result.failed > 0) this.logger.warn({ mailboxId, failed: result.failed }, "sealed spool entries could not be opened");
    if (result.drained > 0) this.logger.debug({ mailboxId, drained: result.drained }, "spool drained");
    return result;
  }

  exists(id: string): Promise<boolean> {
    return this.base.exists(id);
  }

  /** Destroys the mailbox and whatever still waits for it in the spool. */
  async destroy(id: string): Promise<void> {
    await this.base.destroy(id);
    this.spool.deleteSealedForMailbox(id);
    this.forgetMailbox(id);
  }

  async close(): Promise<void> {
    for (const id of [...this.secrets.keys()]) this.forgetMailbox(id);
    this.handles.clear();
    await this.base.close();
  }
}

/** Delegates every call to `mailbox`, running `onClose` before it closes. */
function closingHandle(mailbox: Mailbox, onClose: () => void): Mailbox {
  return {
    get id() {
      return mailbox.id;
    },
    get generation() {
      return mailbox.generation;
    },
    listFolders: () => mailbox.listFolders(),
    createFolder: (name, options) => mailbox.createFolder(name, options),
    renameFolder: (from, to) => mailbox.renameFolder(from, to),
    deleteFolder: (name) => mailbox.deleteFolder(name),
    subscribe: (name, subscribed) => mailbox.subscribe(name, subscribed),
    status: (folder) => mailbox.status(folder),
    append: (folder, body, options) => mailbox.append(folder, body, options),
    appendBatch: (folder, items) => mailbox.appendBatch(folder, items),
    uids: (folder) => mailbox.uids(folder),
    fetch: (folder, uids, options) => mailbox.fetch(folder, uids, options),
    storeFlags: (folder, uids, options) => mailbox.storeFlags(folder, uids, options),
    copy: (from, uids, to) => mailbox.copy(from, uids, to),
    move: (from, uids, to) => mailbox.move(from, uids, to),
    expunge: (folder, uids) => mailbox.expunge(folder, uids),
    search: (folder, criteria) => mailbox.search(folder, criteria),
    sort: (folder, keys, criteria) => mailbox.sort(folder, keys, criteria),
    thread: (folder, algorithm, criteria) => mailbox.thread(folder, algorithm, criteria),
    changesSince: (folder, modseq) => mailbox.changesSince(folder, modseq),
    claimRecent: (folder, options) => mailbox.claimRecent(folder, options),
    select: (folder, options) => mailbox.select(folder, options),
    follow: (folder, modseq) => mailbox.follow(folder, modseq),
    quota: () => mailbox.quota(),
    watch: (listener) => mailbox.watch(listener),
    close: async () => {
      onClose();
      await mailbox.close();
    },
  };
}
