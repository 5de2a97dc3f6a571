/**
 * Worker thread owning a set of mailbox files. Started by sqlite-store.ts.
 *
 * Invariants:
 * - Each mailbox is owned by exactly one worker; all its SQL runs here, in
 *   arrival order, so one mailbox's slow query only delays that mailbox's
 *   own requests and those of mailboxes sharing this worker.
 * - Consecutive writes to one mailbox are folded into one transaction (group
 *   commit), each in its own savepoint so one failure does not undo the
 *   others (a lone write runs without one and rolls the transaction back); only after the commit are the writes answered and their watch
 *   events posted. Every committed write survives a kill of the process
 *   (WAL, synchronous=NORMAL).
 * - Power-loss durability: a batch holding a write that creates message data
 *   or that the edge learns about (append, copy, move, the generation bump of
 *   an open) is synced (fdatasync of the WAL file, on libuv's thread pool)
 *   before anything is answered. Meanwhile the mailbox's queue is paused —
 *   none of its answers, reads included, can show the unsynced state — while
 *   the thread serves its other mailboxes. Flag changes, expunges, \Recent
 *   claims, folder and subscription changes are not synced on their own (like Dovecot's
 *   mail_fsync=optimized): a power loss may take back the latest of them, a
 *   process crash never does; the next synced batch or checkpoint makes them
 *   durable too.
 * - Checkpoints: after STORE_CHECKPOINT_WRITES write transactions or
 *   STORE_CHECKPOINT_BYTES appended bytes the WAL is checkpointed with its
 *   fsyncs on the thread pool (engine.checkpoint), the mailbox paused
 *   meanwhile; a failed sync is retried and the mailbox stays paused until
 *   one succeeds, so the WAL is never reused before the copied pages are
 *   durable. The last close checkpoints the same way before closing the file.
 *   SQLite's own blocking checkpoint only backstops huge writes.
 * - Heavy preparation (MIME parse, hashing, compression) happens before the
 *   transaction, never while holding it. A small message may be prepared by
 *   any worker of the pool ("prepare") and written by its owner
 *   ("appendPrepared"): preparation is stateless, writing is not. A batch
 *   ("appendBatch") is one task, so one savepoint: all or nothing; its
 *   items come prepared or as bytes the owner prepares first.
 * - A write sent with `follow` (Mailbox.follow) reads that folder's changes
 *   at the end of its own task, inside its transaction, and they leave with
 *   its answer; a write that fails or is not synced answers without them.
 * - Large section bytes leave in chunks of STORE_CHUNK_BYTES, pulled by the main
 *   thread, so a 50 MB fetch never sits whole in a message queue.
 * - FETCH answers in batches (STORE_FETCH_BATCH_MESSAGES messages or
 *   STORE_FETCH_BATCH_INLINE_BYTES of inline sections); a message with a
 *   streamed section ends its batch. A message that fails after others of its
 *   batch is left out and fails on the next request, so the messages before
 *   it are still delivered, in order, before the error.
 */

import { parentPort } from "node:worker_threads";
import {
  STORE_CHECKPOINT_BYTES,
  STORE_CHECKPOINT_WRITES,
  STORE_CHUNK_BYTES,
  STORE_FETCH_BATCH_INLINE_BYTES,   STORE_FETCH_BATCH_MESSAGES,
  STORE_GROUP_COMMIT_MAX_OPS,
  STORE_MAX_MESSAGE_BYTES,
  STORE_SYNC_RETRY_MS,
} from "../limits.ts";
import type { FetchBatch, FetchHead, FetchOpenArgs, FetchOpenResult, FollowArgs, FromWorker, OpenArgs, SectionHead, ToWorker, WorkerRequest } from "./sqlite-protocol.ts";
import { SqliteMailboxEngine, prepareAppend, type PreparedAppend } from "./sqlite-engine.ts";
import { StoreError, type BodySectionRequest, type ChangesData, type StoreErrorKind } from "./types.ts";

const port = parentPort;
if (!port) throw new Error("sqlite-worker must run in a worker thread");

interface Owned {
  mailbox: string;
  engine: SqliteMailboxEngine;
  handles: number;
  queue: Task[];
  scheduled: boolean;
  /** A synced batch or a checkpoint waits for its fdatasync: the queue is paused. */
  syncing: boolean;
  /** Write transactions and appended bytes since the last checkpoint. */
  writes: number;
  appendedBytes: number;
}

