/**
 * The encrypted SQLite MailStore: one better-sqlite3-multiple-ciphers file per
 * mailbox (AEGIS-256 pages, raw 32-byte key), served by a pool of worker threads.
 *
 * Invariants:
 * - The main thread never runs SQL: every mailbox operation is a message to the
 *   worker that owns the mailbox (see sqlite-worker.ts). What one turn of the
 *   event loop has for a worker leaves as one postMessage, in call order.
 * - Per-mailbox affinity: all open() handles of one id go to one worker while
 *   any handle is open; a new owner is the least-loaded worker.
 * - watch() listeners live in the main thread; the owner posts committed
 *   change events and they are fanned out to every handle's listeners.
 * - Files are named `<mailbox id>.sqlite` (id = random token, never an address),
 *   with SQLite's own -wal/-shm side files.
 * - Append bodies stream to the worker in chunks; section bytes come back in
 *   chunks pulled on demand, so the main thread never holds a whole big message.
 * - Appends of one mailbox reach its owner in call order (UIDs follow the
 *   order of concurrent calls) even when small ones are prepared — parsed,
 *   hashed, compressed — by the least busy worker of the pool, so preparation
 *   runs in parallel with the owner's writes. The last message of a batch is
 *   prepared by the owner, in the trip that writes the batch.
 * - A worker that dies is replaced at once. Calls it had in flight fail as
 *   `temporary` (the client retries; appends with a dedupe key are idempotent);
 *   its mailboxes are reopened on the new worker at their next use, refusing a
 *   file older than the generation this process last saw (freshness).
 */

