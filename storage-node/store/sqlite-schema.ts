/**
 * Schema of a mailbox file and its forward migrations.
 *
 * Invariants:
 * - `PRAGMA user_version` is the schema version; migrations only go forward,
 *   each in its own transaction; a file newer than this code is refused.
 * - Message text (bodies, decoded text) never reaches SQLite uncompressed
 *   except inside the FTS5 index (contentless: only the trigram index is
 *   kept, never the text). Small per-message facts (sort keys, the v4 head
 *   record) are stored as they are; like everything, they are encrypted.
 * - A migration that needs more than SQL names an engine step that runs
 *   inside the same transaction (v2: re-encode content records, rebuild the
 *   text index and the thread partition from stored rows).
 * - `contents` holds only the small per-message facts that SEARCH, SORT and
 *   THREAD read for every message; the large compressed indexer output lives
 *   in `content_data`, so scanning a folder never reads through it.
 * - v4: `content_heads` keeps a small head record per content
 *   (content-record.ts: ENVELOPE, BODYSTRUCTURE, header fields), filled for
 *   existing contents by the migration; FETCH ENVELOPE and header SEARCH read
 *   only it.
 * - Message bytes are stored as segments: inline chunks, or references to blobs
 *   (large leaf parts) kept once per SHA-256 with a reference count.
 * - Dates are ISO-8601 UTC strings.
 * - v5: `fts_pending` lists contents not yet in the text index (indexed in
 *   batches, see STORE_FTS_PENDING_MAX); a TEXT/BODY search treats every
 *   listed content as a candidate. The list is in the file, so a crash never
 *   loses an indexing debt.
 * - A folder row carries its keyword list and its first unclaimed \Recent UID
 *   (v3), so SELECT reads both from one row and a claim is one row update.
 * - v6: a folder row also carries exact counts of its messages (number,
 *   bytes, without \Seen, with \Deleted, not claimed as \Recent) and its first
 *   unseen UID, changed by every write that changes them in the same
 *   statement that moves its UIDNEXT, HIGHESTMODSEQ or first unclaimed UID,
 *   so STATUS and SELECT never count a folder. Indexes no query
 *   reads (internal date, size, Message-ID) are dropped: every index is a page
 *   written per append.
 * - v6: `content_purge` lists contents no message refers to any more; their
 *   rows are deleted in batches (see STORE_PURGE_PENDING_MAX). The list is in
 *   the file, so a crash in between leaves a file that finishes the purge
 *   later.
 * - v6: `fts_pending` gives way to a mark in `meta` (`fts_indexed_upto`):
 *   contents with a higher id wait for the text index, so an append writes
 *   no row for it. The migration indexes what v5 listed as waiting.
 */

export const SCHEMA_VERSION = 6;

/**
 * Work a migration needs besides its SQL, run by the engine in the same
 * transaction after `MIGRATIONS[v]`, followed by `after`.
 */
export const MIGRATION_STEPS: Record<number, { step: "content-records-and-indexes" | "folder-keywords" | "content-heads" | "fts-mark"; after: string } | undefined> = {
  2: {
    step: "content-records-and-indexes",
    after: `
      ALTER TABLE contents DROP COLUMN parsed;
      ALTER TABLE contents DROP COLUMN header_text;
      ALTER TABLE contents DROP COLUMN body_text;
      ALTER TABLE contents DROP COLUMN codec;
    `,
  },
  3: { step: "folder-keywords", after: "" },
  4: { step: "content-heads", after: "" },
  6: { step: "fts-mark", after: "DROP TABLE fts_pending;" },
};