interface Task {
  write: boolean;
  /** The batch holding this write is synced before it is answered (see the header). */
  sync?: boolean;
  /** Message bytes this write adds (counts toward the next checkpoint). */
  bytes?: number;
  run: (engine: SqliteMailboxEngine) => unknown;
  reply: (ok: boolean, value: unknown) => void;
}

interface Cursor {
  mailbox: string;
  rows: ReturnType<SqliteMailboxEngine["fetchRows"]>;
  index: number;
  options: FetchOpenArgs[2];
  folder: string;
  sources: Map<number, { contentId: number; start: number; end: number } | Uint8Array>;
}

const owned = new Map<string, Owned>();
const streams = new Map<number, { parts: Uint8Array[]; size: number; tooBig: boolean }>();
const cursors = new Map<number, Cursor>();
let nextHandle = 1;

/** While set, posts are collected and leave as one message (a group commit's answers and events). */
let outbox: { messages: FromWorker[]; transfer: ArrayBuffer[] } | null = null;

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  if (outbox) {
    outbox.messages.push(m);
    outbox.transfer.push(...transfer);
    return;
  }
  port!.postMessage(m, transfer);
}

function postTogether(send: () => void): void {
  outbox = { messages: [], transfer: [] };
  try {
    send();
  } finally {
    const { messages, transfer } = outbox;
    outbox = null;
    if (messages.length === 1) port!.postMessage(messages[0], transfer);
    else if (messages.length > 1) port!.postMessage({ t: "many", messages }, transfer);
  }
}

/** Transaction control, prepared once per database. */
const control = new WeakMap<SqliteMailboxEngine, Record<"begin" | "savepoint" | "release" | "rollbackTo" | "commit", { run(): unknown }>>();

function controlOf(engine: SqliteMailboxEngine) {
  let c = control.get(engine);
  if (!c) {
    const db = engine.db;
    c = {
      begin: db.prepare("BEGIN IMMEDIATE"),
      savepoint: db.prepare("SAVEPOINT op"),
      release: db.prepare("RELEASE op"),
      rollbackTo: db.prepare("ROLLBACK TO op"),
      commit: db.prepare("COMMIT"),
    };
    control.set(engine, c);
  }
  return c;
}

function errorOf(e: unknown): { kind: StoreErrorKind; message: string } {
  if (e instanceof StoreError) return { kind: e.kind, message: e.message };
  const code = (e as { code?: string }).code;
  // Never forward arbitrary messages: they could quote message content.
  return { kind: "temporary", message: `internal storage error${code ? ` (${code})` : ""}` };
}

function schedule(o: Owned): void {
  if (o.scheduled) return;
  o.scheduled = true;
  setImmediate(() => drain(o));
}

function drain(o: Owned): void {
  o.scheduled = false;
  while (o.queue.length > 0 && !o.syncing) {
    if (!o.queue[0].write) {
      const t = o.queue.shift()!;
      try {
        t.reply(true, t.run(o.engine));
      } catch (e) {
        t.reply(false, e);
      }
      continue;
    }
    const batch: Task[] = [];
    while (o.queue.length > 0 && o.queue[0].write && batch.length < STORE_GROUP_COMMIT_MAX_OPS) batch.push(o.queue.shift()!);
    runBatch(o, batch);
  }
  releaseIfUnused(o);
}

/** Closes a mailbox nobody holds once nothing is queued or syncing for it. */
function releaseIfUnused(o: Owned): void {
  if (o.handles > 0 || o.queue.length > 0 || o.syncing || owned.get(o.mailbox) !== o) return;
  for (const [id, c] of cursors) if (c.mailbox === o.mailbox) cursors.delete(id);
  owned.delete(o.mailbox);
  o.engine.close();
}

