/**
 * The synchronous engine behind one encrypted mailbox file. It runs only inside
 * the worker thread that owns the mailbox (see sqlite-worker.ts); the main
 * event loop never sees a Database handle.
 *
 * Invariants:
 * - The key is checked to be exactly 32 bytes before SQLite sees it and is passed
 *   as a raw hex key (`x'…'`): never a passphrase, never PBKDF2.
 * - A file that does not exist is never created unless asked, and a wrong key
 *   is detected by a read before any write, so it never changes the file.
 * - Pages are encrypted and authenticated with AEGIS-256 (a 32-byte nonce and
 *   a 32-byte tag per page); files written before AEGIS keep chacha20
 *   (ChaCha20-Poly1305, 32 bytes per page). The cipher is chosen by the
 *   reserved bytes per page in the plaintext header (byte 20): 64 → AEGIS-256,
 *   32 → chacha20, a new file → AEGIS-256, anything else is refused, and after
 *   opening the header must still say what the cipher needs — a cipher without
 *   its reserved space would run without its per-page MAC.
 * - `temp_store=MEMORY`: SQLite never spills a sort or temporary table to an
 *   (unencrypted) temp file.
 * - UID allocation, row inserts and the modseq bump happen in one transaction.
 *   Modseqs are per folder (RFC 7162 §3): a message write takes its folder's
 *   HIGHESTMODSEQ + 1 and stores it in the folder row it updates anyway; only
 *   folder-list changes move the mailbox-wide counter in `meta`, from which a
 *   new folder starts.
 *   Write methods assume the caller (the worker's group commit) holds a
 *   transaction; they never commit themselves. The connection always runs
 *   `synchronous=NORMAL` (in WAL mode: a commit survives a process kill, and
 *   the file is never corrupted by a power loss); the worker makes a commit
 *   power-loss durable by syncing the WAL file (`syncWal`) before it answers.
 * - Opening checks freshness but does not move the generation; the worker
 *   bumps it in a write transaction it syncs (`bumpGeneration`).
 * - `BODY[]` is rebuilt from segments byte for byte: inline chunks and blobs
 *   (leaf parts ≥ STORE_BLOB_MIN_BYTES, stored once per SHA-256 and reference
 *   counted across messages and folders, freed by the purge after the last
 *   copy goes).
 * - Text (indexer output, inline chunks, blob chunks) is compressed before it
 *   reaches SQLite; each row records its codec.
 * - The text index lags by at most STORE_FTS_PENDING_MAX contents: contents
 *   with an id above the `fts_indexed_upto` mark (meta) wait for it, and the
 *   append that makes them that many indexes them all in its own transaction
 *   and moves the mark. A new content's id is always above the mark (ids are
 *   taken above both the highest row and the mark), so an append writes
 *   nothing for the index. A TEXT/BODY search takes every waiting content as
 *   a candidate for the exact scan.
 * - Expunging a content's last message only lists it in `content_purge`; the
 *   expunge that fills the list to STORE_PURGE_PENDING_MAX deletes every
 *   listed content's rows in its own transaction. Every read reaches a
 *   content through a message row, so a listed content is never found or
 *   counted; only a FETCH that read its row before the expunge may still
 *   deliver it until the purge (RFC 2180 §4.1.2), as the worker's batches are
 *   built.
 * - SEARCH keeps decoded body text per content id in memory (at most
 *   STORE_SEARCH_CACHE_CHARS per mailbox), and FETCH/header SEARCH decoded
 *   head records (at most STORE_HEAD_CACHE_BYTES), both filled only by reads
 *   outside write transactions and dropped whenever a content id is stored or
 *   released, so an entry always holds the committed data of that id (content
 *   rows never change in place).
 * - A folder row's counts (messages, bytes, unseen, \Deleted, unclaimed
 *   \Recent) and first unseen UID (schema v6) change in the same statement as
 *   its UIDNEXT, HIGHESTMODSEQ or first unclaimed UID, by every write that
 *   adds, removes, reflags or claims a message, so STATUS reads one row.
 * - Folder rows read outside a transaction are cached until a statement that
 *   writes the folders table is next taken from st(); inside a transaction
 *   they are always read afresh and never cached.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { closeSync, existsSync, fdatasync, openSync, readSync } from "node:fs";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import Database from "better-sqlite3-multiple-ciphers";
import { STORE_BLOB_MIN_BYTES, STORE_CHUNK_BYTES, STORE_FTS_PENDING_MAX, STORE_HEAD_CACHE_BYTES, STORE_PURGE_PENDING_MAX, STORE_MAX_FOLDERS, STORE_SEARCH_CACHE_CHARS, STORE_SEARCH_LOOKUP_MAX, STORE_STATEMENT_CACHE_MAX, STORE_WAL_AUTOCHECKPOINT_PAGES } from "../limits.ts";
import { parseMessage } from "../mime/parse.ts";
import type { HeaderFieldData, MimePartData } from "../mime/types.ts";
import { resolveSection, type ResolvedSection } from "./body-section.ts";
import { BoundedCache } from "./bounded-cache.ts";
import { defineKeywords, hasFlag, normalizeFlags, planFlagUpdates } from "./flag-names.ts";
import { folderList, folderStatusData, type FolderCounts, type FolderRecord } from "./folder-data.ts";
import { folderAncestors, isFolderDescendant, normalizeFolderName } from "./folder-name.ts";
import { DEFAULT_FOLDERS, checkMailboxKey } from "./mailbox-id.ts";
import { decodeContentRecord, decodeHeadRecord, encodeContentRecord, encodeHeadRecord, type StoredParsed } from "./content-record.ts";
import { factsFromParsed, type MessageFacts } from "./message-facts.ts";
import { headerSearchText, headerValues } from "./message-text.ts";
import { collectTextKeys, createMatcher, requiredTextKeys, validateSearch, type SearchTextSource } from "./search-match.ts";
import { sortMessages, threadKeys, threadOrderedSubject, threadReferencesGrouped, type SortableMessage } from "./sort-thread.ts";
import { MIGRATIONS, MIGRATION_STEPS, SCHEMA_VERSION } from "./sqlite-schema.ts";
import { trigramQuery } from "./trigram-query.ts";
import {
  StoreError,
  type AppendData,
  type BodySectionRequest,
  type ChangesData,
  type CopyData,
  type FolderData,
  type FolderStatusData,
  type MailboxChangeEvent,
  type QuotaData,
  type RecentClaimData,
  type SearchKey,
  type SortKey,
  type SpecialUse,
  type StoreFlagsData,
  type StoreFlagsOptions,
  type ThreadNodeData,
  type UidSet,
} from "./types.ts";
import { checkDedupeKey, checkQuota } from "./write-checks.ts";

type DB = Database.Database;
type HeadRecord = ReturnType<typeof decodeHeadRecord>;

const CODEC_NONE = 0;
const CODEC_DEFLATE = 1;

/**
 * Page ciphers by the bytes each reserves per page. AEGIS-256 costs a write
 * transaction about what no encryption does on this kind of CPU (AES
 * instructions), where chacha20 costs about three times that; chacha20 is
 * kept for the files it wrote.
 */
const PAGE_CIPHERS = new Map<number, readonly string[]>([
  [64, ["cipher='aegis'", "algorithm='aegis-256'"]],
  [32, ["cipher='chacha20'"]],
]);
const NEW_FILE_RESERVED_BYTES = 64;

// Level 1: most of level 4's ratio on mail text at about half the CPU, and
// appends are CPU bound.
const DEFLATE_LEVEL = 1;

// zlib keeps the match window within MIN_LOOKAHEAD bytes of its size.
const DEFLATE_LOOKAHEAD = 262;

/**
 * Raw deflate with the smallest window (2^9 to 2^15 bytes) that still spans the
 * whole input: matches reach as far back as with the full window, but the
 * per-call zlib setup allocates and clears far less for a small row. Any window
 * up to 2^15 inflates with the default settings, so stored rows read the same.
 */
function deflate(data: Uint8Array): Buffer {
  const windowBits = Math.max(9, Math.min(15, Math.ceil(Math.log2(data.byteLength + DEFLATE_LOOKAHEAD))));
  return deflateRawSync(data, { level: DEFLATE_LEVEL, windowBits });
}