import { mkdirSync, rmSync, existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { STORE_FETCH_HEAD_CACHE_BYTES, STORE_MAX_APPEND_BATCH_BYTES, STORE_MAX_MESSAGE_BYTES, STORE_PREPARE_ANYWHERE_MAX_BYTES } from "../limits.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { parseHeadFetchItems, type HeadFetchItems } from "./content-record.ts";
import { collectBody } from "./read-body.ts";
import { checkMailboxId, checkMailboxKey } from "./mailbox-id.ts";
import { normalizeFolderName } from "./folder-name.ts";
import { checkInternalDate } from "./write-checks.ts";
import type { FetchBatch, FetchHead, FetchOpenResult, FromWorker, OpenArgs, ToWorker, WorkerRequest } from "./sqlite-protocol.ts";
import {
  StoreError,
  type AppendData,
  type AppendOptions,
  type BatchAppendItem,
  type ChangesData,
  type CopyData,
  type FetchOptions,
  type FetchedMessageData,
  type FolderData,
  type FolderStatusData,
  type Mailbox,
  type MailboxChangeEvent,
  type MailStore,
  type MessageBody,
  type OpenMailboxOptions,
  type QuotaData,
  type RecentClaimData,
  type SearchKey,
  type SelectData,
  type SelectOptions,
  type SortKey,
  type SpecialUse,
  type StoreFlagsData,
  type StoreFlagsOptions,
  type ThreadNodeData,
  type UidSet,
} from "./types.ts";

export interface SqliteStoreOptions {
  dataDir: string;
  /**
   * Worker threads (default: one per core but the one the main thread's
   * protocol work needs, at least 1, at most 8). On two cores one worker
   * serves the mixed IMAP load with ~13 % less CPU per command than two
   * (bench:imap): threads that would compete for the same core mostly add
   * wake-ups.
   */
  workers?: number;
}

/** Internal: benchmarks compare against the same code without encryption; tests see the workers. Not settings. */
export interface SqliteStoreInternalOptions extends SqliteStoreOptions {
  plaintextForBenchmark?: boolean;
  /** Called with every worker thread the pool starts (including replacements). */
  onWorkerStart?: (worker: Worker) => void;
}

const APPEND_STREAM_CHUNK = 256 * 1024;

// Workers run the TypeScript sources directly. On Node 20 `execArgv: ["--import",
// "tsx"]` does not reach a worker's module loader (ERR_UNKNOWN_FILE_EXTENSION),
// so a small bootstrap registers tsx's ESM hooks and then imports the worker.
const TSX_ESM_API = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
const WORKER_ENTRY = new URL("./sqlite-worker.ts", import.meta.url).href;
const WORKER_BOOTSTRAP = `import(${JSON.stringify(TSX_ESM_API)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_ENTRY)}); });`;

interface PendingCall {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** Takes the changes a following write read after itself (before `resolve`). */
  changes?: (changes: ChangesData) => void;
}

/** The changes a following write read after itself (Mailbox.follow). */
interface ReadAhead {
  folder: string;
  since: number;
  changes: ChangesData;
  /** Set when a change to the folder committed after the write was heard (see SqliteMailbox.follow). */
  stale: boolean;
}

/** A write's follow request, and where the changes it brings go. */
interface Following {
  folder: string;
  modseq: number;
  readAhead: (ahead: ReadAhead) => void;
}

class PoolWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, PendingCall>();
  mailboxes = 0;
  dead: Error | null = null;
  /** What this turn of the event loop has for the worker, in order; it leaves as one message. */
  private outbox: ToWorker[] = [];
  private outboxTransfer: ArrayBuffer[] = [];

  constructor(onEvent: (mailbox: string, e: MailboxChangeEvent) => void, onDeath: (w: PoolWorker) => void) {
    this.worker = new Worker(WORKER_BOOTSTRAP, { eval: true });
    const receive = (m: FromWorker): void => {
      if (m.t === "many") return m.messages.forEach(receive);
      if (m.t === "event") return onEvent(m.mailbox, m.event);
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok && m.changes) p.changes?.(m.changes);
      if (m.ok) p.resolve(m.value);
      else p.reject(new StoreError(m.error!.kind, m.error!.message));
    };
    this.worker.on("message", receive);
    const fail = (err: Error) => {
      const first = this.dead === null;
      this.dead = err;
      for (const p of this.pending.values()) p.reject(new StoreError("temporary", "storage worker stopped"));
      this.pending.clear();
      if (first) onDeath(this);
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`worker exited with code ${code}`)));
  }

  /**
   * Queues a message for the worker. Everything queued while the event loop
   * handles one round of sockets and answers goes in one postMessage, in
   * order, once that round is over: one copy and one wake-up of the worker
   * for all the sessions that asked meanwhile.
   */
  send(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.outbox.push(message);
    for (const buffer of transfer) this.outboxTransfer.push(buffer);
    if (this.outbox.length === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const messages = this.outbox;
    const transfer = this.outboxTransfer;
    this.outbox = [];
    this.outboxTransfer = [];
    // A dead worker's calls were failed already.
    if (this.dead) return;
    this.worker.postMessage(messages.length === 1 ? messages[0] : { t: "many", messages }, transfer);
  }
}

export function createSqliteStore(options: SqliteStoreOptions): MailStore {
  return createSqliteStoreInternal(options);
}