function runBatch(o: Owned, batch: Task[]): void {
  const db = o.engine.db;
  const results: { ok: boolean; value: unknown }[] = [];
  o.engine.pendingEvents = [];
  const tx = controlOf(o.engine);
  try {
    tx.begin.run();
    if (batch.length === 1) {
      // A lone write needs no savepoint (which copies every page it touches to a sub-journal).
      try {
        results.push({ ok: true, value: batch[0].run(o.engine) });
      } catch (e) {
        db.exec("ROLLBACK");
        o.engine.pendingEvents = [];
        o.engine.recountPending();
        batch[0].reply(false, e);
        return;
      }
    } else {
      for (const t of batch) {
        const mark = o.engine.pendingEvents.length;
        tx.savepoint.run();
        try {
          const value = t.run(o.engine);
          tx.release.run();
          results.push({ ok: true, value });
        } catch (e) {
          tx.rollbackTo.run();
          tx.release.run();
          o.engine.pendingEvents.length = mark;
          o.engine.recountPending();
          results.push({ ok: false, value: e });
        }
      }
    }
    tx.commit.run();
  } catch (e) {
    if (db.inTransaction) db.exec("ROLLBACK");
    for (const t of batch) t.reply(false, e);
    o.engine.pendingEvents = [];
    o.engine.recountPending();
    return;
  }
  const events = o.engine.pendingEvents;
  o.engine.pendingEvents = [];
  o.writes++;
  batch.forEach((t, i) => (o.appendedBytes += results[i].ok ? (t.bytes ?? 0) : 0));
  // Answers first, then the watch events: one message.
  const answer = () => {
    postTogether(() => {
      batch.forEach((t, i) => t.reply(results[i].ok, results[i].value));
      for (const event of events) post({ t: "event", mailbox: o.mailbox, event });
    });
    if (o.writes >= STORE_CHECKPOINT_WRITES || o.appendedBytes >= STORE_CHECKPOINT_BYTES) checkpoint(o);
  };
  if (!batch.some((t, i) => t.sync && results[i].ok)) return answer();
  o.syncing = true;
  o.engine.syncWal((err) => {
    o.syncing = false;
    if (err) {
      // Committed but not known to be on stable storage: no write of the batch is reported as done.
      const failed = new StoreError("temporary", "storage sync failed");
      batch.forEach((t, i) => (results[i] = results[i].ok && t.write ? { ok: false, value: failed } : results[i]));
    }
    answer();
    schedule(o);
  });
}

/** Checkpoints the mailbox's WAL with the queue paused (see the header). */
function checkpoint(o: Owned): void {
  o.syncing = true;
  o.writes = 0;
  o.appendedBytes = 0;
  o.engine.checkpoint(function finish(err) {
    if (err) {
      setTimeout(() => o.engine.checkpoint(finish), STORE_SYNC_RETRY_MS);
      return;
    }
    o.syncing = false;
    schedule(o);
  });
}

type AppendArgs = { flags?: string[]; internalDate?: number; dedupeKey?: string };

/** The bytes of an append: given, or collected from its stream; size limits checked. */
function appendBytes(stream: number | Uint8Array): Uint8Array {
  let raw: Uint8Array;
  if (typeof stream === "number") {
    const s = streams.get(stream);
    streams.delete(stream);
    if (!s) throw new StoreError("temporary", "append stream was lost");
    if (s.tooBig) throw new StoreError("too-big", "message exceeds the size limit");
    raw = s.parts.length === 1 ? s.parts[0] : new Uint8Array(Buffer.concat(s.parts));
  } else raw = stream;
  if (raw.byteLength === 0) throw new StoreError("invalid", "empty message");
  if (raw.byteLength > STORE_MAX_MESSAGE_BYTES) throw new StoreError("too-big", "message exceeds the size limit");
  return raw;
}

/**
 * A prepared append whose byte arrays each own their buffer, so they can be
 * transferred (never a slice of a shared pool buffer, which transfer would detach).
 */
function detachable(p: PreparedAppend): { value: PreparedAppend; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const own = (u: Uint8Array): Uint8Array => {
    const copy = u.slice();
    transfer.push(copy.buffer);
    return copy;
  };
  const segments = p.segments.map((s) =>
    s.kind === "inline" ? { ...s, data: own(s.data) } : { ...s, hash: own(s.hash), chunks: s.chunks.map((c) => ({ codec: c.codec, data: own(c.data) })) },
  );
  return { value: { ...p, record: own(p.record), head: { codec: p.head.codec, data: own(p.head.data) }, segments }, transfer };
}

function ownedOf(mailbox: string): Owned {
  const o = owned.get(mailbox);
  if (!o) throw new StoreError("cannot", "mailbox is not open");
  return o;
}