function compress(data: Uint8Array): { codec: number; data: Uint8Array } {
  if (data.byteLength < 64) return { codec: CODEC_NONE, data };
  const z = deflate(data);
  return z.byteLength < data.byteLength ? { codec: CODEC_DEFLATE, data: z } : { codec: CODEC_NONE, data };
}

function decompress(codec: number, data: Uint8Array): Uint8Array {
  if (codec === CODEC_NONE) return data;
  if (codec === CODEC_DEFLATE) return inflateRawSync(data);
  throw new StoreError("corrupt", "unknown codec");
}

const utf8d = new TextDecoder();

/** SQL for the text index mark: contents with a higher id are not indexed yet (schema v6). */
const FTS_MARK = "(SELECT value FROM meta WHERE key = 'fts_indexed_upto')";


/** Work done before the write transaction: parse, split, hash, compress. */
export interface PreparedAppend {
  size: number;
  facts: MessageFacts;
  /** The content record (content-record.ts), deflated. */
  record: Uint8Array;
  /**
   * The head record (content-record.ts). Stored uncompressed: it is small, and
   * read for every message of a FETCH ENVELOPE, where setting up an inflate
   * would cost more than the read itself.
   */
  head: { codec: number; data: Uint8Array };
  segments: ({ kind: "inline"; start: number; length: number; codec: number; data: Uint8Array } | { kind: "blob"; start: number; length: number; hash: Uint8Array; chunks: { codec: number; data: Uint8Array }[] })[];
}

function leaves(n: MimePartData, out: MimePartData[] = []): MimePartData[] {
  if (n.children.length === 0) out.push(n);
  else for (const c of n.children) leaves(c, out);
  return out;
}

function chunkCompressed(bytes: Uint8Array): { codec: number; data: Uint8Array }[] {
  const out: { codec: number; data: Uint8Array }[] = [];
  for (let i = 0; i < bytes.byteLength; i += STORE_CHUNK_BYTES) out.push(compress(bytes.subarray(i, Math.min(bytes.byteLength, i + STORE_CHUNK_BYTES))));
  return out;
}

export function prepareAppend(raw: Uint8Array): PreparedAppend {
  const parsed = parseMessage(raw);
  const facts = factsFromParsed(parsed);
  const stored: StoredParsed = { envelope: parsed.envelope, bodyStructure: parsed.bodyStructure, tree: parsed.tree, headers: parsed.headers };
  const headerText = headerSearchText(parsed.headers);
  const segments: PreparedAppend["segments"] = [];
  const pushInline = (from: number, to: number) => {
    for (let i = from; i < to; i += STORE_CHUNK_BYTES) {
      const end = Math.min(to, i + STORE_CHUNK_BYTES);
      const c = compress(raw.subarray(i, end));
      segments.push({ kind: "inline", start: i, length: end - i, codec: c.codec, data: c.data });
    }
  };
  let pos = 0;
  const big = leaves(parsed.tree)
    .filter((l) => l.bodyEnd - l.bodyStart >= STORE_BLOB_MIN_BYTES)
    .sort((a, b) => a.bodyStart - b.bodyStart);
  for (const l of big) {
    if (l.bodyStart < pos) continue;
    pushInline(pos, l.bodyStart);
    const bytes = raw.subarray(l.bodyStart, l.bodyEnd);
    const hash = createHash("sha256").update(bytes).digest();
    segments.push({ kind: "blob", start: l.bodyStart, length: bytes.byteLength, hash, chunks: chunkCompressed(bytes) });
    pos = l.bodyEnd;
  }
  pushInline(pos, raw.byteLength);
  return {
    size: raw.byteLength,
    facts,
    record: deflate(encodeContentRecord({ parsed: stored, headerText, bodyText: parsed.bodyText })),
    head: { codec: CODEC_NONE, data: encodeHeadRecord(stored) },
    segments,
  };
}

interface FolderRow {
  id: number;
  name: string;
  special_use: SpecialUse | null;
  subscribed: number;
  uidvalidity: number;
  uidnext: number;
  highest_modseq: number;
  keywords: string;
  first_recent_uid: number;
  /** Exact counts of the folder's messages (schema v6), changed with every write that changes them. */
  message_count: number;
  message_bytes: number;
  unseen_count: number;
  deleted_count: number;
  first_unseen_uid: number | null;
  /** Messages with uid >= first_recent_uid (\Recent, not claimed yet). */
  recent_count: number;
}

interface MessageRow {
  uid: number;
  modseq: number;
  flags: string;
  internal_date: string;
  /** internal_date in milliseconds since the epoch. */
  internal_ms: number;
  size: number;
  content_id: number;
}

/**
 * internal_date as milliseconds, computed by SQLite (exact for the stored
 * ISO-8601 form: whole milliseconds); NULL for a year outside 0000–9999,
 * which the reader then parses itself. Date.parse per row was most of the
 * cost of building SEARCH rows.
 */
const INTERNAL_MS = (column: string) => `CAST(round(unixepoch(${column}, 'subsec') * 1000) AS INTEGER)`;

/**
 * Message rows of `WHERE <where>` in UID order, as one JSON text built by
 * SQLite. better-sqlite3 builds a row object property by property, several
 * times slower than JSON.parse of the same rows; FETCH, STORE, EXPUNGE and
 * SEARCH read whole folders of them. Only numbers and UTF-8 text cross (no
 * blobs), so JSON carries every value exactly.
 */
const MESSAGE_ROWS_JSON = (where: string) =>
  `SELECT json_group_array(json_array(uid, modseq, flags, internal_date, ${INTERNAL_MS("internal_date")}, size, content_id) ORDER BY uid) FROM messages WHERE ${where}`;

function messageRowsFromJson(json: string): MessageRow[] {
  return (JSON.parse(json) as [number, number, string, string, number | null, number, number][]).map(([uid, modseq, flags, internal_date, ms, size, content_id]) => ({
    uid,
    modseq,
    flags,
    internal_date,
    internal_ms: ms ?? Date.parse(internal_date),
    size,
    content_id,
  }));
}

function flagsOut(s: string): string[] {
  return s.split(" ").filter((x) => x.length > 0);
}

function flagsIn(flags: readonly string[]): string {
  return flags.length === 0 ? " " : ` ${flags.join(" ")} `;
}

/**
 * SQL for a folder's first unseen UID after a write (inside an UPDATE of
 * `folders`), found by walking its messages up from `start`: every UID below
 * `start` is known to be seen.
 */
function firstUnseenFrom(start: string): string {
  return `(SELECT m.uid FROM messages m WHERE m.folder_id = folders.id AND m.uid >= ${start} AND instr(m.flags, ' \\Seen ') = 0 ORDER BY m.uid LIMIT 1)`;
}

/**
 * What a message with these stored flags adds to its folder's unseen and
 * deleted counts: the same test as the v6 migration and the unseen index
 * (system flags are stored in their canonical spelling, see flag-names.ts).
 */
function flagCounts(stored: string): { unseen: number; deleted: number } {
  return { unseen: stored.includes(" \\Seen ") ? 0 : 1, deleted: stored.includes(" \\Deleted ") ? 1 : 0 };
}

function uidWhere(set: UidSet): { sql: string; args: number[] } {
  if (set.length === 0) return { sql: "0", args: [] };
  const parts: string[] = [];
  const args: number[] = [];
  for (const r of set) {
    const lo = Math.min(r.start, r.end);
    const hi = Math.max(r.start, r.end);
    parts.push("(uid >= ? AND uid <= ?)");
    args.push(lo, hi === Infinity ? Number.MAX_SAFE_INTEGER : hi);
  }
  return { sql: parts.join(" OR "), args };
}

function mapSqliteError(e: unknown): never {
  if (e instanceof StoreError) throw e;
  const code = (e as { code?: string }).code ?? "";
  if (code === "SQLITE_NOTADB") throw new StoreError("bad-key", "the key does not open this mailbox");
  if (code.startsWith("SQLITE_CORRUPT")) throw new StoreError("corrupt", "mailbox file failed an integrity check");
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_IOERR") || code === "SQLITE_FULL" || code.startsWith("SQLITE_CANTOPEN"))
    throw new StoreError("temporary", `storage error (${code})`);
  throw e;
}

export interface EngineOpenOptions {
  path: string;
  key: Uint8Array;
  create: boolean;
  minGeneration?: number;
  /** Benchmarks only: open without encryption. Never reachable from settings. */
  plaintextForBenchmark?: boolean;
}