export const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta(key, value) VALUES ('generation', 0), ('modseq', 1), ('uidvalidity', 0);

    CREATE TABLE folders (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      special_use TEXT,
      subscribed INTEGER NOT NULL DEFAULT 1,
      uidvalidity INTEGER NOT NULL,
      uidnext INTEGER NOT NULL DEFAULT 1,
      highest_modseq INTEGER NOT NULL
    );

    -- One row per distinct stored message (shared by copies), with the indexer's output.
    CREATE TABLE contents (
      id INTEGER PRIMARY KEY,
      size INTEGER NOT NULL,
      refcount INTEGER NOT NULL,
      codec INTEGER NOT NULL,          -- codec of parsed/header_text/body_text
      parsed BLOB NOT NULL,            -- envelope, bodystructure, tree, headers (JSON)
      header_text BLOB NOT NULL,
      body_text BLOB NOT NULL,
      sent_date TEXT,
      base_subject TEXT NOT NULL,
      is_reply INTEGER NOT NULL,
      message_id TEXT,
      in_reply_to TEXT,
      refs TEXT NOT NULL,              -- JSON array of message ids
      sort_from TEXT NOT NULL,
      sort_to TEXT NOT NULL,
      sort_cc TEXT NOT NULL,
      display_from TEXT NOT NULL,
      display_to TEXT NOT NULL
    );
    CREATE INDEX contents_message_id ON contents(message_id);

    CREATE TABLE segments (
      content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      start INTEGER NOT NULL,
      length INTEGER NOT NULL,
      codec INTEGER NOT NULL,
      data BLOB,                       -- inline bytes (compressed per codec)
      blob_hash BLOB REFERENCES blobs(hash),
      PRIMARY KEY (content_id, seq)
    ) WITHOUT ROWID;

    CREATE TABLE blobs (hash BLOB PRIMARY KEY, size INTEGER NOT NULL, refcount INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE blob_chunks (
      hash BLOB NOT NULL REFERENCES blobs(hash) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      codec INTEGER NOT NULL,
      data BLOB NOT NULL,
      PRIMARY KEY (hash, seq)
    ) WITHOUT ROWID;

    CREATE TABLE messages (
      folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
      uid INTEGER NOT NULL,
      modseq INTEGER NOT NULL,
      flags TEXT NOT NULL,             -- " \\Seen $Kw " (space-delimited)
      internal_date TEXT NOT NULL,
      size INTEGER NOT NULL,
      content_id INTEGER NOT NULL REFERENCES contents(id),
      PRIMARY KEY (folder_id, uid)
    ) WITHOUT ROWID;
    CREATE INDEX messages_modseq ON messages(folder_id, modseq);
    CREATE INDEX messages_content ON messages(content_id);
    CREATE INDEX messages_date ON messages(folder_id, internal_date);
    CREATE INDEX messages_size ON messages(folder_id, size);

    CREATE TABLE expunged (folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE, uid INTEGER NOT NULL, modseq INTEGER NOT NULL);
    CREATE INDEX expunged_modseq ON expunged(folder_id, modseq);

    CREATE TABLE dedupe (key TEXT PRIMARY KEY, uid INTEGER NOT NULL, uidvalidity INTEGER NOT NULL, modseq INTEGER NOT NULL) WITHOUT ROWID;

    -- Substring search: trigram tokens, contentless (no copy of the text).
    CREATE VIRTUAL TABLE fts USING fts5(header, body, content='', contentless_delete=1, tokenize='trigram case_sensitive 0');
  `,
  // Trigram index without positions (detail=none): about a third of the
  // write cost, and a rare needle is found by intersecting doclists instead
  // of reading the position lists of common trigrams. It only narrows TEXT
  // and BODY to candidates; the search scan decides (see trigram-query.ts).
  //
  // The indexer output moves out of `contents` (reading a fact column used to
  // walk the overflow pages of the blobs stored before it).
  //
  // Threads: every content belongs to a thread partition (`thread_id`); keys
  // (message ids, references, base subject) map to the partition that holds
  // them. Partitions only ever merge, so no two partitions share a key, and
  // THREAD REFERENCES runs per partition (sort-thread.ts).
  2: `
    -- One compressed content record (content-record.ts) per content.
    CREATE TABLE content_data (id INTEGER PRIMARY KEY, codec INTEGER NOT NULL, data BLOB NOT NULL);
    ALTER TABLE contents ADD COLUMN thread_id INTEGER;
    CREATE INDEX contents_thread ON contents(thread_id);
    CREATE TABLE thread_keys (key TEXT PRIMARY KEY, thread_id INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX thread_keys_thread ON thread_keys(thread_id);

    DROP TABLE fts;
    CREATE VIRTUAL TABLE fts USING fts5(header, body, content='', contentless_delete=1, detail=none, tokenize='trigram case_sensitive 0');
  `,
  // Per-folder keyword list (" $A $B ", like messages.flags; filled from the
  // stored flags by the "folder-keywords" step) and \Recent claims: messages
  // with uid >= first_recent_uid are not claimed yet. Mail stored before the
  // upgrade counts as already seen by some session.
  3: `
    ALTER TABLE folders ADD COLUMN keywords TEXT NOT NULL DEFAULT ' ';
    ALTER TABLE folders ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;
    UPDATE folders SET first_recent_uid = uidnext;
  `,
  // FETCH ENVELOPE/BODYSTRUCTURE and header SEARCH read a small head record
  // instead of inflating the whole content record (text and MIME tree).
  4: `
    CREATE TABLE content_heads (id INTEGER PRIMARY KEY, codec INTEGER NOT NULL, data BLOB NOT NULL);
  `,
  // Deferred text indexing: an append lists its content here instead of
  // writing thousands of trigram tokens into a new FTS5 segment per
  // transaction; the listed contents are indexed together later.
  5: `
    CREATE TABLE fts_pending (id INTEGER PRIMARY KEY);
  `,
  // Folder counts kept by the writes instead of a scan of the folder per
  // STATUS/SELECT/APPEND (flags are stored as " a b ", see flagsIn).
  6: `
    ALTER TABLE folders ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE folders ADD COLUMN message_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE folders ADD COLUMN unseen_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE folders ADD COLUMN deleted_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE folders ADD COLUMN first_unseen_uid INTEGER;
    ALTER TABLE folders ADD COLUMN recent_count INTEGER NOT NULL DEFAULT 0;
    UPDATE folders SET
      message_count = (SELECT count(*) FROM messages m WHERE m.folder_id = folders.id),
      message_bytes = (SELECT coalesce(sum(size), 0) FROM messages m WHERE m.folder_id = folders.id),
      unseen_count = (SELECT count(*) FROM messages m WHERE m.folder_id = folders.id AND instr(m.flags, ' \\Seen ') = 0),
      deleted_count = (SELECT count(*) FROM messages m WHERE m.folder_id = folders.id AND instr(m.flags, ' \\Deleted ') > 0),
      first_unseen_uid = (SELECT min(uid) FROM messages m WHERE m.folder_id = folders.id AND instr(m.flags, ' \\Seen ') = 0),
      recent_count = (SELECT count(*) FROM messages m WHERE m.folder_id = folders.id AND m.uid >= folders.first_recent_uid);
    DROP INDEX messages_date;
    DROP INDEX messages_size;
    DROP INDEX contents_message_id;
    CREATE TABLE content_purge (id INTEGER PRIMARY KEY);
  `,
};