function sectionHead(engine: SqliteMailboxEngine, contentId: number, size: number, req: BodySectionRequest, c: Cursor): SectionHead {
  const resolved = engine.section(contentId, size, req);
  const source = resolved.kind === "range" ? { contentId, start: resolved.start, end: resolved.end } : resolved.bytes;
  const length = resolved.kind === "range" ? resolved.end - resolved.start : resolved.bytes.byteLength;
  if (req.sizeOnly) return { size: length, inline: new Uint8Array(0) };
  if (length <= 64 * 1024) {
    const inline = source instanceof Uint8Array ? source : engine.readRange(source.contentId, source.start, source.end);
    if (inline.byteLength !== length) throw new StoreError("not-found", "message was expunged while being read");
    return { size: length, inline: inline.slice() };
  }
  const handle = nextHandle++;
  c.sources.set(handle, source);
  return { size: length, handle };
}

/** Serials of the head records this worker decoded (FetchHead.headKey). */
const headKeys = new WeakMap<object, number>();
let nextHeadKey = 1;

function headKeyOf(record: object): number {
  let key = headKeys.get(record);
  if (key === undefined) headKeys.set(record, (key = nextHeadKey++));
  return key;
}

function fetchHead(engine: SqliteMailboxEngine, c: Cursor, r: Cursor["rows"][number]): FetchHead {
  const o = c.options;
  const head: FetchHead = { uid: r.uid };
  if (o.flags) head.flags = r.flags.split(" ").filter((x) => x.length > 0);
  if (o.internalDate) head.internalDate = r.internal_ms;
  if (o.size) head.size = r.size;
  if (o.modseq) head.modseq = r.modseq;
  if (o.envelope || o.bodyStructure) {
    const record = engine.loadHead(r.content_id);
    head.headItems = record.fetchItemsJson();
    head.headKey = headKeyOf(record);
  }
  if (o.sections) head.sections = o.sections.map((s) => sectionHead(engine, r.content_id, r.size, s, c));
  return head;
}

/** Inline section buffers of a batch, moved (not copied) to the main thread. */
const transfers = new WeakMap<object, ArrayBuffer[]>();

/** The next batch of a cursor (see the header); drops the cursor when nothing is left to read. */
function fetchBatch(engine: SqliteMailboxEngine, id: number, c: Cursor): FetchBatch {
  c.sources.clear();
  const heads: FetchHead[] = [];
  const transfer: ArrayBuffer[] = [];
  let inlineBytes = 0;
  while (c.index < c.rows.length && heads.length < STORE_FETCH_BATCH_MESSAGES && inlineBytes < STORE_FETCH_BATCH_INLINE_BYTES) {
    let head: FetchHead;
    try {
      head = fetchHead(engine, c, c.rows[c.index]);
    } catch (e) {
      if (heads.length === 0) throw e;
      // Deliver the ones before it; the next request fails on this message.
      c.sources.clear();
      break;
    }
    c.index++;
    heads.push(head);
    let streamed = false;
    for (const s of head.sections ?? []) {
      if (s.inline) {
        inlineBytes += s.inline.byteLength;
        if (s.inline.byteLength > 0) transfer.push(s.inline.buffer as ArrayBuffer);
      } else streamed = true;
    }
    if (streamed) break;
  }
  const done = c.index >= c.rows.length;
  const closed = done && c.sources.size === 0;
  if (closed) cursors.delete(id);
  const batch: FetchBatch = { heads, done, closed };
  transfers.set(batch, transfer);
  return batch;
}

function fetchRead(engine: SqliteMailboxEngine, c: Cursor, handle: number, offset: number): Uint8Array {
  const src = c.sources.get(handle);
  if (!src) throw new StoreError("invalid", "unknown section handle");
  if (src instanceof Uint8Array) return src.slice(offset, offset + STORE_CHUNK_BYTES);
  const start = src.start + offset;
  const end = Math.min(src.end, start + STORE_CHUNK_BYTES);
  const bytes = engine.readRange(src.contentId, start, end);
  if (bytes.byteLength !== end - start) throw new StoreError("not-found", "message was expunged while being read");
  return bytes;
}


/**
 * The changes a following handle asked for, read inside the write's task (so
 * no other write lands between); none when they cannot be read (e.g. the
 * write deleted the folder): they are only a hint, the write stands.
 */
function changesAfter(engine: SqliteMailboxEngine, follow: FollowArgs): ChangesData | undefined {
  try {
    return engine.changesSince(follow.folder, follow.modseq);
  } catch {
    return undefined;
  }
}