/** Reads byte 20 of the file header (bytes 16–23 stay readable under sqlite3mc). */
function reservedBytes(path: string): number {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(24);
    const n = readSync(fd, b, 0, 24, 0);
    return n >= 21 ? b[20] : -1;
  } finally {
    closeSync(fd);
  }
}

export class SqliteMailboxEngine {
  readonly db: DB;
  generation = 0;
  quotaBytes: number | undefined;
  private readonly keyBytes: Buffer;
  /** Events of the current transaction; published by the worker after commit. */
  pendingEvents: MailboxChangeEvent[] = [];
  /**
   * Contents above the `fts_indexed_upto` mark as far as this connection knows
   * (read at open, kept by appends, indexing and purges, recounted by the
   * worker after a rollback). It only decides when to index.
   */
  private ftsPending = 0;
  /** Contents listed in `content_purge`, kept like ftsPending; it only decides when to purge. */
  private purgePending = 0;
  /** Body text by content id for SEARCH, least recently used first (see the header). */
  private readonly bodyCache = new BoundedCache<number, string>(STORE_SEARCH_CACHE_CHARS);
  /** Decoded head records by content id for FETCH and header SEARCH (see the header). */
  private readonly headCache = new BoundedCache<number, HeadRecord>(STORE_HEAD_CACHE_BYTES);
  /** Folder rows by normalised name, filled outside transactions (see folderRow). */
  private readonly folderCache = new Map<string, FolderRow>();
  /** Cached statements that write the folders table: preparing one empties folderCache. */
  private readonly folderWriters = new WeakSet<Database.Statement>();
  /** Prepared statements by SQL text, least recently used first; at most STORE_STATEMENT_CACHE_MAX. */
  private readonly stmts = new Map<string, Database.Statement>();

  /** Read-only descriptor of the `-wal` file, opened on the first sync; fdatasync on it flushes SQLite's writes. */
  private walFd: number | null = null;
  /** Read-only descriptor of the database file, for the checkpoint's sync. */
  private dbFd: number | null = null;

  private constructor(
    db: DB,
    key: Uint8Array,
    private readonly path: string,
  ) {
    this.db = db;
    this.keyBytes = Buffer.from(key);
  }

  static open(o: EngineOpenOptions): SqliteMailboxEngine {
    checkMailboxKey(o.key);
    const existed = existsSync(o.path);
    if (!existed && !o.create) throw new StoreError("not-found", "no such mailbox");
    let db: DB | null = null;
    try {
      // A file without a complete header yet (created, never written) starts as a new one.
      const header = existed ? reservedBytes(o.path) : -1;
      const reserved = header === -1 ? NEW_FILE_RESERVED_BYTES : header;
      const cipher = PAGE_CIPHERS.get(reserved);
      if (!o.plaintextForBenchmark && !cipher) throw new StoreError("corrupt", "mailbox file does not reserve the space its page cipher needs");
      db = new Database(o.path, { fileMustExist: existed });
      if (!o.plaintextForBenchmark) {
        for (const pragma of cipher!) db.pragma(pragma);
        db.pragma(`key="x'${Buffer.from(o.key).toString("hex")}'"`);
      }
      // One connection (in the owning worker) ever opens a mailbox file: it keeps its locks, and the
      // WAL index lives in its heap instead of a shared -shm file, so no statement pays a lock syscall.
      db.pragma("locking_mode=EXCLUSIVE");
      // A wrong key fails here, on a read, before anything is written.
      db.prepare("SELECT count(*) FROM sqlite_master").get();
      if (!existed) {
        db.pragma("encoding='UTF-8'");
        db.exec("BEGIN; CREATE TABLE _init(x); DROP TABLE _init; COMMIT;"); // writes page 1 in rollback mode
      }
      db.pragma("journal_mode=WAL");
      db.pragma("busy_timeout=5000");
      db.pragma("synchronous=NORMAL");
      db.pragma(`wal_autocheckpoint=${STORE_WAL_AUTOCHECKPOINT_PAGES}`);
      db.pragma("foreign_keys=ON");
      // Sorts and temporary b-trees stay in memory: a temp file would not be encrypted.
      db.pragma("temp_store=MEMORY");
      if (!o.plaintextForBenchmark && reservedBytes(o.path) !== reserved) throw new StoreError("corrupt", "mailbox file does not reserve the space its page cipher needs");
      const engine = new SqliteMailboxEngine(db, o.key, o.path);
      engine.migrate();
      // Statements prepared against the old schema are not kept, nor rows read by a migration.
      engine.stmts.clear();
      engine.folderCache.clear();
      engine.checkFresh(o.minGeneration);
      engine.generation = engine.meta("generation");
      engine.recountPending();
      return engine;
    } catch (e) {
      db?.close();
      return mapSqliteError(e);
    }
  }

  sameKey(key: Uint8Array): boolean {
    return key.byteLength === this.keyBytes.byteLength && timingSafeEqual(Buffer.from(key), this.keyBytes);
  }