export function createSqliteStoreInternal(options: SqliteStoreInternalOptions): MailStore {
  const dataDir = options.dataDir;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const size = Math.max(1, Math.min(8, options.workers ?? availableParallelism() - 1));
  const listeners = new Map<string, Set<(e: MailboxChangeEvent) => void>>();
  interface Owner {
    worker: PoolWorker;
    handles: number;
    /** How to open the file again after its worker died (holds the key while any handle is open). */
    args: OpenArgs;
    /** Highest generation seen; a reopen refuses anything older. */
    generation: number;
    /** Set when the worker died: the next use opens the file on the new worker. */
    reopen: Promise<void> | "needed" | null;
    /** Settles when the last append submitted so far has been posted to the owner. */
    appendTail: Promise<void>;
  }
  const owners = new Map<string, Owner>();
  const workers: PoolWorker[] = [];
  let nextId = 1;
  let closed = false;

  const onEvent = (mailbox: string, e: MailboxChangeEvent) => {
    for (const l of [...(listeners.get(mailbox) ?? [])]) {
      try {
        l(e);
      } catch {
        // A listener's failure is its own; other listeners still hear the event.
      }
    }
  };

  const startWorker = (): PoolWorker => {
    const w = new PoolWorker(onEvent, onDeath);
    options.onWorkerStart?.(w.worker);
    return w;
  };

  function onDeath(dead: PoolWorker): void {
    const at = workers.indexOf(dead);
    if (closed || at < 0) return;
    const next = startWorker();
    next.mailboxes = dead.mailboxes;
    workers[at] = next;
    for (const o of owners.values()) {
      if (o.worker !== dead) continue;
      o.worker = next;
      o.reopen = "needed";
    }
  }

  const ensureWorkers = () => {
    if (workers.length === 0) for (let i = 0; i < size; i++) workers.push(startWorker());
  };

  /** Reopens a mailbox whose worker died (once, shared by concurrent callers). */
  const ensureOpen = (id: string, o: Owner): Promise<void> | null => {
    if (o.reopen === null) return null;
    if (o.reopen === "needed") {
      const args: OpenArgs = { ...o.args, create: false, minGeneration: o.generation, handles: o.handles };
      o.reopen = callWorker<{ generation: number }>(o.worker, id, "open", [args]).then(
        (r) => {
          o.generation = r.generation;
          o.reopen = null;
        },
        (e: unknown) => {
          o.reopen = "needed";
          throw e;
        },
      );
    }
    return o.reopen;
  };

  /** The live worker with the fewest calls in flight. */
  const leastBusy = (): PoolWorker | null =>
    workers.filter((w) => !w.dead).reduce<PoolWorker | null>((a, b) => (a === null || b.pending.size < a.pending.size ? b : a), null);

  /** A call to the mailbox's current owner, reopening it there first if its worker died. */
  const callOwner = <T>(id: string, op: string, args: unknown[], follow?: Following): Promise<T> => {
    const o = owners.get(id);
    if (!o) return Promise.reject(new StoreError("cannot", "mailbox is not open"));
    const pending = ensureOpen(id, o);
    if (!pending) return callWorker<T>(o.worker, id, op, args, [], follow);
    return pending.then(() => callWorker<T>(o.worker, id, op, args, [], follow));
  };

  const callWorker = <T>(w: PoolWorker, mailbox: string, op: string, args: unknown[], transfer: ArrayBuffer[] = [], follow?: Following): Promise<T> => {
    if (w.dead) return Promise.reject(new StoreError("temporary", "storage worker stopped"));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const call: PendingCall = { resolve: resolve as (v: unknown) => void, reject };
      const msg: WorkerRequest = { t: "req", id, mailbox, op, args };
      if (follow) {
        msg.follow = { folder: follow.folder, modseq: follow.modseq };
        call.changes = (changes) => follow.readAhead({ folder: follow.folder, since: follow.modseq, changes, stale: false });
      }
      w.pending.set(id, call);
      w.send(msg, transfer);
    });
  };

  const pathOf = (id: string) => join(dataDir, `${id}.sqlite`);

  class SqliteMailbox implements Mailbox {
    private closed = false;
    private readonly own = new Set<(e: MailboxChangeEvent) => void>();
    /**
     * ENVELOPE/BODYSTRUCTURE parsed from the head JSON the worker sent, keyed by
     * the worker's serial of that head record (FetchHead.headKey: a number,
     * and a hit is always the same data), at most STORE_FETCH_HEAD_CACHE_BYTES
     * of JSON; emptied when the mailbox moves to another worker (whose serials
     * mean other records), dropped with the handle. Shared values: consumers
     * only read them (as with the memory store).
     */
    private readonly headItems = new BoundedCache<number, HeadFetchItems>(STORE_FETCH_HEAD_CACHE_BYTES);
    /** The worker whose serials `headItems` holds. */
    private headItemsWorker: PoolWorker | null = null;
    /** Set by `follow`: this handle's writes read that folder's changes after themselves. */
    private following: { folder: string; modseq: number } | null = null;
    /** What the last following write read; taken by the next changesSince that asks exactly for it. */
    private readAhead: ReadAhead | null = null;
    constructor(
      readonly id: string,
      readonly generation: number,
    ) {}

    private call<T>(op: string, ...args: unknown[]): Promise<T> {
      if (this.closed) return Promise.reject(new StoreError("cannot", "mailbox handle is closed"));
      return callOwner<T>(this.id, op, args);
    }

    /** A write to the owner: while the handle follows a folder, its answer brings that folder's changes. */
    private write<T>(op: string, ...args: unknown[]): Promise<T> {
      if (this.closed) return Promise.reject(new StoreError("cannot", "mailbox handle is closed"));
      return callOwner<T>(this.id, op, args, this.followingWrite());
    }

    private followingWrite(): Following | undefined {
      const f = this.following;
      return f ? { folder: f.folder, modseq: f.modseq, readAhead: (ahead) => (this.readAhead = ahead) } : undefined;
    }

    /**
     * Marks the read-ahead stale when a change committed after the write that
     * read it is heard: a folder-list change, or a change to its folder with a
     * higher mod-sequence than it read (mod-sequences are per folder and only
     * grow; the write's own events carry at most what it read). The owner
     * runs a mailbox's tasks one at a time and answers in order, so every
     * later commit's event arrives after the write's answer, when the
     * read-ahead is already set.
     */
    private readonly staleWatch = (e: MailboxChangeEvent): void => {
      const ahead = this.readAhead;
      if (ahead === null || ahead.stale) return;
      if (e.kind === "folders" || (e.folder === normalizeFolderName(ahead.folder) && e.modseq > ahead.changes.highestModseq)) ahead.stale = true;
    };

    /** The live owner worker (after a reopen if needed): streams and cursors stay on it. */
    private async ownerWorker(): Promise<PoolWorker> {
      if (this.closed) throw new StoreError("cannot", "mailbox handle is closed");
      const o = owners.get(this.id);
      if (!o) throw new StoreError("cannot", "mailbox is not open");
      await ensureOpen(this.id, o);
      return o.worker;
    }

    listFolders(): Promise<FolderData[]> {
      return this.call("listFolders");
    }
    async createFolder(name: string, o?: { specialUse?: SpecialUse }): Promise<FolderData> {
      await this.call("createFolder", name, o?.specialUse ?? null);
      const all = await this.listFolders();
      const st = await this.status(name);
      return all.find((f) => f.name === st.name)!;
    }
    renameFolder(from: string, to: string): Promise<void> {
      return this.call("renameFolder", from, to);
    }
    deleteFolder(name: string): Promise<void> {
      return this.call("deleteFolder", name);
    }
    subscribe(name: string, subscribed: boolean): Promise<void> {
      return this.call("subscribe", name, subscribed);
    }
    status(folder: string): Promise<FolderStatusData> {
      return this.call("status", folder);
    }
    async append(folder: string, body: MessageBody, o: AppendOptions = {}): Promise<AppendData> {
      if (this.closed) throw new StoreError("cannot", "mailbox handle is closed");
      const opts = { flags: o.flags ? [...o.flags] : undefined, internalDate: o.internalDate?.getTime(), dedupeKey: o.dedupeKey };
      checkInternalDate(opts.internalDate);
      if (body instanceof Uint8Array) {
        if (body.byteLength > STORE_MAX_MESSAGE_BYTES) throw new StoreError("too-big", "message exceeds the size limit");
        // Prepared elsewhere only when another worker is less busy than the owner (no extra hop otherwise).
        const helper = body.byteLength <= STORE_PREPARE_ANYWHERE_MAX_BYTES ? leastBusy() : null;
        if (!helper || helper === owners.get(this.id)?.worker) return this.submitInOrder(null, () => this.write<AppendData>("append", body, folder, opts));
        const prepared = callWorker<unknown>(helper, this.id, "prepare", [body]);
        return this.submitInOrder(prepared, (p) => this.write<AppendData>("appendPrepared", p, folder, opts));
      }
      // Stream: forward chunks as they come; the limit is enforced here and in the worker.
      // The chunks and the append go to one worker: if it dies, the append fails as temporary.
      const w = await this.ownerWorker();
      const stream = nextId++;
      let total = 0;
      let buffered: Uint8Array[] = [];
      let bufferedBytes = 0;
      const flush = () => {
        if (bufferedBytes === 0) return;
        const data = new Uint8Array(Buffer.concat(buffered, bufferedBytes));
        const msg: ToWorker = { t: "chunk", stream, data };
        if (!w.dead) w.send(msg, [data.buffer]);
        buffered = [];
        bufferedBytes = 0;
      };
      for await (const chunk of body) {
        total += chunk.byteLength;
        if (total > STORE_MAX_MESSAGE_BYTES) {
          buffered = [];
          bufferedBytes = 0;
          // Tell the worker to drop what it has received so far.
          await callWorker(w, this.id, "dropStream", [stream]).catch(() => undefined);
          throw new StoreError("too-big", "message exceeds the size limit");
        }
        buffered.push(chunk);
        bufferedBytes += chunk.byteLength;
        if (bufferedBytes >= APPEND_STREAM_CHUNK) flush();
      }
      flush();
      if (total === 0) {
        await callWorker(w, this.id, "dropStream", [stream]).catch(() => undefined);
        throw new StoreError("invalid", "empty message");
      }
      if (this.closed) throw new StoreError("cannot", "mailbox handle is closed");
      return this.submitInOrder(null, () => callWorker<AppendData>(w, this.id, "append", [stream, folder, opts], [], this.followingWrite()));
    }

    async appendBatch(folder: string, items: AsyncIterable<BatchAppendItem>): Promise<AppendData[]> {
      if (this.closed) throw new StoreError("cannot", "mailbox handle is closed");
      // Each message but the last is prepared (parsed, compressed) once the next one
      // arrives, and held here; the last goes as it is, prepared by the owner in the
      // same trip as the write (a lone APPEND is one trip). The owner writes all of
      // them in one savepoint, so none is visible before the last.
      const batch: unknown[] = [];
      const opts: { flags?: string[]; internalDate?: number }[] = [];
      let last: Uint8Array | null = null;
      let total = 0;
      for await (const item of items) {
        const o = { flags: item.options?.flags ? [...item.options.flags] : undefined, internalDate: item.options?.internalDate?.getTime() };
        checkInternalDate(o.internalDate);
        const bytes = await collectBody(item.body);
        total += bytes.byteLength;
        if (total > STORE_MAX_APPEND_BATCH_BYTES) throw new StoreError("too-big", "batch exceeds the size limit");
        if (last) batch.push(await this.prepare(last));
        last = bytes;
        opts.push(o);
      }
      if (!last) return [];
      batch.push(last);
      if (this.closed) throw new StoreError("cannot", "mailbox handle is closed");
      return this.submitInOrder(null, () => this.write<AppendData[]>("appendBatch", batch, folder, opts));
    }

    /** A message prepared by the least busy worker (the owner for a large one), to be written by the owner. */
    private async prepare(bytes: Uint8Array): Promise<unknown> {
      const helper = (bytes.byteLength <= STORE_PREPARE_ANYWHERE_MAX_BYTES ? leastBusy() : null) ?? (await this.ownerWorker());
      return callWorker<unknown>(helper, this.id, "prepare", [bytes]);
    }

    /**
     * Posts appends to the owner in call order: waits for the appends called
     * earlier to be posted and for `ready` (a preparation), then runs `post`,
     * which must post synchronously (or behind the reopen that all later posts
     * wait for too).
     */
    private async submitInOrder<T, R = undefined>(ready: Promise<R> | null, post: (ready: R | undefined) => Promise<T>): Promise<T> {
      const o = owners.get(this.id);
      if (this.closed || !o) throw new StoreError("cannot", "mailbox handle is closed");
      // Its failure is reported below, after our turn; do not let it count as unhandled meanwhile.
      ready?.catch(() => undefined);
      const turn = o.appendTail;
      let done!: () => void;
      o.appendTail = new Promise<void>((resolve) => (done = resolve));
      try {
        await turn;
        const value = ready ? await ready : undefined;
        return post(value);
      } finally {
        done();
      }
    }
    uids(folder: string): Promise<number[]> {
      return this.call("uids", folder);
    }
    fetch(folder: string, uids: UidSet, options: FetchOptions): AsyncIterable<FetchedMessageData> {
      return this.fetchStream(folder, uids, options);
    }
    private async *fetchStream(folder: string, uids: UidSet, options: FetchOptions): AsyncGenerator<FetchedMessageData> {
      // A cursor lives in one worker: every call for it goes there.
      const w = await this.ownerWorker();
      const id = this.id;
      const isClosed = () => this.closed;
      const headItems = this.headItems;
      if (this.headItemsWorker !== w) {
        headItems.clear();
        this.headItemsWorker = w;
      }
      const call = <T>(op: string, ...args: unknown[]): Promise<T> =>
        isClosed() ? Promise.reject(new StoreError("cannot", "mailbox handle is closed")) : callWorker<T>(w, id, op, args);
      const toData = (head: FetchHead, cursor: number): FetchedMessageData => {
        const out: FetchedMessageData = { uid: head.uid };
        if (head.flags) out.flags = head.flags;
        if (head.internalDate !== undefined) out.internalDate = new Date(head.internalDate);
        if (head.size !== undefined) out.size = head.size;
        if (head.modseq !== undefined) out.modseq = head.modseq;
        if (head.headItems !== undefined && head.headKey !== undefined) {
          let items = headItems.get(head.headKey);
          if (!items) headItems.set(head.headKey, (items = parseHeadFetchItems(head.headItems)), head.headItems.length);
          if (options.envelope) out.envelope = items.envelope;
          if (options.bodyStructure) out.bodyStructure = items.bodyStructure;
        }
        if (head.sections) {
          out.sections = head.sections.map((s, i) => ({
            request: options.sections![i],
            size: s.size,
            chunks: s.inline
              ? (async function* () {
                  if (s.inline!.byteLength > 0) yield s.inline!;
                })()
              : (async function* () {
                  for (let off = 0; off < s.size; ) {
                    const bytes = await call<Uint8Array>("fetchRead", cursor, s.handle, off);
                    if (bytes.byteLength === 0) throw new StoreError("temporary", "short read");
                    off += bytes.byteLength;
                    yield bytes;
                  }
                })(),
          }));
        }
        return out;
      };
      // One round trip per batch of messages (sqlite-worker.ts); the first comes with the open.
      const first = await call<FetchOpenResult>("fetchOpen", folder, uids.map((r) => ({ start: r.start, end: r.end })), options);
      const cursor = first.cursor;
      let batch: FetchBatch = first;
      try {
        for (;;) {
          for (const head of batch.heads) yield toData(head, cursor);
          if (batch.done) return;
          batch = await call<FetchBatch>("fetchNext", cursor);
        }
      } finally {
        if (!batch.closed && !isClosed()) await call("fetchClose", cursor).catch(() => undefined);
      }
    }
    storeFlags(folder: string, uids: UidSet, o: StoreFlagsOptions): Promise<StoreFlagsData> {
      return this.write("storeFlags", folder, uids, { ...o, flags: [...o.flags] });
    }
    copy(from: string, uids: UidSet, to: string): Promise<CopyData> {
      return this.write("copy", from, uids, to);
    }
    move(from: string, uids: UidSet, to: string): Promise<CopyData> {
      return this.write("move", from, uids, to);
    }
    expunge(folder: string, uids?: UidSet): Promise<number[]> {
      return this.write("expunge", folder, uids);
    }
    search(folder: string, criteria: SearchKey): Promise<number[]> {
      return this.call("search", folder, criteria);
    }
    sort(folder: string, keys: SortKey[], criteria: SearchKey): Promise<number[]> {
      return this.call("sort", folder, keys, criteria);
    }
    thread(folder: string, algorithm: "references" | "orderedsubject", criteria: SearchKey): Promise<ThreadNodeData[]> {
      return this.call("thread", folder, algorithm, criteria);
    }
    changesSince(folder: string, modseq: number): Promise<ChangesData> {
      const ahead = this.readAhead;
      this.readAhead = null;
      if (ahead && !this.closed && !ahead.stale && ahead.folder === folder && ahead.since === modseq) return Promise.resolve(ahead.changes);
      return this.call("changesSince", folder, modseq);
    }
    follow(folder: string | null, modseq: number): void {
      if (this.closed) return;
      this.following = folder === null ? null : { folder, modseq };
      if (!this.own.has(this.staleWatch)) {
        let set = listeners.get(this.id);
        if (!set) listeners.set(this.id, (set = new Set()));
        set.add(this.staleWatch);
        this.own.add(this.staleWatch);
      }
    }
    select(folder: string, o: SelectOptions): Promise<SelectData> {
      return this.call("select", folder, o.recent);
    }
    quota(): Promise<QuotaData> {
      return this.call("quota");
    }
    claimRecent(folder: string, options?: { peek?: boolean }): Promise<RecentClaimData> {
      return this.call("claimRecent", folder, options?.peek === true);
    }
    watch(listener: (event: MailboxChangeEvent) => void): () => void {
      if (this.closed) throw new StoreError("cannot", "mailbox handle is closed");
      const l = (e: MailboxChangeEvent) => listener(e);
      let set = listeners.get(this.id);
      if (!set) listeners.set(this.id, (set = new Set()));
      set.add(l);
      this.own.add(l);
      return () => {
        listeners.get(this.id)?.delete(l);
        this.own.delete(l);
      };
    }
    async close(): Promise<void> {
      if (this.closed) return;
      for (const l of this.own) listeners.get(this.id)?.delete(l);
      this.own.clear();
      this.headItems.clear();
      await this.call("close");
      this.closed = true;
      release(this.id);
    }
  }

  const release = (id: string) => {
    const o = owners.get(id);
    if (!o) return;
    o.handles--;
    if (o.handles === 0) {
      owners.delete(id);
      o.worker.mailboxes--;
      if ((listeners.get(id)?.size ?? 0) === 0) listeners.delete(id);
    }
  };

  return {
    async open(o: OpenMailboxOptions): Promise<Mailbox> {
      if (closed) throw new StoreError("cannot", "store is closed");
      checkMailboxId(o.id);
      checkMailboxKey(o.key);
      if (o.quotaBytes !== undefined && !(Number.isSafeInteger(o.quotaBytes) && o.quotaBytes >= 0)) throw new StoreError("invalid", "bad quota");
      ensureWorkers();
      const args: OpenArgs = {
        path: pathOf(o.id),
        key: new Uint8Array(o.key),
        create: o.create ?? false,
        minGeneration: o.minGeneration,
        quotaBytes: o.quotaBytes,
        plaintextForBenchmark: options.plaintextForBenchmark,
      };
      let owner = owners.get(o.id);
      if (!owner) {
        const w = workers.reduce((a, b) => (b.mailboxes < a.mailboxes ? b : a));
        owner = { worker: w, handles: 0, args, generation: 0, reopen: null, appendTail: Promise.resolve() };
        owners.set(o.id, owner);
        w.mailboxes++;
      }
      // A reopen after a worker death counts the handles open before this one.
      const pending = ensureOpen(o.id, owner);
      owner.handles++;
      try {
        if (pending) await pending;
        const r = await callWorker<{ generation: number }>(owner.worker, o.id, "open", [args]);
        owner.generation = Math.max(owner.generation, r.generation);
        return new SqliteMailbox(o.id, r.generation);
      } catch (e) {
        release(o.id);
        throw e;
      }
    },
    async exists(id: string): Promise<boolean> {
      checkMailboxId(id);
      return existsSync(pathOf(id));
    },
    async destroy(id: string): Promise<void> {
      checkMailboxId(id);
      if (owners.has(id)) throw new StoreError("in-use", "mailbox is open");
      if (!existsSync(pathOf(id))) throw new StoreError("not-found", "no such mailbox");
      for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(pathOf(id) + suffix, { force: true });
    },
    async close(): Promise<void> {
      closed = true;
      // Closing a worker closes its databases (SQLite checkpoints on the last close).
      await Promise.all(
        [...owners.entries()].map(async ([id, o]) => {
          for (let i = 0; i < o.handles; i++) await callWorker(o.worker, id, "close", []).catch(() => undefined);
        }),
      );
      owners.clear();
      listeners.clear();
      await Promise.all(workers.map((w) => w.worker.terminate()));
      workers.length = 0;
    },
  };
}
