/**
 * Engine-level checks of storage layout that the MailStore contract cannot see:
 * large parts stored once per mailbox and freed with their last reference,
 * compressed rows, schema version.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import Database from "better-sqlite3-multiple-ciphers";
import { afterAll, describe, expect, it } from "vitest";
import { STORE_BLOB_MIN_BYTES, STORE_FTS_PENDING_MAX, STORE_PURGE_PENDING_MAX, STORE_SEARCH_CACHE_CHARS, STORE_STATEMENT_CACHE_MAX } from "../limits.ts";
import { parseMessage } from "../mime/parse.ts";
import { headerSearchText } from "./message-text.ts";
import { SqliteMailboxEngine, prepareAppend } from "./sqlite-engine.ts";
import { MIGRATIONS, MIGRATION_STEPS, SCHEMA_VERSION } from "./sqlite-schema.ts";
import { trigramQuery } from "./trigram-query.ts";

const dir = mkdtempSync(join(tmpdir(), "sealbox-engine-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withAttachment(subject: string, attachment: string): Uint8Array {
  return new TextEncoder().encode(
    [`Subject: ${subject}`, 'Content-Type: multipart/mixed; boundary="b"', "", "--b", "Content-Type: text/plain", "", "hi", "--b", "Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64", "", attachment, "--b--", ""].join("\r\n"),
  );
}

describe("SQLite engine storage layout", () => {
  it("stores a large part once across messages and folders and frees it with the last copy", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "blobs.sqlite"), key: randomBytes(32), create: true });
    const tx = <T>(f: () => T): T => e.db.transaction(f)();
    const count = (sql: string) => (e.db.prepare(sql).get() as { n: number }).n;
    const attachment = randomBytes(STORE_BLOB_MIN_BYTES).toString("base64");
    const a = withAttachment("one", attachment);
    const b = withAttachment("two, different header", attachment);
    tx(() => e.append("INBOX", prepareAppend(a), {}));
    tx(() => e.append("Archive", prepareAppend(b), {}));
    tx(() => e.copy("INBOX", [{ start: 1, end: 1 }], "Trash"));
    expect(count("SELECT count(*) AS n FROM blobs")).toBe(1);
    expect(count("SELECT refcount AS n FROM blobs")).toBe(2);
    expect(count("SELECT count(*) AS n FROM contents")).toBe(2);
    tx(() => e.storeFlags("INBOX", [{ start: 1, end: 1 }], { op: "add", flags: ["\\Deleted"] }));
    tx(() => e.expunge("INBOX"));
    expect(count("SELECT count(*) AS n FROM contents")).toBe(2); // the Trash copy still holds it
    tx(() => e.storeFlags("Trash", [{ start: 1, end: 1 }], { op: "add", flags: ["\\Deleted"] }));
    tx(() => e.expunge("Trash"));
    // The last copy's content waits for the purge, then goes with its blob reference.
    expect(count("SELECT count(*) AS n FROM content_purge")).toBe(1);
    tx(() => e.purgeReleased());
    expect(count("SELECT count(*) AS n FROM contents")).toBe(1);
    expect(count("SELECT refcount AS n FROM blobs")).toBe(1);
    tx(() => e.deleteFolder("Archive"));
    expect(count("SELECT count(*) AS n FROM blobs")).toBe(1);
    tx(() => e.purgeReleased());
    expect(count("SELECT count(*) AS n FROM blobs")).toBe(0);
    expect(count("SELECT count(*) AS n FROM blob_chunks")).toBe(0);
    expect(count("SELECT count(*) AS n FROM segments")).toBe(0);
    expect(e.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    // Sorts and temporary tables never reach an unencrypted temp file (2 = MEMORY).
    expect(e.db.pragma("temp_store", { simple: true })).toBe(2);
    e.close();
  });

  it("holds its file exclusively: no shared-memory index beside it, no second connection", () => {
    const path = join(dir, "exclusive.sqlite");
    const key = randomBytes(32);
    const e = SqliteMailboxEngine.open({ path, key, create: true });
    e.db.transaction(() => e.append("INBOX", prepareAppend(withAttachment("one", "aGk=")), {}))();
    expect(e.db.pragma("locking_mode", { simple: true })).toBe("exclusive");
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(existsSync(`${path}-shm`)).toBe(false);
    const other = new Database(path, { timeout: 0 });
    other.pragma("cipher='aegis'");
    other.pragma(`key="x'${key.toString("hex")}'"`);
    expect(() => other.prepare("SELECT count(*) FROM messages").get()).toThrow(/locked/);
    other.close();
    e.close();
    // Closed, the file is anybody's again (and the WAL was folded into it).
    const reopened = SqliteMailboxEngine.open({ path, key, create: false });
    expect(reopened.status("INBOX").messages).toBe(1);
    reopened.close();
  });

  it("compresses text before it reaches SQLite", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "codec.sqlite"), key: randomBytes(32), create: true });
    const body = "compressible text ".repeat(2000);
    e.db.transaction(() => e.append("INBOX", prepareAppend(new TextEncoder().encode(`Subject: z\r\n\r\n${body}`)), {}))();
    // The 36 KB body is a large leaf: it lives in blob chunks, compressed.
    const chunk = e.db.prepare("SELECT codec, length(data) AS stored FROM blob_chunks").get() as { codec: number; stored: number };
    expect(chunk.codec).toBe(1);
    expect(chunk.stored).toBeLessThan(body.length / 4);
    // The indexer's record (with the decoded body text) is compressed as well.
    const c = e.db.prepare("SELECT codec, length(data) AS stored FROM content_data").get() as { codec: number; stored: number };
    expect(c.codec).toBe(1);
    expect(c.stored).toBeLessThan(body.length / 4);
    e.close();
  });

  it("reads back rows of every size byte for byte, with the window edges of the compressor", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "windows.sqlite"), key: randomBytes(32), create: true });
    // The compressor's window grows with the row (2^9 … 2^15 bytes, 262 bytes of lookahead):
    // bodies just below, at and above each edge, and beyond the largest window.
    const sizes = [63, 64, 249, 250, 251, 1786, 1787, 32505, 32506, 32507, 70000];
    const line = (i: number) => `line ${i} ${"abcdefghij".repeat(i % 7)} ${randomBytes(6).toString("hex")}\r\n`;
    const messages = sizes.map((n) => {
      let body = "";
      for (let i = 0; body.length < n; i++) body += line(i);
      return new TextEncoder().encode(`Subject: w${n}\r\n\r\n${body.slice(0, n)}`);
    });
    e.db.transaction(() => messages.forEach((m) => e.append("INBOX", prepareAppend(m), {})))();
    const ids = (e.db.prepare("SELECT id, size FROM contents ORDER BY id").all() as { id: number; size: number }[]).map((r) => r.id);
    expect(ids).toHaveLength(messages.length);
    ids.forEach((id, i) => expect(Buffer.from(e.readRange(id, 0, messages[i].byteLength)).equals(Buffer.from(messages[i]))).toBe(true));
    e.close();
  });

  it("migrates a version 1 file: content records, text index and thread partition are rebuilt", () => {
    const path = join(dir, "v1.sqlite");
    const key = randomBytes(32);
    // A file as version 1 wrote it: indexer output in three columns of `contents`.
    const db = new Database(path);
    db.pragma("cipher='chacha20'");
    db.pragma(`key="x'${key.toString("hex")}'"`);
    db.exec("BEGIN; CREATE TABLE _init(x); DROP TABLE _init; COMMIT;");
    db.pragma("journal_mode=WAL");
    db.exec(MIGRATIONS[1]);
    db.prepare("INSERT INTO folders(name, special_use, subscribed, uidvalidity, uidnext, highest_modseq) VALUES ('INBOX', '\\Inbox', 1, 1, 2, 2)").run();
    const raw = new TextEncoder().encode("Subject: Zebra news\r\nMessage-ID: <root@example.org>\r\nDate: Mon, 02 Jan 2023 10:00:00 +0000\r\n\r\nthe zebracrossing is open\r\n");
    const parsed = parseMessage(raw);
    const z = (text: string) => deflateRawSync(Buffer.from(text));
    const headerText = headerSearchText(parsed.headers);
    const stored = { envelope: parsed.envelope, bodyStructure: parsed.bodyStructure, tree: parsed.tree, headers: parsed.headers };
    db.prepare(
      `INSERT INTO contents(id, size, refcount, codec, parsed, header_text, body_text, sent_date, base_subject, is_reply, message_id, in_reply_to, refs,
         sort_from, sort_to, sort_cc, display_from, display_to) VALUES (1, ?, 1, 1, ?, ?, ?, NULL, ?, 0, ?, NULL, '[]', '', '', '', '', '')`,
    ).run(raw.length, z(JSON.stringify(stored)), z(headerText), z(parsed.bodyText), parsed.baseSubject, parsed.messageId);
    db.prepare("INSERT INTO segments(content_id, seq, start, length, codec, data, blob_hash) VALUES (1, 0, 0, ?, 0, ?, NULL)").run(raw.length, Buffer.from(raw));
    db.prepare("INSERT INTO messages(folder_id, uid, modseq, flags, internal_date, size, content_id) VALUES (1, 1, 2, ' ', ?, ?, 1)").run(new Date().toISOString(), raw.length);
    db.prepare("INSERT INTO fts(rowid, header, body) VALUES (1, ?, ?)").run(headerText, parsed.bodyText);
    db.pragma("user_version=1");
    db.close();

    const e = SqliteMailboxEngine.open({ path, key, create: false });
    expect(e.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    const columns = (e.db.prepare("SELECT name FROM pragma_table_info('contents')").pluck().all() as string[]).sort();
    expect(columns).not.toContain("body_text");
    expect(columns).toContain("thread_id");
    expect(e.search("INBOX", { type: "text", value: "BRACROSS" })).toEqual([1]);
    expect(e.search("INBOX", { type: "text", value: "ra new" })).toEqual([1]);
    expect(e.search("INBOX", { type: "body", value: "ra new" })).toEqual([]);
    // v4: the head record was built from the migrated content record.
    expect(e.loadHead(1).fetchItems().envelope.subject).toBe("Zebra news");
    expect(e.search("INBOX", { type: "header", field: "subject", value: "zebra" })).toEqual([1]);
    const section = e.section(1, raw.length, { part: [], specifier: "HEADER.FIELDS", fields: ["subject"] });
    expect(section.kind === "bytes" && Buffer.from(section.bytes).toString()).toBe("Subject: Zebra news\r\n\r\n");
    // A reply appended after the migration joins the migrated message's thread.
    const reply = new TextEncoder().encode("Subject: Re: other\r\nIn-Reply-To: <root@example.org>\r\nDate: Tue, 03 Jan 2023 10:00:00 +0000\r\n\r\nok\r\n");
    e.db.transaction(() => e.append("INBOX", prepareAppend(reply), {}))();
    expect(e.thread("INBOX", "references", { type: "all" })).toEqual([{ uid: 1, children: [{ uid: 2, children: [] }] }]);
    e.close();
  });

  it("migrates a version 2 file: folder keyword lists from stored flags, earlier mail not recent", () => {
    const path = join(dir, "v2.sqlite");
    const key = randomBytes(32);
    const db = new Database(path);
    db.pragma("cipher='chacha20'");
    db.pragma(`key="x'${key.toString("hex")}'"`);
    db.exec("BEGIN; CREATE TABLE _init(x); DROP TABLE _init; COMMIT;");
    db.pragma("journal_mode=WAL");
    db.exec(MIGRATIONS[1]);
    db.exec(MIGRATIONS[2]);
    db.exec(MIGRATION_STEPS[2]!.after);
    db.prepare("INSERT INTO folders(id, name, special_use, subscribed, uidvalidity, uidnext, highest_modseq) VALUES (1, 'INBOX', '\\Inbox', 1, 1, 4, 5)").run();
    db.prepare("INSERT INTO folders(id, name, special_use, subscribed, uidvalidity, uidnext, highest_modseq) VALUES (2, 'Empty', NULL, 1, 2, 1, 1)").run();
    const raw = new TextEncoder().encode("Subject: old mail\r\n\r\nhello\r\n");
    const p = prepareAppend(raw);
    db.prepare(
      `INSERT INTO contents(id, size, refcount, sent_date, base_subject, is_reply, message_id, in_reply_to, refs, sort_from, sort_to, sort_cc, display_from, display_to, thread_id)
       VALUES (1, ?, 3, NULL, 'old mail', 0, NULL, NULL, '[]', '', '', '', '', '', 1)`,
    ).run(raw.length);
    db.prepare("INSERT INTO content_data(id, codec, data) VALUES (1, 1, ?)").run(p.record);
    db.prepare("INSERT INTO segments(content_id, seq, start, length, codec, data, blob_hash) VALUES (1, 0, 0, ?, 0, ?, NULL)").run(raw.length, Buffer.from(raw));
    const insert = db.prepare("INSERT INTO messages(folder_id, uid, modseq, flags, internal_date, size, content_id) VALUES (1, ?, ?, ?, ?, ?, 1)");
    insert.run(1, 2, " \\Seen $Work ", new Date().toISOString(), raw.length);
    insert.run(2, 3, " ", new Date().toISOString(), raw.length);
    insert.run(3, 4, " $work \\Flagged Later ", new Date().toISOString(), raw.length);
    db.pragma("user_version=2");
    db.close();

    const e = SqliteMailboxEngine.open({ path, key, create: false });
    expect(e.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(e.status("INBOX")).toMatchObject({ keywords: ["$Work", "Later"], recent: 0, messages: 3 });
    expect(e.status("Empty")).toMatchObject({ keywords: [], recent: 0 });
    // v4: the head record was built from the stored content record.
    expect(e.loadHead(1).fetchItems().envelope.subject).toBe("old mail");
    expect(e.claimRecent("INBOX", false)).toEqual({ firstUid: 4, uidNext: 4 });
    // Mail after the upgrade is recent, and its new keywords join the list.
    e.db.transaction(() => e.append("INBOX", prepareAppend(raw), { flags: ["$New"] }))();
    expect(e.status("INBOX")).toMatchObject({ keywords: ["$Work", "Later", "$New"], recent: 1 });
    expect(e.db.transaction(() => e.claimRecent("INBOX", false))()).toEqual({ firstUid: 4, uidNext: 5 });
    expect(e.status("INBOX").recent).toBe(0);
    e.close();
  });

  it("migrates a version 3 file: every content gets its head record, and expunging frees it", () => {
    const path = join(dir, "v3.sqlite");
    const key = randomBytes(32);
    const messages = [0, 1, 2].map((i) =>
      new TextEncoder().encode(`From: Ann <ann${i}@example.org>\r\nSubject: Heron ${i}\r\nMessage-ID: <m${i}@example.org>\r\n\r\nbody ${i}\r\n`),
    );
    const e2 = SqliteMailboxEngine.open({ path, key, create: true });
    for (const m of messages) e2.db.transaction(() => e2.append("INBOX", prepareAppend(m), {}))();
    // What version 3 wrote: the same rows without the head table, every content indexed.
    e2.db.transaction(() => e2.indexPending())();
    asVersion5(e2.db);
    e2.db.exec("DROP TABLE content_heads; DROP TABLE fts_pending");
    e2.db.pragma("user_version=3");
    e2.close();

    const e = SqliteMailboxEngine.open({ path, key, create: false });
    expect(e.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    const ids = e.fetchRows("INBOX", [{ start: 1, end: Infinity }]).map((r) => r.content_id);
    expect(ids.map((id) => e.loadHead(id).fetchItems().envelope.subject)).toEqual(["Heron 0", "Heron 1", "Heron 2"]);
    expect(ids.map((id) => e.loadHead(id).fetchItems().envelope.from?.[0].mailbox)).toEqual(["ann0", "ann1", "ann2"]);
    for (const id of ids) expect(e.loadHead(id).fetchItems().bodyStructure).toEqual(e.loadParsed(id).bodyStructure);
    expect(e.search("INBOX", { type: "header", field: "subject", value: "heron 1" })).toEqual([2]);
    e.db.transaction(() => {
      e.storeFlags("INBOX", [{ start: 2, end: 2 }], { op: "add", flags: ["\\Deleted"] });
      e.expunge("INBOX");
      e.purgeReleased();
    })();
    expect(() => e.loadHead(ids[1])).toThrow(/expunged/);
    expect(e.db.prepare("SELECT count(*) FROM content_heads").pluck().get()).toBe(2);
    e.close();
  });

  it("migrates a version 5 file: folder counts from the stored messages, no unused indexes", () => {
    const path = join(dir, "v5.sqlite");
    const key = randomBytes(32);
    const e5 = SqliteMailboxEngine.open({ path, key, create: true });
    const flagSets = [[], ["\\Seen"], ["\\Deleted"], ["\\Seen", "\\Deleted", "$Late"]];
    e5.db.transaction(() => {
      for (let i = 0; i < 8; i++) e5.append(i % 3 === 0 ? "Sent" : "INBOX", prepareAppend(new TextEncoder().encode(`Subject: n${i}\r\n\r\n${"b".repeat(i * 10)}\r\n`)), { flags: flagSets[i % 4] });
      e5.copy("INBOX", [{ start: 1, end: 3 }], "Trash");
    })();
    asVersion5(e5.db);
    e5.close();

    const e = SqliteMailboxEngine.open({ path, key, create: false });
    expect(e.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    const indexes = e.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").pluck().all() as string[];
    for (const unused of ["messages_date", "messages_size", "contents_message_id"]) expect(indexes).not.toContain(unused);
    expectFolderCountsExact(e);
    expect(e.status("INBOX")).toMatchObject({ messages: 5, unseen: 2, deleted: 2, firstUnseenUid: 2 });
    // What v5 listed as waiting for the text index is in it now, and the list is gone.
    expect(e.db.prepare("SELECT name FROM sqlite_master WHERE name = 'fts_pending'").all()).toEqual([]);
    expect(e.ftsPendingCount).toBe(0);
    expect(e.db.prepare("SELECT count(*) FROM fts WHERE fts MATCH ?").pluck().get(trigramQuery("bbbbbbbbbb"))).toBe(7);
    expect(e.search("Sent", { type: "text", value: "b".repeat(60) })).toEqual([3]);
    // A write rolled back (as a failed item of a group commit is) leaves the counts as they were.
    const before = e.status("INBOX");
    e.db.exec("BEGIN IMMEDIATE; SAVEPOINT op");
    e.storeFlags("INBOX", [{ start: 1, end: Infinity }], { op: "add", flags: ["\\Seen"] });
    e.expunge("INBOX");
    e.db.exec("ROLLBACK TO op; RELEASE op; COMMIT");
    expect(e.status("INBOX")).toEqual(before);
    expectFolderCountsExact(e);
    e.close();
  });

  it("indexes text in batches of STORE_FTS_PENDING_MAX; waiting contents are still found, and survive a reopen", () => {
    const path = join(dir, "fts-pending.sqlite");
    const key = randomBytes(32);
    let e = SqliteMailboxEngine.open({ path, key, create: true });
    const count = (sql: string) => e.db.prepare(sql).pluck().get() as number;
    const WAITING = "SELECT count(*) FROM contents WHERE id > (SELECT value FROM meta WHERE key = 'fts_indexed_upto')";
    const message = (i: number) => new TextEncoder().encode(`Subject: note ${i}\r\n\r\nbody of kestrel${i}x\r\n`);
    for (let i = 1; i < STORE_FTS_PENDING_MAX; i++) e.db.transaction(() => e.append("INBOX", prepareAppend(message(i)), {}))();
    expect(count(WAITING)).toBe(STORE_FTS_PENDING_MAX - 1);
    expect(e.ftsPendingCount).toBe(STORE_FTS_PENDING_MAX - 1);
    // Not indexed yet, still found (exactly: the scan decides).
    expect(e.search("INBOX", { type: "body", value: "kestrel3x" })).toEqual([3]);
    expect(e.search("INBOX", { type: "text", value: "note 5" })).toEqual([5]);
    expect(e.search("INBOX", { type: "body", value: "note 5" })).toEqual([]);
    // Purging an expunged waiting content takes it off the list; expunged, it is no longer found.
    e.db.transaction(() => {
      e.storeFlags("INBOX", [{ start: 2, end: 2 }], { op: "add", flags: ["\\Deleted"] });
      e.expunge("INBOX");
    })();
    expect(e.search("INBOX", { type: "body", value: "kestrel2x" })).toEqual([]);
    e.db.transaction(() => e.purgeReleased())();
    expect(count(WAITING)).toBe(STORE_FTS_PENDING_MAX - 2);
    // The list is in the file: a reopen knows it.
    e.close();
    e = SqliteMailboxEngine.open({ path, key, create: false });
    expect(e.ftsPendingCount).toBe(STORE_FTS_PENDING_MAX - 2);
    e.db.transaction(() => e.append("INBOX", prepareAppend(message(STORE_FTS_PENDING_MAX)), {}))();
    expect(count(WAITING)).toBe(STORE_FTS_PENDING_MAX - 1);
    // The append that makes the list full indexes it all.
    e.db.transaction(() => e.append("INBOX", prepareAppend(message(STORE_FTS_PENDING_MAX + 1)), {}))();
    expect(count(WAITING)).toBe(0);
    expect(e.ftsPendingCount).toBe(0);
    // Found through the index now: the candidate set is the index's answer alone.
    expect(e.search("INBOX", { type: "body", value: "kestrel3x" })).toEqual([3]);
    expect(e.db.prepare("SELECT rowid FROM fts WHERE fts MATCH ?").pluck().all(trigramQuery("kestrel3x"))).toHaveLength(1);
    expect(e.search("INBOX", { type: "body", value: "kestrel2x" })).toEqual([]);
    // Purging an expunged indexed content removes it from the index.
    e.db.transaction(() => {
      e.storeFlags("INBOX", [{ start: 3, end: 3 }], { op: "add", flags: ["\\Deleted"] });
      e.expunge("INBOX");
      e.purgeReleased();
    })();
    expect(e.db.prepare("SELECT rowid FROM fts WHERE fts MATCH ?").pluck().all(trigramQuery("kestrel3x"))).toHaveLength(0);
    expect(e.search("INBOX", { type: "body", value: "kestrel3x" })).toEqual([]);
    e.close();
  });

  it("purges released contents in batches of STORE_PURGE_PENDING_MAX; waiting ones are never found or counted, and survive a reopen", () => {
    const path = join(dir, "purge.sqlite");
    const key = randomBytes(32);
    let e = SqliteMailboxEngine.open({ path, key, create: true });
    const count = (sql: string) => e.db.prepare(sql).pluck().get() as number;
    const attachment = randomBytes(STORE_BLOB_MIN_BYTES).toString("base64");
    const message = (i: number) => withAttachment(`pipit${i}x`, attachment);
    const expungeAll = (folder: string) =>
      e.db.transaction(() => {
        e.storeFlags(folder, [{ start: 1, end: Infinity }], { op: "add", flags: ["\\Deleted"] });
        return e.expunge(folder);
      })();
    e.db.transaction(() => {
      for (let i = 0; i < STORE_PURGE_PENDING_MAX; i++) e.append(i === 0 ? "Archive" : "INBOX", prepareAppend(message(i)), {});
    })();
    const full = e.quota();
    expect(full.messages).toBe(STORE_PURGE_PENDING_MAX);
    // One short of the limit: the contents wait, with their rows and the shared blob.
    expect(expungeAll("INBOX")).toHaveLength(STORE_PURGE_PENDING_MAX - 1);
    expect(e.purgePendingCount).toBe(STORE_PURGE_PENDING_MAX - 1);
    expect(count("SELECT count(*) FROM contents")).toBe(STORE_PURGE_PENDING_MAX);
    expect(count("SELECT refcount FROM blobs")).toBe(STORE_PURGE_PENDING_MAX);
    // Nothing reads a waiting content: not SEARCH (indexed or not), not the quota, not STATUS.
    e.db.transaction(() => e.indexPending())();
    expect(e.search("INBOX", { type: "text", value: "pipit3x" })).toEqual([]);
    expect(e.search("Archive", { type: "text", value: "pipit0x" })).toEqual([1]);
    expect(e.quota()).toMatchObject({ messages: 1, usedBytes: message(0).byteLength });
    expect(e.status("INBOX").messages).toBe(0);
    // A crash now (the list is in the file) and a reopen: the debt is still known.
    e.close();
    e = SqliteMailboxEngine.open({ path, key, create: false });
    expect(e.purgePendingCount).toBe(STORE_PURGE_PENDING_MAX - 1);
    // The expunge that reaches the limit purges every listed content in its transaction.
    expungeAll("Archive");
    expect(e.purgePendingCount).toBe(0);
    for (const table of ["content_purge", "contents", "content_data", "content_heads", "segments", "blobs", "blob_chunks"]) {
      expect(count(`SELECT count(*) FROM ${table}`), table).toBe(0);
    }
    expect(e.db.prepare("SELECT rowid FROM fts WHERE fts MATCH ?").pluck().all(trigramQuery("pipit3x"))).toEqual([]);
    // Every indexed content was purged: a new one still gets an id above the index mark, so it is found.
    e.db.transaction(() => e.append("INBOX", prepareAppend(message(99)), {}))();
    expect(e.search("INBOX", { type: "text", value: "pipit99x" })).toHaveLength(1);
    // A rolled-back expunge lists nothing (the worker recounts after a rollback).
    e.db.exec("BEGIN IMMEDIATE");
    e.storeFlags("INBOX", [{ start: 1, end: Infinity }], { op: "add", flags: ["\\Deleted"] });
    e.expunge("INBOX");
    e.db.exec("ROLLBACK");
    e.recountPending();
    expect(e.purgePendingCount).toBe(0);
    expect(count("SELECT count(*) FROM content_purge")).toBe(0);
    e.close();
  });

  it("keeps at most STORE_SEARCH_CACHE_CHARS of body text for SEARCH, and never a released content's text", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "search-cache.sqlite"), key: randomBytes(32), create: true });
    const tx = <T>(f: () => T): T => e.db.transaction(f)();
    // Plain ASCII bodies without a line break: the decoded body text is the body itself.
    const raw = (body: string) => new TextEncoder().encode(`Subject: s\r\n\r\n${body}`);
    const exact = "a".repeat(STORE_SEARCH_CACHE_CHARS - 5) + "heron";
    expect(parseMessage(raw(exact)).bodyText).toHaveLength(STORE_SEARCH_CACHE_CHARS);
    tx(() => e.append("INBOX", prepareAppend(raw(exact)), {}));
    expect(e.search("INBOX", { type: "body", value: "heron" })).toEqual([1]);
    expect(e.searchCacheChars).toBe(STORE_SEARCH_CACHE_CHARS);
    // One character more is never kept (and evicts nothing).
    tx(() => e.append("INBOX", prepareAppend(raw(exact + "s")), {}));
    expect(e.search("INBOX", { type: "body", value: "herons" })).toEqual([2]);
    expect(e.searchCacheChars).toBe(STORE_SEARCH_CACHE_CHARS);
    // A small text pushes the least recently used one out.
    tx(() => e.append("INBOX", prepareAppend(raw("small egret")), {}));
    expect(e.search("INBOX", { type: "body", value: "egret" })).toEqual([3]);
    expect(e.searchCacheChars).toBe("small egret".length);
    // Expunged, then a new content (which may reuse the id): the old text is gone from the cache.
    tx(() => {
      e.storeFlags("INBOX", [{ start: 3, end: 3 }], { op: "add", flags: ["\\Deleted"] });
      e.expunge("INBOX");
    });
    expect(e.searchCacheChars).toBe(0);
    tx(() => e.append("INBOX", prepareAppend(raw("small swan")), {}));
    expect(e.search("INBOX", { type: "body", value: "egret" })).toEqual([]);
    expect(e.search("INBOX", { type: "body", value: "swan" })).toEqual([4]);
    e.close();
    expect(e.searchCacheChars).toBe(0);
  });

  it("caches decoded head records outside transactions and drops them with their content", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "head-cache.sqlite"), key: randomBytes(32), create: true });
    const tx = <T>(f: () => T): T => e.db.transaction(f)();
    const raw = (subject: string) => new TextEncoder().encode(`Subject: ${subject}\r\n\r\nbody\r\n`);
    tx(() => e.append("INBOX", prepareAppend(raw("plover")), {}));
    const id = () => e.fetchRows("INBOX", [{ start: 1, end: 1 }])[0].content_id;
    // Read inside a transaction: answered, never kept.
    tx(() => expect(e.loadHead(id()).headers()).toEqual(expect.arrayContaining([expect.objectContaining({ name: "Subject" })])));
    expect(e.headCacheBytes).toBe(0);
    expect(e.search("INBOX", { type: "header", field: "subject", value: "plover" })).toEqual([1]);
    const bytes = e.headCacheBytes;
    expect(bytes).toBeGreaterThan(0);
    expect(e.loadHead(id())).toBe(e.loadHead(id()));
    tx(() => {
      e.storeFlags("INBOX", [{ start: 1, end: 1 }], { op: "add", flags: ["\\Deleted"] });
      e.expunge("INBOX");
    });
    expect(e.headCacheBytes).toBe(0);
    // A new content (which may reuse the id) is read from its own record.
    tx(() => e.append("INBOX", prepareAppend(raw("avocet")), {}));
    expect(e.search("INBOX", { type: "header", field: "subject", value: "plover" })).toEqual([]);
    expect(e.search("INBOX", { type: "header", field: "subject", value: "avocet" })).toEqual([2]);
    e.close();
    expect(e.headCacheBytes).toBe(0);
  });

  it("reads internal dates to the millisecond, also outside the years SQLite's date functions know", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "internal-ms.sqlite"), key: randomBytes(32), create: true });
    const dates = [0, -1, 1, 999, Date.UTC(2026, 10, 28, 10, 0, 0, 123), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), Date.UTC(-1, 0, 1, 0, 0, 0, 1)];
    for (const d of dates) e.db.transaction(() => e.append("INBOX", prepareAppend(new TextEncoder().encode("Subject: d\r\n\r\nx\r\n")), { internalDate: d }))();
    expect(e.fetchRows("INBOX", [{ start: 1, end: Infinity }]).map((r) => r.internal_ms)).toEqual(dates);
    expect(e.search("INBOX", { type: "internal-date", op: "since", date: "9999-12-31" })).toEqual([6, 7]);
    expect(e.search("INBOX", { type: "and", keys: [{ type: "internal-date", op: "before", date: "1970-01-01" }, { type: "flag", flag: "\\Seen", set: false }] })).toEqual([2, 8]);
    e.close();
  });

  it("answers folder reads with the committed row after writes and rollbacks", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "folder-cache.sqlite"), key: randomBytes(32), create: true });
    const msg = new TextEncoder().encode("Subject: s\r\n\r\nx\r\n");
    expect(e.status("INBOX").uidNext).toBe(1);
    e.db.transaction(() => e.append("INBOX", prepareAppend(msg), {}))();
    expect(e.status("INBOX").uidNext).toBe(2);
    // A transaction that wrote the folder row and rolled back leaves the committed row.
    expect(() =>
      e.db.transaction(() => {
        e.append("INBOX", prepareAppend(msg), {});
        expect(e.status("INBOX").uidNext).toBe(3);
        throw new Error("roll back");
      })(),
    ).toThrow("roll back");
    expect(e.status("INBOX").uidNext).toBe(2);
    // A write outside any transaction (autocommit) is seen too.
    e.append("INBOX", prepareAppend(msg), { flags: ["$Plover"] });
    expect(e.status("INBOX").uidNext).toBe(3);
    e.renameFolder("Archive", "Old");
    expect(() => e.status("Archive")).toThrow();
    expect(e.status("Old").messages).toBe(0);
    e.close();
  });

  it("keeps at most STORE_STATEMENT_CACHE_MAX prepared statements and still answers after evicting one", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "stmt-cache.sqlite"), key: randomBytes(32), create: true });
    for (let i = 0; i < 3; i++) e.db.transaction(() => e.append("INBOX", prepareAppend(new TextEncoder().encode(`Subject: ${i}\r\n\r\nx\r\n`)), {}))();
    // A UID set of n ranges is a distinct SQL text: n = 1 … MAX + 10 overflows the cache.
    const shape = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? { start: 2, end: 3 } : { start: 100 + i, end: 100 + i }));
    for (let n = 1; n <= STORE_STATEMENT_CACHE_MAX; n++) e.fetchRows("INBOX", shape(n));
    expect(e.cachedStatements).toBe(STORE_STATEMENT_CACHE_MAX);
    for (let n = STORE_STATEMENT_CACHE_MAX + 1; n <= STORE_STATEMENT_CACHE_MAX + 10; n++) e.fetchRows("INBOX", shape(n));
    expect(e.cachedStatements).toBe(STORE_STATEMENT_CACHE_MAX);
    // The first shape was evicted; it is prepared again and gives the same rows.
    expect(e.fetchRows("INBOX", shape(1)).map((r) => r.uid)).toEqual([2, 3]);
    expect(e.fetchRows("INBOX", shape(STORE_STATEMENT_CACHE_MAX + 10)).map((r) => r.uid)).toEqual([2, 3]);
    expect(e.cachedStatements).toBe(STORE_STATEMENT_CACHE_MAX);
    e.close();
    expect(e.cachedStatements).toBe(0);
  });
});

/** What version 5 left of a current file: no folder counts or purge list, a list of contents waiting for the text index instead of the mark, the three v1 indexes. */
function asVersion5(db: Database.Database): void {
  db.exec(`
    DROP TABLE content_purge;
    CREATE TABLE fts_pending (id INTEGER PRIMARY KEY);
    INSERT INTO fts_pending(id) SELECT id FROM contents WHERE id > (SELECT value FROM meta WHERE key = 'fts_indexed_upto');
    DELETE FROM meta WHERE key = 'fts_indexed_upto';
    ALTER TABLE folders DROP COLUMN message_count;
    ALTER TABLE folders DROP COLUMN message_bytes;
    ALTER TABLE folders DROP COLUMN unseen_count;
    ALTER TABLE folders DROP COLUMN deleted_count;
    ALTER TABLE folders DROP COLUMN first_unseen_uid;
    ALTER TABLE folders DROP COLUMN recent_count;
    CREATE INDEX contents_message_id ON contents(message_id);
    CREATE INDEX messages_date ON messages(folder_id, internal_date);
    CREATE INDEX messages_size ON messages(folder_id, size);
  `);
  db.pragma("user_version=5");
}

/** Every folder row's counts equal a count of its messages from scratch. */
function expectFolderCountsExact(e: SqliteMailboxEngine): void {
  const kept = e.db.prepare("SELECT name, message_count, message_bytes, unseen_count, deleted_count, first_unseen_uid, recent_count FROM folders ORDER BY id").all();
  const counted = e.db
    .prepare(
      `SELECT f.name, count(m.uid) AS message_count, coalesce(sum(m.size), 0) AS message_bytes,
         count(m.uid) - coalesce(sum(instr(m.flags, ' \\Seen ') > 0), 0) AS unseen_count, coalesce(sum(instr(m.flags, ' \\Deleted ') > 0), 0) AS deleted_count,
         min(CASE WHEN instr(m.flags, ' \\Seen ') = 0 THEN m.uid END) AS first_unseen_uid, count(CASE WHEN m.uid >= f.first_recent_uid THEN 1 END) AS recent_count
       FROM folders f LEFT JOIN messages m ON m.folder_id = f.id GROUP BY f.id ORDER BY f.id`,
    )
    .all();
  expect(kept).toEqual(counted);
}