  private migrate(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new StoreError("cannot", "mailbox file was written by a newer version");
    for (let v = version + 1; v <= SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        if (v === 1) for (const d of DEFAULT_FOLDERS) this.insertFolder(d.name, d.specialUse);
        const step = MIGRATION_STEPS[v];
        if (step?.step === "content-records-and-indexes") {
          this.migrateContentRecords();
          this.reindex();
        }
        if (step?.step === "folder-keywords") this.migrateFolderKeywords();
        if (step?.step === "content-heads") this.migrateContentHeads();
        if (step?.step === "fts-mark") this.migrateFtsMark();
        if (step) this.db.exec(step.after);
        this.db.pragma(`user_version=${v}`);
      })();
    }
  }

  /** v1 kept the indexer output in three columns of `contents`; v2 keeps one record per content. */
  private migrateContentRecords(): void {
    const insert = this.db.prepare("INSERT INTO content_data(id, codec, data) VALUES (?, ?, ?)");
    const rows = this.db.prepare("SELECT id, codec, parsed, header_text, body_text FROM contents").all() as { id: number; codec: number; parsed: Buffer; header_text: Buffer; body_text: Buffer }[];
    for (const r of rows) {
      const text = (b: Buffer) => utf8d.decode(decompress(r.codec, b));
      const record = encodeContentRecord({ parsed: JSON.parse(text(r.parsed)) as StoredParsed, headerText: text(r.header_text), bodyText: text(r.body_text) });
      insert.run(r.id, CODEC_DEFLATE, deflate(record));
    }
  }

  /** v3: each folder's keyword list, from the flags its messages carry (in UID order, so first use comes first). */
  private migrateFolderKeywords(): void {
    const folders = this.db.prepare("SELECT id FROM folders").pluck().all() as number[];
    const flags = this.db.prepare("SELECT flags FROM messages WHERE folder_id = ? AND flags GLOB '* [^\\]*' ORDER BY uid").pluck();
    const update = this.db.prepare("UPDATE folders SET keywords = ? WHERE id = ?");
    for (const id of folders) {
      const keywords: string[] = [];
      // Old files may hold more keywords than the cap: they are kept, the cap applies to new ones.
      for (const f of flags.iterate(id) as Iterable<string>) {
        for (const flag of flagsOut(f)) if (!flag.startsWith("\\") && !keywords.some((k) => k.toLowerCase() === flag.toLowerCase())) keywords.push(flag);
      }
      if (keywords.length > 0) update.run(flagsIn(keywords), id);
    }
  }

  /** v4 keeps a head record per content beside the content record. */
  private migrateContentHeads(): void {
    const insert = this.db.prepare("INSERT INTO content_heads(id, codec, data) VALUES (?, ?, ?)");
    for (const id of this.db.prepare("SELECT id FROM content_data").pluck().all() as number[]) {
      insert.run(id, CODEC_NONE, encodeHeadRecord(this.contentRecord(id).parsed()));
    }
  }

  /** v6: contents v5 listed as waiting are indexed, and the mark starts above every content. */
  private migrateFtsMark(): void {
    const insert = this.db.prepare("INSERT INTO fts(rowid, header, body) VALUES (?, ?, ?)");
    for (const id of this.db.prepare("SELECT id FROM fts_pending ORDER BY id").pluck().all() as number[]) {
      const r = this.contentRecord(id);
      insert.run(id, r.headerText(), r.bodyText());
    }
    this.db.prepare("INSERT INTO meta(key, value) VALUES ('fts_indexed_upto', (SELECT coalesce(max(id), 0) FROM contents))").run();
  }

  /** Rebuilds the text index and the thread partition from stored rows. */
  private reindex(): void {
    const insert = this.db.prepare("INSERT INTO fts(rowid, header, body) VALUES (?, ?, ?)");
    for (const id of this.db.prepare("SELECT id FROM content_data").pluck().all() as number[]) {
      const r = this.contentRecord(id);
      insert.run(id, r.headerText(), r.bodyText());
    }
    const rows = this.db.prepare("SELECT id, message_id, in_reply_to, refs, base_subject FROM contents ORDER BY id").all() as {
      id: number;
      message_id: string | null;
      in_reply_to: string | null;
      refs: string;
      base_subject: string;
    }[];
    for (const r of rows)
      this.joinThread(r.id, { messageId: r.message_id, inReplyTo: r.in_reply_to, references: JSON.parse(r.refs) as string[], baseSubject: r.base_subject });
  }

  /** Puts an existing content row into its thread partition (migration only; appends use threadFor). */
  private joinThread(contentId: number, facts: Parameters<typeof threadKeys>[0]): void {
    this.st("UPDATE contents SET thread_id = ? WHERE id = ?").run(this.threadFor(contentId, facts), contentId);
  }

  /**
   * The partition of every key a content shares, merging partitions it bridges
   * (or a new one named by the content's id), with the content's keys
   * recorded in it. The caller stores the answer in the content's row.
   */
  private threadFor(contentId: number, facts: Parameters<typeof threadKeys>[0]): number {
    const keys = threadKeys(facts);
    const found = new Set<number>();
    for (const k of keys) {
      const t = this.st("SELECT thread_id FROM thread_keys WHERE key = ?").pluck().get(k) as number | undefined;
      if (t !== undefined) found.add(t);
    }
    const thread = found.size === 0 ? contentId : Math.min(...found);
    for (const other of found) {
      if (other === thread) continue;
      this.st("UPDATE thread_keys SET thread_id = ? WHERE thread_id = ?").run(thread, other);
      this.st("UPDATE contents SET thread_id = ? WHERE thread_id = ?").run(thread, other);
    }
    for (const k of keys) this.st("INSERT INTO thread_keys(key, thread_id) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET thread_id = excluded.thread_id").run(k, thread);
    return thread;
  }

  /** Freshness (DESIGN §4): refuse a file older than the edge's record. */
  checkFresh(minGeneration?: number): void {
    if (minGeneration !== undefined && minGeneration > this.meta("generation")) throw new StoreError("stale", "mailbox is older than required");
  }

  /**
   * Inside a write transaction: checks freshness, then moves the counter. The
   * caller syncs the commit before reporting the new generation, so the edge
   * never learns a generation a power loss could take back.
   */
  bumpGeneration(minGeneration?: number): number {
    this.checkFresh(minGeneration);
    this.st("UPDATE meta SET value = value + 1 WHERE key = 'generation'").run();
    this.generation = this.meta("generation");
    return this.generation;
  }

  /** Flushes every commit so far to stable storage (the WAL file), off the calling thread. */
  syncWal(done: (err: Error | null) => void): void {
    try {
      this.walFd ??= openSync(`${this.path}-wal`, "r");
    } catch (e) {
      done(e as Error);
      return;
    }
    fdatasync(this.walFd, done);
  }

  /**
   * A checkpoint whose two fsyncs run off the calling thread. The caller lets
   * no other statement run on this mailbox until `done`: SQLite restarts the
   * WAL (overwriting frames) only on the next write, and by then the copied
   * pages are on stable storage — the order SQLite's own checkpoint keeps:
   * WAL synced, pages copied, database file synced, then the WAL reused.
   */
  checkpoint(done: (err: Error | null) => void): void {
    this.syncWal((err) => {
      if (err) return done(err);
      try {
        this.db.pragma("synchronous=OFF");
        try {
          this.db.pragma("wal_checkpoint(PASSIVE)");
        } finally {
          this.db.pragma("synchronous=NORMAL");
        }
        this.dbFd ??= openSync(this.path, "r");
      } catch (e) {
        return done(e as Error);
      }
      fdatasync(this.dbFd, done);
    });
  }

  close(): void {
    this.stmts.clear();
    this.bodyCache.clear();
    this.headCache.clear();
    this.folderCache.clear();
    this.db.close();
    for (const fd of [this.walFd, this.dbFd]) if (fd !== null) closeSync(fd);
    this.walFd = null;
    this.dbFd = null;
  }

  /** How many prepared statements the cache holds (for tests of its bound). */
  get cachedStatements(): number {
    return this.stmts.size;
  }

  /** The prepared statement for `sql`, from the bounded LRU cache. */
  private st(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (s) {
      // Map keeps insertion order: move a hit to the young end.
      this.stmts.delete(sql);
      this.stmts.set(sql, s);
      if (this.folderWriters.has(s)) this.folderCache.clear();
      return s;
    }
    s = this.db.prepare(sql);
    if (!s.reader && /\bfolders\b/.test(sql)) {
      this.folderWriters.add(s);
      this.folderCache.clear();
    }
    this.stmts.set(sql, s);
    if (this.stmts.size > STORE_STATEMENT_CACHE_MAX) this.stmts.delete(this.stmts.keys().next().value!);
    return s;
  }

  private meta(key: string): number {
    return (this.st("SELECT value FROM meta WHERE key = ?").get(key) as { value: number }).value;
  }

  /**
   * The modseq of a write to a folder's messages: one above the folder's
   * HIGHESTMODSEQ (read afresh), which the write then stores in the folder
   * row it updates anyway. Modseqs are per folder (RFC 7162 §3), so a message
   * write never touches the meta table's page.
   */
  private nextModseq(folderId: number): number {
    return this.st("SELECT highest_modseq + 1 FROM folders WHERE id = ?").pluck().get(folderId) as number;
  }

  /** Moves the modseq of the folder list (create, rename, delete, subscribe); a new folder starts from it. */
  private nextFolderListModseq(): number {
    this.st("UPDATE meta SET value = value + 1 WHERE key = 'modseq'").run();
    return this.meta("modseq");
  }

  private newUidValidity(): number {
    const v = Math.max(Math.floor(Date.now() / 1000), this.meta("uidvalidity") + 1);
    this.st("UPDATE meta SET value = ? WHERE key = 'uidvalidity'").run(v);
    return v;
  }

  private emit(folder: string, kind: MailboxChangeEvent["kind"], modseq: number): void {
    this.pendingEvents.push({ folder, kind, modseq });
  }

  private insertFolder(name: string, specialUse: SpecialUse | null): void {
    const count = (this.st("SELECT count(*) AS n FROM folders").get() as { n: number }).n;
    if (count >= STORE_MAX_FOLDERS) throw new StoreError("invalid", "too many folders");
    this.st("INSERT INTO folders(name, special_use, subscribed, uidvalidity, uidnext, highest_modseq) VALUES (?, ?, 1, ?, 1, ?)").run(
      name,
      specialUse,
      this.newUidValidity(),
      this.meta("modseq"),
    );
  }

  /**
   * A folder's row. Rows read outside a transaction are kept until a statement
   * that writes the folders table is next taken from st() (every folder write
   * goes through it): a cached row is always the committed one. Inside a
   * transaction the row is read afresh and not kept, so a rollback never
   * leaves an uncommitted row behind. Callers never change a row they did not
   * just write.
   */
  private folderRow(name: string): FolderRow {
    const key = normalizeFolderName(name);
    const inTx = this.db.inTransaction;
    const hit = inTx ? undefined : this.folderCache.get(key);
    if (hit) return hit;
    const row = this.st("SELECT * FROM folders WHERE name = ?").get(key) as FolderRow | undefined;
    if (!row) throw new StoreError("not-found", "no such folder");
    if (!inTx) this.folderCache.set(key, row);
    return row;
  }

  /** A folder's counts without counting the folder: all of them are kept in its row. */
  private statusCounts(f: FolderRow): FolderCounts {
    return { messages: f.message_count, size: f.message_bytes, unseen: f.unseen_count, deleted: f.deleted_count, firstUnseenUid: f.first_unseen_uid, recent: f.recent_count };
  }

  /** Records keywords newly used in a folder (before the write that uses them; throws `limit`). */
  private defineKeywords(folder: FolderRow, flags: readonly string[]): void {
    const next = defineKeywords(flagsOut(folder.keywords), flags);
    if (next === null) return;
    this.st("UPDATE folders SET keywords = ? WHERE id = ?").run(flagsIn(next), folder.id);
    folder.keywords = flagsIn(next);
  }

  /** RFC 3501 §2.3.2: one small row update; nothing is written when there is nothing to claim. */
  claimRecent(folder: string, peek: boolean): RecentClaimData {
    const f = this.folderRow(folder);
    if (!peek && f.first_recent_uid < f.uidnext) this.st("UPDATE folders SET first_recent_uid = ?, recent_count = 0 WHERE id = ?").run(f.uidnext, f.id);
    return { firstUid: f.first_recent_uid, uidNext: f.uidnext };
  }

  // ---- folders --------------------------------------------------------------

  listFolders(): FolderData[] {
    const rows = this.st("SELECT * FROM folders").all() as FolderRow[];
    return folderList(rows.map(folderRecord), (f) => this.statusCounts(f.row));
  }

  createFolder(name: string, specialUse: SpecialUse | null): void {
    const n = normalizeFolderName(name);
    const has = (x: string) => this.st("SELECT 1 FROM folders WHERE name = ?").get(x) !== undefined;
    if (has(n)) throw new StoreError("exists", "folder exists");
    for (const a of folderAncestors(n)) if (!has(a)) this.insertFolder(a, null);
    this.insertFolder(n, specialUse);
    this.emit(n, "folders", this.nextFolderListModseq());
  }

  renameFolder(from: string, to: string): void {
    const src = this.folderRow(from);
    const dst = normalizeFolderName(to);
    const has = (x: string) => this.st("SELECT 1 FROM folders WHERE name = ?").get(x) !== undefined;
    if (src.name === dst) throw new StoreError("cannot", "cannot rename a folder to itself");
    if (has(dst)) throw new StoreError("exists", "target folder exists");
    if (isFolderDescendant(dst, src.name)) throw new StoreError("cannot", "cannot move a folder below itself");
    for (const a of folderAncestors(dst)) if (!has(a)) this.insertFolder(a, null);
    if (src.name === "INBOX") {
      // RFC 3501 §6.3.5: INBOX's messages move to the new name; INBOX stays, empty.
      this.st("UPDATE folders SET name = ?, special_use = NULL WHERE id = ?").run(dst, src.id);
      this.insertFolder("INBOX", "\\Inbox");
      this.st("UPDATE folders SET subscribed = ? WHERE name = 'INBOX'").run(src.subscribed);
    } else {
      const rows = this.st("SELECT id, name FROM folders").all() as { id: number; name: string }[];
      for (const r of rows) {
        if (r.id === src.id || isFolderDescendant(r.name, src.name)) {
          // No name under `dst` exists (checked above), so these updates cannot collide.
          this.st("UPDATE folders SET name = ? WHERE id = ?").run(dst + r.name.slice(src.name.length), r.id);
        }
      }
    }
    this.emit(dst, "folders", this.nextFolderListModseq());
  }

  deleteFolder(name: string): void {
    const f = this.folderRow(name);
    if (f.name === "INBOX") throw new StoreError("cannot", "INBOX cannot be deleted");
    const names = (this.st("SELECT name FROM folders").all() as { name: string }[]).map((r) => r.name);
    if (names.some((n) => isFolderDescendant(n, f.name))) throw new StoreError("cannot", "folder has child folders");
    const contents = this.st("SELECT content_id FROM messages WHERE folder_id = ?").all(f.id) as { content_id: number }[];
    this.st("DELETE FROM messages WHERE folder_id = ?").run(f.id);
    this.st("DELETE FROM expunged WHERE folder_id = ?").run(f.id);
    this.st("DELETE FROM folders WHERE id = ?").run(f.id);
    for (const c of contents) this.releaseContent(c.content_id);
    if (this.purgePending >= STORE_PURGE_PENDING_MAX) this.purgeReleased();
    this.emit(f.name, "folders", this.nextFolderListModseq());
  }

  subscribe(name: string, subscribed: boolean): void {
    const f = this.folderRow(name);
    this.st("UPDATE folders SET subscribed = ? WHERE id = ?").run(subscribed ? 1 : 0, f.id);
    this.emit(f.name, "folders", this.nextFolderListModseq());
  }

  status(name: string): FolderStatusData {
    const f = this.folderRow(name);
    return folderStatusData(folderRecord(f), this.statusCounts(f));
  }

  // ---- messages -------------------------------------------------------------

  private usedBytes(): number {
    return this.st("SELECT coalesce(sum(message_bytes), 0) FROM folders").pluck().get() as number;
  }

  private checkQuota(extra: number): void {
    checkQuota(this.quotaBytes, () => this.usedBytes(), extra);
  }

  checkDedupe(key: string | undefined): AppendData | null {
    if (key === undefined) return null;
    checkDedupeKey(key);
    const r = this.st("SELECT uid, uidvalidity, modseq FROM dedupe WHERE key = ?").get(key) as { uid: number; uidvalidity: number; modseq: number } | undefined;
    return r ? { uid: r.uid, uidValidity: r.uidvalidity, modseq: r.modseq, duplicate: true } : null;
  }

  private storeContent(p: PreparedAppend): number {
    const f = p.facts;
    // Taken first, so the row is inserted with its thread (one write to the
    // thread index instead of an insert and a move), and above the text index
    // mark even after the highest contents were purged (see the header).
    const id = this.st(`SELECT max(coalesce((SELECT max(id) FROM contents), 0), ${FTS_MARK}) + 1`).pluck().get() as number;
    const thread = this.threadFor(id, f);
    this.st(
      `INSERT INTO contents(id, size, refcount, sent_date, base_subject, is_reply, message_id, in_reply_to, refs,
         sort_from, sort_to, sort_cc, display_from, display_to, thread_id)
       VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      id,
      p.size,
      f.sentDate === null ? null : new Date(f.sentDate).toISOString(),
      f.baseSubject,
      f.isReply ? 1 : 0,
      f.messageId,
      f.inReplyTo,
      JSON.stringify(f.references),
      f.sortFrom,
      f.sortTo,
      f.sortCc,
      f.displayFrom,
      f.displayTo,
      thread,
    );
    this.dropCached(id);
    this.st("INSERT INTO content_data(id, codec, data) VALUES (?, ?, ?)").run(id, CODEC_DEFLATE, p.record);
    this.st("INSERT INTO content_heads(id, codec, data) VALUES (?, ?, ?)").run(id, p.head.codec, p.head.data);
    p.segments.forEach((s, seq) => {
      if (s.kind === "inline") {
        this.st("INSERT INTO segments(content_id, seq, start, length, codec, data, blob_hash) VALUES (?, ?, ?, ?, ?, ?, NULL)").run(id, seq, s.start, s.length, s.codec, s.data);
        return;
      }
      const existing = this.st("UPDATE blobs SET refcount = refcount + 1 WHERE hash = ?").run(s.hash);
      if (existing.changes === 0) {
        this.st("INSERT INTO blobs(hash, size, refcount) VALUES (?, ?, 1)").run(s.hash, s.length);
        s.chunks.forEach((c, i) => this.st("INSERT INTO blob_chunks(hash, seq, codec, data) VALUES (?, ?, ?, ?)").run(s.hash, i, c.codec, c.data));
      }
      this.st("INSERT INTO segments(content_id, seq, start, length, codec, data, blob_hash) VALUES (?, ?, ?, ?, 0, NULL, ?)").run(id, seq, s.start, s.length, s.hash);
    });
    this.ftsPending++;
    return id;
  }

  /** After a rollback (and on open): the counts of contents waiting for the index and the purge, as the file has them. */
  recountPending(): void {
    try {
      this.ftsPending = this.st(`SELECT count(*) FROM contents WHERE id > ${FTS_MARK}`).pluck().get() as number;
      this.purgePending = this.st("SELECT count(*) FROM content_purge").pluck().get() as number;
    } catch {
      // Keep the old counts: they only decide when to index and purge.
    }
  }

  /** Characters of body text the SEARCH cache holds (for tests of its bound). */
  get searchCacheChars(): number {
    return this.bodyCache.cost;
  }

  /** Bytes of head records the head cache holds (for tests of its bound). */
  get headCacheBytes(): number {
    return this.headCache.cost;
  }

  /** A content id is stored or released: nothing cached under it may survive. */
  private dropCached(contentId: number): void {
    this.bodyCache.delete(contentId);
    this.headCache.delete(contentId);
  }

  /** A content's decoded body text, from the cache or its record (kept if it fits). */
  private cachedBody(contentId: number, load: () => string): string {
    const hit = this.bodyCache.get(contentId);
    if (hit !== undefined) return hit;
    const text = load();
    if (!this.db.inTransaction) this.bodyCache.set(contentId, text, text.length);
    return text;
  }

  /** Contents waiting for the text index (see the header). */
  get ftsPendingCount(): number {
    return this.ftsPending;
  }

  /** Inside a transaction: indexes every content above the mark (one FTS5 segment for all) and moves the mark past them. */
  indexPending(): void {
    const insert = this.st("INSERT INTO fts(rowid, header, body) VALUES (?, ?, ?)");
    const waiting = this.st(`SELECT id FROM contents WHERE id > ${FTS_MARK} ORDER BY id`).pluck().all() as number[];
    for (const id of waiting) {
      const r = this.contentRecord(id);
      insert.run(id, r.headerText(), r.bodyText());
    }
    if (waiting.length > 0) this.st("UPDATE meta SET value = ? WHERE key = 'fts_indexed_upto'").run(waiting[waiting.length - 1]);
    this.ftsPending = 0;
  }

  /** One message less refers to the content; the last one lists it for the purge (see the header). */
  private releaseContent(contentId: number): void {
    this.dropCached(contentId);
    const refcount = this.st("UPDATE contents SET refcount = refcount - 1 WHERE id = ? RETURNING refcount").pluck().get(contentId) as number | undefined;
    if (refcount !== undefined && refcount <= 0) {
      this.st("INSERT INTO content_purge(id) VALUES (?)").run(contentId);
      this.purgePending++;
    }
  }

  /** Contents waiting for the purge (see the header). */
  get purgePendingCount(): number {
    return this.purgePending;
  }

  /** Inside a transaction: deletes every content listed in `content_purge`, its blob references and index entries. */
  purgeReleased(): void {
    for (const id of this.st("SELECT id FROM content_purge").pluck().all() as number[]) this.purgeContent(id);
    this.st("DELETE FROM content_purge").run();
    this.purgePending = 0;
  }

  private purgeContent(contentId: number): void {
    this.dropCached(contentId);
    const blobs = this.st("SELECT blob_hash FROM segments WHERE content_id = ? AND blob_hash IS NOT NULL").all(contentId) as { blob_hash: Buffer }[];
    this.st("DELETE FROM segments WHERE content_id = ?").run(contentId);
    for (const b of blobs) {
      this.st("UPDATE blobs SET refcount = refcount - 1 WHERE hash = ?").run(b.blob_hash);
      this.st("DELETE FROM blobs WHERE hash = ? AND refcount <= 0").run(b.blob_hash);
    }
    if (contentId > (this.st(`SELECT ${FTS_MARK}`).pluck().get() as number)) this.ftsPending--;
    else this.st("DELETE FROM fts WHERE rowid = ?").run(contentId);
    this.st("DELETE FROM content_data WHERE id = ?").run(contentId);
    this.st("DELETE FROM content_heads WHERE id = ?").run(contentId);
    this.st("DELETE FROM contents WHERE id = ?").run(contentId);
  }

  private insertMessage(folder: FolderRow, contentId: number, size: number, flags: string[], internalDate: string, modseq: number): number {
    const uid = (this.st("SELECT uidnext FROM folders WHERE id = ?").get(folder.id) as { uidnext: number }).uidnext;
    const stored = flagsIn(flags);
    this.st("INSERT INTO messages(folder_id, uid, modseq, flags, internal_date, size, content_id) VALUES (?, ?, ?, ?, ?, ?, ?)").run(
      folder.id,
      uid,
      modseq,
      stored,
      internalDate,
      size,
      contentId,
    );
    this.st("UPDATE contents SET refcount = refcount + 1 WHERE id = ?").run(contentId);
    const c = flagCounts(stored);
    // The new UID is the folder's highest: not claimed as \Recent yet, and the first unseen only if no other is.
    this.st(
      `UPDATE folders SET uidnext = ?, highest_modseq = ?, message_count = message_count + 1, recent_count = recent_count + 1, message_bytes = message_bytes + ?,
         unseen_count = unseen_count + ?, deleted_count = deleted_count + ?, first_unseen_uid = coalesce(first_unseen_uid, ?) WHERE id = ?`,
    ).run(uid + 1, modseq, size, c.unseen, c.deleted, c.unseen === 1 ? uid : null, folder.id);
    return uid;
  }

  /** Inside a transaction: allocate the UID, insert, bump modseq. */
  append(folder: string, p: PreparedAppend, o: { flags?: readonly string[]; internalDate?: number; dedupeKey?: string }): AppendData {
    const f = this.folderRow(folder);
    const flags = normalizeFlags(o.flags ?? []);
    const dup = this.checkDedupe(o.dedupeKey);
    if (dup) return dup;
    this.checkQuota(p.size);
    this.defineKeywords(f, flags);
    const contentId = this.storeContent(p);
    const modseq = this.nextModseq(f.id);
    const uid = this.insertMessage(f, contentId, p.size, flags, new Date(o.internalDate ?? Date.now()).toISOString(), modseq);
    const result: AppendData = { uid, uidValidity: f.uidvalidity, modseq, duplicate: false };
    if (o.dedupeKey !== undefined) this.st("INSERT INTO dedupe(key, uid, uidvalidity, modseq) VALUES (?, ?, ?, ?)").run(o.dedupeKey, uid, f.uidvalidity, modseq);
    this.emit(f.name, "append", modseq);
    if (this.ftsPending >= STORE_FTS_PENDING_MAX) this.indexPending();
    return result;
  }

  uids(folder: string): number[] {
    const f = this.folderRow(folder);
    return (this.st("SELECT uid FROM messages WHERE folder_id = ? ORDER BY uid").pluck().all(f.id) as number[]);
  }

  private rows(f: FolderRow, set: UidSet, changedSince?: number): MessageRow[] {
    const w = uidWhere(set);
    const extra = changedSince !== undefined ? " AND modseq > ?" : "";
    const args: number[] = [f.id, ...w.args];
    if (changedSince !== undefined) args.push(changedSince);
    return messageRowsFromJson(this.st(MESSAGE_ROWS_JSON(`folder_id = ? AND (${w.sql})${extra}`)).pluck().get(...args) as string);
  }

  /** UIDs and rows selected by a FETCH (the worker then materialises them batch by batch). */
  fetchRows(folder: string, set: UidSet, changedSince?: number): MessageRow[] {
    return this.rows(this.folderRow(folder), set, changedSince);
  }

  loadParsed(contentId: number): StoredParsed {
    return this.contentRecord(contentId).parsed();
  }

  /**
   * ENVELOPE, BODYSTRUCTURE and header fields of a content, from its small head
   * record; decoded heads are cached like body text (see the header).
   */
  loadHead(contentId: number): HeadRecord {
    const hit = this.headCache.get(contentId);
    if (hit) return hit;
    const r = this.st("SELECT codec, data FROM content_heads WHERE id = ?").get(contentId) as { codec: number; data: Buffer } | undefined;
    if (!r) throw new StoreError("not-found", "message was expunged");
    const bytes = decompress(r.codec, r.data);
    const head = decodeHeadRecord(bytes);
    if (!this.db.inTransaction) this.headCache.set(contentId, head, bytes.byteLength);
    return head;
  }

  private contentRecord(contentId: number): ReturnType<typeof decodeContentRecord> {
    const r = this.st("SELECT codec, data FROM content_data WHERE id = ?").get(contentId) as { codec: number; data: Buffer } | undefined;
    if (!r) throw new StoreError("not-found", "message was expunged");
    return decodeContentRecord(decompress(r.codec, r.data));
  }

  /** A section as a byte range to stream, or bytes built from its range (see body-section.ts). */
  section(contentId: number, size: number, req: BodySectionRequest): ResolvedSection {
    return resolveSection({ size, tree: () => this.loadParsed(contentId).tree, read: (start, end) => this.readRange(contentId, start, end) }, req);
  }

  /** Bytes [start, end) of a stored message, read segment by segment. */
  readRange(contentId: number, start: number, end: number): Uint8Array {
    const out: Uint8Array[] = [];
    const segs = this.st("SELECT start, length, codec, data, blob_hash FROM segments WHERE content_id = ? AND start < ? AND start + length > ? ORDER BY seq").all(
      contentId,
      end,
      start,
    ) as { start: number; length: number; codec: number; data: Buffer | null; blob_hash: Buffer | null }[];
    for (const s of segs) {
      const from = Math.max(start, s.start) - s.start;
      const to = Math.min(end, s.start + s.length) - s.start;
      if (s.data) {
        out.push(decompress(s.codec, s.data).subarray(from, to));
        continue;
      }
      const first = Math.floor(from / STORE_CHUNK_BYTES);
      const last = Math.floor((to - 1) / STORE_CHUNK_BYTES);
      const chunks = this.st("SELECT seq, codec, data FROM blob_chunks WHERE hash = ? AND seq >= ? AND seq <= ? ORDER BY seq").all(s.blob_hash, first, last) as {
        seq: number;
        codec: number;
        data: Buffer;
      }[];
      for (const c of chunks) {
        const base = c.seq * STORE_CHUNK_BYTES;
        const bytes = decompress(c.codec, c.data);
        out.push(bytes.subarray(Math.max(0, from - base), Math.min(bytes.byteLength, to - base)));
      }
    }
    return out.length === 1 ? out[0] : new Uint8Array(Buffer.concat(out));
  }

  storeFlags(folder: string, set: UidSet, o: StoreFlagsOptions): StoreFlagsData {
    const f = this.folderRow(folder);
    const current = this.rows(f, set).map((r) => ({ uid: r.uid, modseq: r.modseq, flags: flagsOut(r.flags) }));
    const plan = planFlagUpdates(current, o.op, o.flags, o.unchangedSince);
    const out: StoreFlagsData = { changed: [], modified: plan.modified };
    if (plan.pending.length === 0) return out;
    this.defineKeywords(f, plan.pending.flatMap((p) => p.flags));
    const modseq = this.nextModseq(f.id);
    let unseen = 0;
    let deleted = 0;
    let seenChanged = false;
    /** The lowest UID this write made unseen. */
    let lowestNewUnseen: number | null = null;
    for (const p of plan.pending) {
      const stored = flagsIn(p.flags);
      this.st("UPDATE messages SET flags = ?, modseq = ? WHERE folder_id = ? AND uid = ?").run(stored, modseq, f.id, p.message.uid);
      const before = flagCounts(flagsIn(p.message.flags));
      const after = flagCounts(stored);
      unseen += after.unseen - before.unseen;
      deleted += after.deleted - before.deleted;
      if (after.unseen !== before.unseen) seenChanged = true;
      if (after.unseen > before.unseen) lowestNewUnseen = Math.min(lowestNewUnseen ?? Infinity, p.message.uid);
      out.changed.push({ uid: p.message.uid, flags: p.flags, modseq });
    }
    // The first unseen UID is looked for again from the lower of the old one and any newly unseen one.
    const from = seenChanged ? Math.min(f.first_unseen_uid ?? Infinity, lowestNewUnseen ?? Infinity) : null;
    this.st(
      `UPDATE folders SET highest_modseq = ?, unseen_count = unseen_count + ?, deleted_count = deleted_count + ?,
         first_unseen_uid = CASE WHEN ? IS NULL THEN first_unseen_uid ELSE ${firstUnseenFrom("?")} END WHERE id = ?`,
    ).run(modseq, unseen, deleted, from, from, f.id);
    this.emit(f.name, "flags", modseq);
    return out;
  }

  copy(from: string, set: UidSet, to: string, isMove = false): CopyData {
    const src = this.folderRow(from);
    const dst = this.folderRow(to);
    const rows = this.rows(src, set);
    if (!isMove) this.checkQuota(rows.reduce((n, r) => n + r.size, 0));
    const out: CopyData = { uidValidity: dst.uidvalidity, map: [] };
    if (rows.length === 0) return out;
    this.defineKeywords(dst, rows.flatMap((r) => flagsOut(r.flags)));
    const modseq = this.nextModseq(dst.id);
    for (const r of rows) {
      const uid = this.insertMessage(dst, r.content_id, r.size, flagsOut(r.flags), r.internal_date, modseq);
      out.map.push([r.uid, uid]);
    }
    this.emit(dst.name, "append", modseq);
    if (isMove) this.removeMessages(src, rows);
    return out;
  }

  private removeMessages(f: FolderRow, rows: MessageRow[]): void {
    if (rows.length === 0) return;
    const modseq = this.nextModseq(f.id);
    let bytes = 0;
    let unseen = 0;
    let deleted = 0;
    let recent = 0;
    for (const r of rows) {
      this.st("DELETE FROM messages WHERE folder_id = ? AND uid = ?").run(f.id, r.uid);
      this.st("INSERT INTO expunged(folder_id, uid, modseq) VALUES (?, ?, ?)").run(f.id, r.uid, modseq);
      this.releaseContent(r.content_id);
      const c = flagCounts(r.flags);
      bytes += r.size;
      if (r.uid >= f.first_recent_uid) recent++;
      unseen += c.unseen;
      deleted += c.deleted;
    }
    // Removing unseen messages may remove the first: it is looked for again from the old one.
    this.st(
      `UPDATE folders SET highest_modseq = ?, message_count = message_count - ?, recent_count = recent_count - ?, message_bytes = message_bytes - ?,
         unseen_count = unseen_count - ?, deleted_count = deleted_count - ?,
         first_unseen_uid = CASE WHEN ? THEN ${firstUnseenFrom("folders.first_unseen_uid")} ELSE first_unseen_uid END WHERE id = ?`,
    ).run(modseq, rows.length, recent, bytes, unseen, deleted, unseen > 0 ? 1 : 0, f.id);
    this.emit(f.name, "expunge", modseq);
    if (this.purgePending >= STORE_PURGE_PENDING_MAX) this.purgeReleased();
  }

  expunge(folder: string, set?: UidSet): number[] {
    const f = this.folderRow(folder);
    // Only rows flagged \Deleted are read (flags are stored as " a b ", see flagsIn).
    const w = uidWhere(set ?? [{ start: 1, end: Infinity }]);
    const rows = messageRowsFromJson(
      this.st(MESSAGE_ROWS_JSON(`folder_id = ? AND (${w.sql}) AND instr(flags, ' \\Deleted ') > 0`)).pluck().get(f.id, ...w.args) as string,
    ).filter((r) => hasFlag(flagsOut(r.flags), "\\Deleted"));
    this.removeMessages(f, rows);
    return rows.map((r) => r.uid);
  }

  // ---- search, sort, thread ------------------------------------------------

  private searchRows(folder: string, criteria: SearchKey, withFacts = true): SearchRow[] {
    const f = this.folderRow(folder);
    validateSearch(criteria);
    // TEXT/BODY with ≥ 3 characters: the trigram index names candidate
    // contents (header or body), plus those waiting for it; the matcher scans only candidates, so the
    // answer keeps exact substring semantics. Shorter needles scan all.
    const indexed = new Map<string, Set<number>>();
    for (const k of collectTextKeys(criteria)) {
      const q = trigramQuery(k.value);
      if (q === null || indexed.has(k.value)) continue;
      // Contents not indexed yet are candidates too (the scan decides).
      indexed.set(k.value, new Set(this.st(`SELECT rowid FROM fts WHERE fts MATCH ? UNION ALL SELECT id FROM contents WHERE id > ${FTS_MARK}`).pluck().all(q) as number[]));
    }
    // Keys every match must satisfy narrow the rows read, not only the scan.
    const required = requiredTextKeys(criteria)
      .map((k) => indexed.get(k.value))
      .filter((ids): ids is Set<number> => ids !== undefined);
    const narrowed = required.length === 0 ? null : required.reduce((a, b) => new Set([...a].filter((id) => b.has(id))));
    // SEARCH needs no sort or thread facts: a narrow row is much cheaper to build per message.
    const columns = withFacts ? SEARCH_COLUMNS_WITH_FACTS : SEARCH_COLUMNS;
    // Rows cross as one JSON array (see MESSAGE_ROWS_JSON), in UID order.
    const select = `SELECT json_group_array(json_array(${columns.map((c) => c[1]).join(", ")}) ORDER BY m.uid)`;
    const named = (json: string) =>
      (JSON.parse(json) as unknown[][]).map((values) => {
        const row: Record<string, unknown> = {};
        for (let i = 0; i < columns.length; i++) row[columns[i][0]] = values[i];
        return row as unknown as SearchRowData;
      });
    let rows: SearchRowData[];
    if (!withFacts && narrowed === null && !usesSentDate(criteria)) {
      // No key reads the contents row (SEARCH UNSEEN, SUBJECT, …): the folder's message rows alone, no join.
      rows = messageRowsFromJson(this.st(MESSAGE_ROWS_JSON("folder_id = ?")).pluck().get(f.id) as string) as SearchRowData[];
    } else if (narrowed !== null && narrowed.size <= STORE_SEARCH_LOOKUP_MAX) {
      // One statement for all candidates, looked up by content id (never a folder scan).
      rows = named(
        this.st(
          `${select} FROM messages m INDEXED BY messages_content JOIN contents c ON c.id = m.content_id
           WHERE m.content_id IN (SELECT value FROM json_each(?)) AND m.folder_id = ?`,
        )
          .pluck()
          .get(JSON.stringify([...narrowed]), f.id) as string,
      );
    } else {
      rows = named(this.st(`${select} FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.folder_id = ?`).pluck().get(f.id) as string);
    }
    const msgs = rows.map(withFacts ? searchRow : searchRowWithoutFacts);
    if (criteria.type === "all") return msgs;
    const cache = new Map<
      number,
      { record?: ReturnType<typeof decodeContentRecord>; head?: HeadRecord; headers?: readonly HeaderFieldData[]; headerText?: string; body?: string }
    >();
    const entry = (m: SearchRow) => {
      let e = cache.get(m.contentId);
      if (!e) {
        if (cache.size > 64) cache.clear();
        cache.set(m.contentId, (e = {}));
      }
      return e;
    };
    const record = (m: SearchRow) => (entry(m).record ??= this.contentRecord(m.contentId));
    const source: SearchTextSource<SearchRow> = {
      // Header fields from the small head record: parsing it is cheaper than the record's whole MIME tree.
      headerValues: (m, field) => headerValues((entry(m).headers ??= (entry(m).head ??= this.loadHead(m.contentId)).headers()), field),
      headerText: (m) => (entry(m).headerText ??= record(m).headerText()),
      bodyText: (m) => (entry(m).body ??= this.cachedBody(m.contentId, () => record(m).bodyText())),
    };
    const byUid = new Map(msgs.map((m) => [m.uid, m.contentId]));
    const match = createMatcher<SearchRow>(criteria, {
      source,
      now: Date.now(),
      textIndex: (k) => {
        const ids = indexed.get(k.value);
        if (!ids) return undefined;
        return { has: (uid: number) => ids.has(byUid.get(uid) ?? -1) } as ReadonlySet<number>;
      },
    });
    return msgs.filter(match);
  }

  search(folder: string, criteria: SearchKey): number[] {
    if (criteria.type === "all") return this.uids(folder);
    return this.searchRows(folder, criteria, false).map((m) => m.uid);
  }

  sort(folder: string, keys: SortKey[], criteria: SearchKey): number[] {
    return sortMessages(this.searchRows(folder, criteria), keys);
  }

  thread(folder: string, algorithm: "references" | "orderedsubject", criteria: SearchKey): ThreadNodeData[] {
    const list = this.searchRows(folder, criteria);
    if (algorithm === "orderedsubject") return threadOrderedSubject(list);
    // REFERENCES per thread partition (threads table, see sqlite-schema.ts).
    const groups = new Map<number, typeof list>();
    for (const m of list) {
      let g = groups.get(m.threadId);
      if (!g) groups.set(m.threadId, (g = []));
      g.push(m);
    }
    return threadReferencesGrouped([...groups.values()]);
  }

  changesSince(folder: string, modseq: number): ChangesData {
    const f = this.folderRow(folder);
    const changed = messageRowsFromJson(this.st(MESSAGE_ROWS_JSON("folder_id = ? AND modseq > ?")).pluck().get(f.id, modseq) as string).map((r) => ({
      uid: r.uid,
      flags: flagsOut(r.flags),
      modseq: r.modseq,
    }));
    const expunged = this.st("SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ? ORDER BY uid").pluck().all(f.id, modseq) as number[];
    return { highestModseq: f.highest_modseq, changed, expunged, keywords: flagsOut(f.keywords) };
  }

  quota(): QuotaData {
    const r = this.st("SELECT coalesce(sum(message_bytes), 0) AS used, coalesce(sum(message_count), 0) AS n FROM folders").get() as { used: number; n: number };
    return { usedBytes: r.used, limitBytes: this.quotaBytes ?? null, messages: r.n };
  }
}

/** Columns of a search row: [SearchRowData name, SQL over messages m JOIN contents c]. */
const SEARCH_COLUMNS: readonly (readonly [string, string])[] = [
  ["uid", "m.uid"],
  ["modseq", "m.modseq"],
  ["flags", "m.flags"],
  ["internal_date", "m.internal_date"],
  ["internal_ms", INTERNAL_MS("m.internal_date")],
  ["size", "m.size"],
  ["content_id", "m.content_id"],
  ["sent_date", "c.sent_date"],
];
const SEARCH_COLUMNS_WITH_FACTS: readonly (readonly [string, string])[] = [
  ...SEARCH_COLUMNS,
  ...["base_subject", "is_reply", "message_id", "in_reply_to", "refs", "sort_from", "sort_to", "sort_cc", "display_from", "display_to", "thread_id"].map(
    (name) => [name, `c.${name}`] as const,
  ),
];

/** Whether any key of the tree compares the Date header (the only contents column a plain SEARCH reads). */
function usesSentDate(key: SearchKey): boolean {
  switch (key.type) {
    case "sent-date":
      return true;
    case "and":
      return key.keys.some(usesSentDate);
    case "or":
      return usesSentDate(key.left) || usesSentDate(key.right);
    case "not":
      return usesSentDate(key.key);
    default:
      return false;
  }
}

type SearchRow = SortableMessage & { modseq: number; flags: string[]; contentId: number; threadId: number };

interface SearchRowData extends Omit<MessageRow, "internal_ms"> {
  internal_ms: number | null;
  /** Absent when no key reads it (the join-free SEARCH). */
  sent_date?: string | null;
  base_subject: string;
  is_reply: number;
  message_id: string | null;
  in_reply_to: string | null;
  refs: string;
  sort_from: string;
  sort_to: string;
  sort_cc: string;
  display_from: string;
  display_to: string;
  thread_id: number;
}

function searchRow(r: SearchRowData): SearchRow {
  return {
    uid: r.uid,
    modseq: r.modseq,
    flags: flagsOut(r.flags),
    internalDate: r.internal_ms ?? Date.parse(r.internal_date),
    size: r.size,
    contentId: r.content_id,
    threadId: r.thread_id,
    sentDate: r.sent_date == null ? null : Date.parse(r.sent_date),
    baseSubject: r.base_subject,
    isReply: r.is_reply === 1,
    messageId: r.message_id,
    inReplyTo: r.in_reply_to,
    references: r.refs === "[]" ? [] : (JSON.parse(r.refs) as string[]),
    sortFrom: r.sort_from,
    sortTo: r.sort_to,
    sortCc: r.sort_cc,
    displayFrom: r.display_from,
    displayTo: r.display_to,
  };
}

/** A row selected without the sort and thread facts (plain SEARCH). */
function searchRowWithoutFacts(r: SearchRowData): SearchRow {
  return {
    uid: r.uid,
    modseq: r.modseq,
    flags: flagsOut(r.flags),
    internalDate: r.internal_ms ?? Date.parse(r.internal_date),
    size: r.size,
    contentId: r.content_id,
    threadId: 0,
    sentDate: r.sent_date == null ? null : Date.parse(r.sent_date),
    baseSubject: "",
    isReply: false,
    messageId: null,
    inReplyTo: null,
    references: [],
    sortFrom: "",
    sortTo: "",
    sortCc: "",
    displayFrom: "",
    displayTo: "",
  };
}

function folderRecord(r: FolderRow): FolderRecord & { row: FolderRow } {
  return {
    row: r,
    name: r.name,
    specialUse: r.special_use,
    subscribed: r.subscribed === 1,
    uidValidity: r.uidvalidity,
    uidNext: r.uidnext,
    highestModseq: r.highest_modseq,
    keywords: flagsOut(r.keywords),
  };
}