function handle(req: WorkerRequest): void {
  let changes: ChangesData | undefined;
  const reply = (ok: boolean, value: unknown) => {
    if (ok) {
      const transfer =
        value instanceof Uint8Array && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength
          ? [value.buffer as ArrayBuffer]
          : typeof value === "object" && value !== null
            ? (transfers.get(value) ?? [])
            : [];
      post(changes ? { t: "res", id: req.id, ok: true, value, changes } : { t: "res", id: req.id, ok: true, value }, transfer);
    } else post({ t: "res", id: req.id, ok: false, error: errorOf(value) });
  };
  const enqueue = (write: boolean, run: (e: SqliteMailboxEngine) => unknown, sync = false, bytes = 0) => {
    const o = ownedOf(req.mailbox);
    const follow = req.follow;
    const task = write && follow ? (e: SqliteMailboxEngine) => {
      const value = run(e);
      changes = changesAfter(e, follow);
      return value;
    } : run;
    o.queue.push({ write, sync, bytes, run: task, reply });
    schedule(o);
  };
  const a = req.args;
  switch (req.op) {
    case "open": {
      const args = a[0] as OpenArgs;
      let o = owned.get(req.mailbox);
      // A new owner opens the file at once (a wrong key or a stale file fails here, writing nothing).
      const fresh = o === undefined;
      if (!o) {
        const engine = SqliteMailboxEngine.open(args);
        o = { mailbox: req.mailbox, engine, handles: 0, queue: [], scheduled: false, syncing: false, writes: 0, appendedBytes: 0 };
        owned.set(req.mailbox, o);
      }
      const target = o;
      // The generation moves in a synced write; the handle counts once that is answered.
      target.queue.push({
        write: true,
        sync: true,
        run: (e) => {
          if (!fresh && !e.sameKey(args.key)) throw new StoreError("bad-key", "the key does not open this mailbox");
          const generation = e.bumpGeneration(args.minGeneration);
          e.quotaBytes = args.quotaBytes;
          return { generation };
        },
        reply: (ok, value) => {
          if (ok) target.handles += fresh ? (args.handles ?? 1) : 1;
          reply(ok, value);
        },
      });
      schedule(target);
      return;
    }
    case "close": {
      const o = ownedOf(req.mailbox);
      let deferred = false;
      o.queue.push({
        write: false,
        run: () => {
          o.handles--;
          if (o.handles > 0 || o.queue.length > 0) return;
          // The last close checkpoints with its syncs off the thread first (SQLite's own close
          // then has nothing to copy or sync), and closes the file before it is answered
          // (callers may then move or delete it).
          deferred = true;
          o.syncing = true;
          o.engine.checkpoint(() => {
            // A failed sync is not fatal here: SQLite's close checkpoints (and syncs) by itself.
            o.syncing = false;
            releaseIfUnused(o);
            reply(true, null);
            schedule(o);
          });
        },
        reply: (ok, value) => {
          if (!deferred) reply(ok, value);
        },
      });
      schedule(o);
      return;
    }
    case "prepare": {
      const { value, transfer } = detachable(prepareAppend(appendBytes(a[0] as number | Uint8Array)));
      post({ t: "res", id: req.id, ok: true, value }, transfer);
      return;
    }
    case "appendPrepared": {
      const [prepared, folder, options] = a as [PreparedAppend, string, AppendArgs];
      return enqueue(true, (e) => e.append(folder, prepared, options), true, prepared.size);
    }
    case "appendBatch": {
      // Items prepared elsewhere, or bytes prepared here, before the transaction.
      // One task, so one savepoint: all of the batch is written or none of it. Synced like any append.
      const [items, folder, options] = a as [(PreparedAppend | Uint8Array)[], string, AppendArgs[]];
      const prepared = items.map((item) => (item instanceof Uint8Array ? prepareAppend(appendBytes(item)) : item));
      const bytes = prepared.reduce((n, p) => n + p.size, 0);
      return enqueue(true, (e) => prepared.map((p, i) => e.append(folder, p, options[i])), true, bytes);
    }
    case "append": {
      const [stream, folder, options] = a as [number | Uint8Array, string, AppendArgs];
      const raw = appendBytes(stream);
      const o = ownedOf(req.mailbox);
      // A known dedupe key needs no parsing; the write re-checks inside its transaction.
      const dup = o.engine.checkDedupe(options.dedupeKey);
      if (dup && o.queue.length === 0 && !o.syncing) return reply(true, dup);
      const prepared: PreparedAppend = prepareAppend(raw);
      return enqueue(true, (e) => e.append(folder, prepared, options), true, prepared.size);
    }
    case "fetchOpen": {
      const [folder, uids, options] = a as FetchOpenArgs;
      return enqueue(false, (e) => {
        const rows = e.fetchRows(folder, uids, options.changedSince);
        const id = nextHandle++;
        const c: Cursor = { mailbox: req.mailbox, rows, index: 0, options, folder, sources: new Map() };
        cursors.set(id, c);
        try {
          const first = fetchBatch(e, id, c);
          const result: FetchOpenResult = { ...first, cursor: id };
          transfers.set(result, transfers.get(first) ?? []);
          return result;
        } catch (err) {
          cursors.delete(id);
          throw err;
        }
      });
    }
    case "fetchNext":
    case "fetchRead":
    case "fetchClose": {
      const c = cursors.get(a[0] as number);
      if (req.op === "fetchClose") {
        cursors.delete(a[0] as number);
        return reply(true, null);
      }
      if (!c || c.mailbox !== req.mailbox) throw new StoreError("invalid", "unknown fetch cursor");
      if (req.op === "fetchNext") return enqueue(false, (e) => fetchBatch(e, a[0] as number, c));
      return enqueue(false, (e) => fetchRead(e, c, a[1] as number, a[2] as number));
    }
    case "dropStream":
      streams.delete(a[0] as number);
      return reply(true, null);
    case "listFolders":
      return enqueue(false, (e) => e.listFolders());
    case "status":
      return enqueue(false, (e) => e.status(a[0] as string));
    case "uids":
      return enqueue(false, (e) => e.uids(a[0] as string));
    case "search":
      return enqueue(false, (e) => e.search(a[0] as string, a[1] as never));
    case "sort":
      return enqueue(false, (e) => e.sort(a[0] as string, a[1] as never, a[2] as never));
    case "thread":
      return enqueue(false, (e) => e.thread(a[0] as string, a[1] as never, a[2] as never));
    case "changesSince":
      return enqueue(false, (e) => e.changesSince(a[0] as string, a[1] as number));
    case "quota":
      return enqueue(false, (e) => e.quota());
    case "select": {
      // One task, so one snapshot; a claim makes it a (one-row) write in the group commit.
      const folder = a[0] as string;
      const recent = a[1] as "claim" | "peek" | null;
      return enqueue(recent === "claim", (e) => ({
        status: e.status(folder),
        uids: e.uids(folder),
        recent: recent === null ? null : e.claimRecent(folder, recent === "peek"),
      }));
    }
    case "claimRecent": {
      // A peek only reads; a claim is a (one-row) write in the group commit.
      const peek = a[1] === true;
      return enqueue(!peek, (e) => e.claimRecent(a[0] as string, peek));
    }
    case "createFolder":
      return enqueue(true, (e) => e.createFolder(a[0] as string, (a[1] as never) ?? null));
    case "renameFolder":
      return enqueue(true, (e) => e.renameFolder(a[0] as string, a[1] as string));
    case "deleteFolder":
      return enqueue(true, (e) => e.deleteFolder(a[0] as string));
    case "subscribe":
      return enqueue(true, (e) => e.subscribe(a[0] as string, a[1] as boolean));
    case "storeFlags":
      return enqueue(true, (e) => e.storeFlags(a[0] as string, a[1] as never, a[2] as never));
    case "copy":
      return enqueue(true, (e) => e.copy(a[0] as string, a[1] as never, a[2] as string), true);
    case "move":
      return enqueue(true, (e) => e.copy(a[0] as string, a[1] as never, a[2] as string, true), true);
    case "expunge":
      return enqueue(true, (e) => e.expunge(a[0] as string, a[1] as never));
    default:
      throw new StoreError("invalid", "unknown operation");
  }
}

port.on("message", function receive(m: ToWorker): void {
  if (m.t === "many") return m.messages.forEach(receive);
  if (m.t === "chunk") {
    let s = streams.get(m.stream);
    if (!s) streams.set(m.stream, (s = { parts: [], size: 0, tooBig: false }));
    s.size += m.data.byteLength;
    if (s.size > STORE_MAX_MESSAGE_BYTES) {
      s.tooBig = true;
      s.parts = [];
    } else s.parts.push(m.data);
    return;
  }
  try {
    handle(m);
  } catch (e) {
    post({ t: "res", id: m.id, ok: false, error: errorOf(e) });
  }
});
