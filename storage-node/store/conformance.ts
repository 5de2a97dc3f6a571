/**
 * The MailStore conformance suite: one set of behavioural tests run against
 * every implementation (memory-store.test.ts, sqlite-store.test.ts).
 *
 * Invariants:
 * - Tests use only the public contract in types.ts; no implementation detail.
 * - Each test opens its own fresh mailbox (random id and key), so tests are
 *   independent and a shared store per file keeps the suite fast.
 */

import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  REGEX_MAX_PATTERN_CHARS,
  STORE_MAX_APPEND_BATCH_BYTES,
  STORE_MAX_DEDUPE_KEY_CHARS,
  STORE_MAX_FLAGS_PER_MESSAGE,
  STORE_MAX_FOLDER_DEPTH,
  STORE_MAX_FOLDER_NAME_CHARS,
  STORE_MAX_KEYWORD_CHARS,
  STORE_MAX_KEYWORDS_PER_FOLDER,
  STORE_MAX_MESSAGE_BYTES,
  STORE_MAX_SEARCH_VALUE_CHARS,
} from "../limits.ts";
import { StoreError, type BatchAppendItem, type Mailbox, type MailboxChangeEvent, type MailStore, type SearchKey, type StoreErrorKind } from "./types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface TestMessageOptions {
  from?: string;
  to?: string;
  cc?: string;
  subject?: string;
  date?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string;
  body?: string;
  extraHeaders?: string[];
}

export function testMessage(o: TestMessageOptions = {}): string {
  const h = [
    `From: ${o.from ?? "Alice Example <alice@example.org>"}`,
    `To: ${o.to ?? "bob@example.net"}`,
    ...(o.cc ? [`Cc: ${o.cc}`] : []),
    `Subject: ${o.subject ?? "Hello"}`,
    `Date: ${o.date ?? "Mon, 02 Jan 2023 10:00:00 +0000"}`,
    `Message-ID: ${o.messageId ?? `<${randomBytes(6).toString("hex")}@example.org>`}`,
    ...(o.inReplyTo ? [`In-Reply-To: ${o.inReplyTo}`] : []),
    ...(o.references ? [`References: ${o.references}`] : []),
    ...(o.extraHeaders ?? []),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
  ];
  return h.join("\r\n") + "\r\n\r\n" + (o.body ?? "Just a test.\r\n");
}

export const MULTIPART_MESSAGE = [
  "From: Carol <carol@example.org>",
  "To: dave@example.net",
  "Subject: Report",
  "Date: Tue, 03 Jan 2023 12:00:00 +0000",
  "Message-ID: <multi-1@example.org>",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="XX"',
  "",
  "--XX",
  "Content-Type: text/plain; charset=us-ascii",
  "",
  "Body part one.",
  "--XX",
  "Content-Type: message/rfc822",
  "",
  "From: Inner <inner@example.org>",
  "Subject: Inner message",
  "Content-Type: text/plain",
  "",
  "Inner body.",
  "--XX",
  "Content-Type: application/octet-stream",
  "Content-Transfer-Encoding: base64",
  "",
  Buffer.from("binary\u0000payload").toString("base64"),
  "--XX--",
  "",
].join("\r\n");

async function bytesOf(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

async function expectStoreError(p: Promise<unknown> | (() => unknown), kind: StoreErrorKind): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected StoreError(${kind})`).toBeInstanceOf(StoreError);
  expect((err as StoreError).kind).toBe(kind);
}

const ALL = { type: "all" } as const;
const ALL_UIDS = [{ start: 1, end: Infinity }];

export function describeMailStoreConformance(name: string, makeStore: () => MailStore | Promise<MailStore>): void {
  describe(`MailStore conformance: ${name}`, () => {
    let store: MailStore;
    const opened: Mailbox[] = [];
    beforeAll(async () => {
      store = await makeStore();
    });
    afterAll(async () => {
      for (const m of opened) await m.close();
      await store.close();
    });

    const newId = () => "mbx" + randomBytes(8).toString("hex");
    async function fresh(extra: { quotaBytes?: number } = {}): Promise<Mailbox> {
      const m = await store.open({ id: newId(), key: randomBytes(32), create: true, ...extra });
      opened.push(m);
      return m;
    }
    /** Two handles on one new mailbox (closed after the test, like `fresh`). */
    async function twoHandles(): Promise<[Mailbox, Mailbox]> {
      const id = newId();
      const key = randomBytes(32);
      const a = await store.open({ id, key, create: true });
      opened.push(a);
      const b = await store.open({ id, key });
      opened.push(b);
      return [a, b];
    }
    async function fetchOne(mb: Mailbox, folder: string, uid: number, options: Parameters<Mailbox["fetch"]>[2]) {
      const out = [];
      for await (const m of mb.fetch(folder, [{ start: uid, end: uid }], options)) {
        const sections = [];
        for (const s of m.sections ?? []) sections.push({ size: s.size, bytes: await bytesOf(s.chunks) });
        out.push({ ...m, sectionBytes: sections });
      }
      expect(out.length).toBe(1);
      return out[0];
    }
    async function sectionText(mb: Mailbox, uid: number, request: Parameters<Mailbox["fetch"]>[2]["sections"] & object) {
      const m = await fetchOne(mb, "INBOX", uid, { sections: request });
      for (const s of m.sectionBytes) expect(s.bytes.byteLength).toBe(s.size);
      return m.sectionBytes.map((s) => dec.decode(s.bytes));
    }

    describe("mailboxes", () => {
      it("refuses keys that are not 32 bytes, unknown ids without create, bad ids", async () => {
        await expectStoreError(store.open({ id: newId(), key: randomBytes(31), create: true }), "invalid");
        await expectStoreError(store.open({ id: newId(), key: randomBytes(33), create: true }), "invalid");
        await expectStoreError(store.open({ id: newId(), key: randomBytes(32) }), "not-found");
        await expectStoreError(store.open({ id: "../etc", key: randomBytes(32), create: true }), "invalid");
      });

      it("refuses a wrong key with bad-key and keeps the data", async () => {
        const id = newId();
        const key = randomBytes(32);
        const mb = await store.open({ id, key, create: true });
        await mb.append("INBOX", enc.encode(testMessage()));
        await mb.close();
        await expectStoreError(store.open({ id, key: randomBytes(32) }), "bad-key");
        const again = await store.open({ id, key });
        expect(await again.uids("INBOX")).toEqual([1]);
        await again.close();
        expect(await store.exists(id)).toBe(true);
      });

      it("bumps the generation on each open and refuses a stale file", async () => {
        const id = newId();
        const key = randomBytes(32);
        const a = await store.open({ id, key, create: true });
        const g1 = a.generation;
        await a.close();
        const b = await store.open({ id, key, minGeneration: g1 });
        expect(b.generation).toBeGreaterThan(g1);
        await b.close();
        await expectStoreError(store.open({ id, key, minGeneration: b.generation + 1 }), "stale");
      });

      it("destroys a mailbox", async () => {
        const id = newId();
        const mb = await store.open({ id, key: randomBytes(32), create: true });
        await mb.close();
        expect(await store.exists(id)).toBe(true);
        await store.destroy(id);
        expect(await store.exists(id)).toBe(false);
      });
    });

    describe("folders", () => {
      it("starts with the default folders and their special-use", async () => {
        const mb = await fresh();
        const list = await mb.listFolders();
        const byName = Object.fromEntries(list.map((f) => [f.name, f.specialUse]));
        expect(byName).toEqual({
          INBOX: "\\Inbox",
          Drafts: "\\Drafts",
          Sent: "\\Sent",
          Junk: "\\Junk",
          Trash: "\\Trash",
          Archive: "\\Archive",
        });
        expect(list.every((f) => f.subscribed && f.messages === 0 && f.uidNext === 1 && f.uidValidity > 0)).toBe(true);
      });

      it("creates hierarchies with parents, refuses duplicates and malformed names", async () => {
        const mb = await fresh();
        const c = await mb.createFolder("a/b/c", { specialUse: "\\Flagged" });
        expect(c.name).toBe("a/b/c");
        expect(c.specialUse).toBe("\\Flagged");
        const list = await mb.listFolders();
        expect(list.find((f) => f.name === "a")?.hasChildren).toBe(true);
        expect(list.find((f) => f.name === "a/b")?.hasChildren).toBe(true);
        expect(list.find((f) => f.name === "a/b/c")?.hasChildren).toBe(false);
        await expectStoreError(mb.createFolder("a/b"), "exists");
        await expectStoreError(mb.createFolder("inbox"), "exists");
        for (const bad of ["", "/a", "a/", "a//b", "x\u0001y"]) await expectStoreError(mb.createFolder(bad), "invalid");
      });

      it("keeps Unicode names exactly", async () => {
        const mb = await fresh();
        await mb.createFolder("Größe/日本語 📬");
        const names = (await mb.listFolders()).map((f) => f.name);
        expect(names).toContain("Größe/日本語 📬");
        await mb.append("Größe/日本語 📬", enc.encode(testMessage()));
        expect((await mb.status("Größe/日本語 📬")).messages).toBe(1);
      });

      it("treats INBOX case-insensitively", async () => {
        const mb = await fresh();
        await mb.append("inbox", enc.encode(testMessage()));
        expect((await mb.status("InBoX")).messages).toBe(1);
        await mb.createFolder("inbox/sub");
        expect((await mb.listFolders()).map((f) => f.name)).toContain("INBOX/sub");
      });

      it("renames a folder with its children and messages", async () => {
        const mb = await fresh();
        await mb.createFolder("p/q");
        await mb.append("p/q", enc.encode(testMessage({ subject: "kept" })));
        const before = await mb.status("p/q");
        await mb.renameFolder("p", "r/s");
        const names = (await mb.listFolders()).map((f) => f.name);
        expect(names, names.join(",")).toEqual(expect.arrayContaining(["r", "r/s", "r/s/q"]));
        expect(names).not.toContain("p");
        expect(names).not.toContain("p/q");
        const after = await mb.status("r/s/q");
        expect(after.messages).toBe(1);
        expect(after.uidValidity).toBe(before.uidValidity);
        await expectStoreError(mb.renameFolder("missing", "x"), "not-found");
        await expectStoreError(mb.renameFolder("r/s", "Drafts"), "exists");
        await expectStoreError(mb.renameFolder("r/s", "r/s/q/deeper"), "cannot");
      });

      it("renames INBOX by moving its messages (RFC 3501 §6.3.5)", async () => {
        const mb = await fresh();
        await mb.append("INBOX", enc.encode(testMessage({ subject: "one" })));
        await mb.append("INBOX", enc.encode(testMessage({ subject: "two" })));
        await mb.createFolder("INBOX/child");
        await mb.renameFolder("INBOX", "Old mail");
        expect((await mb.status("Old mail")).messages).toBe(2);
        const inbox = await mb.status("INBOX");
        expect(inbox.messages).toBe(0);
        expect(inbox.specialUse).toBe("\\Inbox");
        expect((await mb.listFolders()).map((f) => f.name)).toContain("INBOX/child");
        // New messages still arrive in INBOX.
        const a = await mb.append("INBOX", enc.encode(testMessage()));
        expect(a.uidValidity).toBe(inbox.uidValidity);
      });

      it("deletes folders but never INBOX or a parent with children", async () => {
        const mb = await fresh();
        await mb.createFolder("gone/child");
        await expectStoreError(mb.deleteFolder("gone"), "cannot");
        await mb.append("gone/child", enc.encode(testMessage()));
        await mb.deleteFolder("gone/child");
        await mb.deleteFolder("gone");
        expect((await mb.listFolders()).map((f) => f.name)).not.toContain("gone");
        await expectStoreError(mb.deleteFolder("INBOX"), "cannot");
        await expectStoreError(mb.deleteFolder("nope"), "not-found");
        await expectStoreError(mb.status("gone/child"), "not-found");
        // Re-creating the name gives a new UIDVALIDITY.
        const again = await mb.createFolder("gone");
        expect(again.messages).toBe(0);
      });

      it("subscribes and unsubscribes", async () => {
        const mb = await fresh();
        await mb.subscribe("Junk", false);
        expect((await mb.listFolders()).find((f) => f.name === "Junk")?.subscribed).toBe(false);
        await mb.subscribe("Junk", true);
        expect((await mb.status("Junk")).subscribed).toBe(true);
        await expectStoreError(mb.subscribe("nope", true), "not-found");
      });
    });

    describe("append and fetch", () => {
      it("returns exactly the appended bytes, whatever the line endings and 8-bit content", async () => {
        const mb = await fresh();
        const variants = [
          enc.encode(testMessage({ body: "crlf line\r\n" })),
          enc.encode("Subject: lf only\nFrom: a@b.c\n\nbody with LF\nno final newline"),
          new Uint8Array([...enc.encode("Subject: 8bit\r\n\r\n"), 0xff, 0x00, 0xe9, 0x80, 0x0d, 0x0a]),
          enc.encode("no header at all"),
        ];
        for (const v of variants) {
          const a = await mb.append("INBOX", v);
          const got = await fetchOne(mb, "INBOX", a.uid, { size: true, sections: [{ part: [], specifier: "" }] });
          expect(got.size).toBe(v.byteLength);
          expect(Buffer.from(got.sectionBytes[0].bytes).equals(Buffer.from(v))).toBe(true);
        }
        expect(await mb.uids("INBOX")).toEqual([1, 2, 3, 4]);
      });

      it("accepts a streamed body and keeps attributes", async () => {
        const mb = await fresh();
        const text = testMessage({ body: "x".repeat(300_000) + "\r\n" });
        const bytes = enc.encode(text);
        async function* chunks() {
          for (let i = 0; i < bytes.length; i += 7777) yield bytes.subarray(i, i + 7777);
        }
        const date = new Date("2022-05-06T07:08:09.000Z");
        const a = await mb.append("INBOX", chunks(), { flags: ["\\Seen", "$Work"], internalDate: date });
        expect(a).toMatchObject({ uid: 1, duplicate: false });
        const st = await mb.status("INBOX");
        expect(st).toMatchObject({ messages: 1, unseen: 0, uidNext: 2, size: bytes.length, firstUnseenUid: null });
        expect(st.highestModseq).toBeGreaterThanOrEqual(a.modseq);
        const got = await fetchOne(mb, "INBOX", 1, { flags: true, internalDate: true, size: true, modseq: true, sections: [{ part: [], specifier: "" }] });
        expect(new Set(got.flags)).toEqual(new Set(["\\Seen", "$Work"]));
        expect(got.internalDate?.toISOString()).toBe(date.toISOString());
        expect(got.modseq).toBe(a.modseq);
        expect(Buffer.from(got.sectionBytes[0].bytes).equals(Buffer.from(bytes))).toBe(true);
      });

      it("enforces the message size limit at its edge, and refuses empty bodies", async () => {
        const mb = await fresh();
        async function* sized(n: number) {
          const head = enc.encode("Subject: big\r\n\r\n");
          yield head;
          let left = n - head.length;
          const block = new Uint8Array(1024 * 1024).fill(0x61);
          while (left > 0) {
            const c = block.subarray(0, Math.min(left, block.length));
            left -= c.length;
            yield c;
          }
        }
        await expectStoreError(mb.append("INBOX", sized(STORE_MAX_MESSAGE_BYTES + 1)), "too-big");
        await expectStoreError(mb.append("INBOX", new Uint8Array(0)), "invalid");
        expect((await mb.status("INBOX")).messages).toBe(0);
        const ok = await mb.append("INBOX", sized(STORE_MAX_MESSAGE_BYTES));
        const got = await fetchOne(mb, "INBOX", ok.uid, { size: true });
        expect(got.size).toBe(STORE_MAX_MESSAGE_BYTES);
      });

      it("returns envelope and body structure", async () => {
        const mb = await fresh();
        await mb.append("INBOX", enc.encode(MULTIPART_MESSAGE));
        const got = await fetchOne(mb, "INBOX", 1, { envelope: true, bodyStructure: true });
        expect(got.envelope?.subject).toBe("Report");
        expect(got.envelope?.from?.[0]).toMatchObject({ mailbox: "carol", host: "example.org" });
        expect(got.bodyStructure?.type.toLowerCase()).toBe("multipart");
        expect(got.bodyStructure?.children?.length).toBe(3);
      });

      it("answers each message's own envelope after an expunge frees the newest content", async () => {
        const mb = await fresh();
        for (const subject of ["first", "second"]) {
          await mb.append("INBOX", enc.encode(testMessage({ subject })));
          const uid = (await mb.uids("INBOX")).at(-1)!;
          // Fetched twice: the second answer may come from a cache, and must still be this message's.
          for (let i = 0; i < 2; i++) expect((await fetchOne(mb, "INBOX", uid, { envelope: true, bodyStructure: true })).envelope?.subject).toBe(subject);
          await mb.storeFlags("INBOX", [{ start: uid, end: uid }], { op: "add", flags: ["\\Deleted"] });
          expect(await mb.expunge("INBOX")).toEqual([uid]);
        }
      });

      it("resolves every section kind", async () => {
        const mb = await fresh();
        await mb.append("INBOX", enc.encode(MULTIPART_MESSAGE));
        const [header, text, fields, notFields, part1, mime2, inner, innerHeader, innerText, part3] = await sectionText(mb, 1, [
          { part: [], specifier: "HEADER" },
          { part: [], specifier: "TEXT" },
          { part: [], specifier: "HEADER.FIELDS", fields: ["subject", "FROM"] },
          { part: [], specifier: "HEADER.FIELDS.NOT", fields: ["subject", "from", "to", "date", "message-id", "mime-version"] },
          { part: [1], specifier: "" },
          { part: [2], specifier: "MIME" },
          { part: [2], specifier: "" },
          { part: [2], specifier: "HEADER" },
          { part: [2], specifier: "TEXT" },
          { part: [3], specifier: "" },
        ]);
        expect(header.startsWith("From: Carol")).toBe(true);
        expect(header.endsWith('boundary="XX"\r\n\r\n')).toBe(true);
        expect(text.startsWith("--XX\r\n")).toBe(true);
        expect(fields).toBe("From: Carol <carol@example.org>\r\nSubject: Report\r\n\r\n");
        expect(notFields).toBe('Content-Type: multipart/mixed; boundary="XX"\r\n\r\n');
        expect(part1).toBe("Body part one.");
        expect(mime2).toBe("Content-Type: message/rfc822\r\n\r\n");
        expect(inner.startsWith("From: Inner")).toBe(true);
        expect(inner.endsWith("Inner body.")).toBe(true);
        expect(innerHeader).toBe("From: Inner <inner@example.org>\r\nSubject: Inner message\r\nContent-Type: text/plain\r\n\r\n");
        expect(innerText).toBe("Inner body.");
        expect(part3).toBe(Buffer.from("binary\u0000payload").toString("base64"));
        const [inner1] = await sectionText(mb, 1, [{ part: [2, 1], specifier: "" }]);
        expect(inner1).toBe("Inner body.");
        const bin = await fetchOne(mb, "INBOX", 1, {
          sections: [
            { part: [3], specifier: "", binary: true },
            { part: [3], specifier: "", binary: true, sizeOnly: true },
            { part: [], specifier: "", partial: { offset: 6, length: 5 } },
            { part: [], specifier: "", partial: { offset: 1_000_000, length: 5 } },
          ],
        });
        expect(Buffer.from(bin.sectionBytes[0].bytes).toString("latin1")).toBe("binary\u0000payload");
        expect(bin.sectionBytes[1].size).toBe("binary\u0000payload".length);
        expect(dec.decode(bin.sectionBytes[2].bytes)).toBe("Carol");
        expect(bin.sectionBytes[3].size).toBe(0);
        await expectStoreError(
          (async () => {
            for await (const m of mb.fetch("INBOX", ALL_UIDS, { sections: [{ part: [9], specifier: "" }] })) void m;
          })(),
          "not-found",
        );
      });

      it("refuses BINARY of an undecodable encoding and specifiers that do not apply", async () => {
        const mb = await fresh();
        const raw = ["Subject: u", 'Content-Type: multipart/mixed; boundary="b"', "", "--b", "Content-Transfer-Encoding: x-uuencode", "", "begin 644 x", "--b", "Content-Type: text/plain", "Content-Transfer-Encoding: 8bit", "", "caf\u00e9", "--b--", ""].join("\r\n");
        await mb.append("INBOX", enc.encode(raw));
        const fetchSection = (section: NonNullable<Parameters<Mailbox["fetch"]>[2]["sections"]>[number]) =>
          (async () => {
            for await (const m of mb.fetch("INBOX", ALL_UIDS, { sections: [section] })) for await (const c of m.sections![0].chunks) void c;
          })();
        // RFC 3516 §4.3: a server that cannot decode the part fails the request.
        await expectStoreError(fetchSection({ part: [1], specifier: "", binary: true }), "invalid");
        await expectStoreError(fetchSection({ part: [], specifier: "MIME" }), "invalid");
        await expectStoreError(fetchSection({ part: [1], specifier: "HEADER" }), "invalid");
        const [identity] = (await fetchOne(mb, "INBOX", 1, { sections: [{ part: [2], specifier: "", binary: true }] })).sectionBytes;
        expect(dec.decode(identity.bytes)).toBe("caf\u00e9");
      });

      it("fetches only messages changed since a modseq", async () => {
        const mb = await fresh();
        const a = await mb.append("INBOX", enc.encode(testMessage()));
        await mb.append("INBOX", enc.encode(testMessage()));
        await mb.storeFlags("INBOX", [{ start: 1, end: 1 }], { op: "add", flags: ["\\Seen"] });
        const uids: number[] = [];
        for await (const m of mb.fetch("INBOX", ALL_UIDS, { changedSince: a.modseq, modseq: true })) uids.push(m.uid);
        expect(uids).toEqual([1, 2]);
        const st = await mb.status("INBOX");
        const none: number[] = [];
        for await (const m of mb.fetch("INBOX", ALL_UIDS, { changedSince: st.highestModseq })) none.push(m.uid);
        expect(none).toEqual([]);
      });
    });

    describe("flags", () => {
      it("adds, removes and replaces flags and keywords, bumping modseq only on change", async () => {
        const mb = await fresh();
        await mb.append("INBOX", enc.encode(testMessage()));
        await mb.append("INBOX", enc.encode(testMessage()), { flags: ["\\Seen"] });
        const r1 = await mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["\\seen", "$Label1"] });
        expect(r1.changed.map((c) => c.uid)).toEqual([1, 2]);
        expect(new Set(r1.changed[0].flags)).toEqual(new Set(["\\Seen", "$Label1"]));
        const r2 = await mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["\\Seen"] });
        expect(r2.changed).toEqual([]);
        const r3 = await mb.storeFlags("INBOX", [{ start: 2, end: 2 }], { op: "remove", flags: ["$label1"] });
        expect(r3.changed).toEqual([{ uid: 2, flags: ["\\Seen"], modseq: expect.any(Number) }]);
        expect(r3.changed[0].modseq).toBeGreaterThan(r1.changed[0].modseq);
        const r4 = await mb.storeFlags("INBOX", [{ start: 1, end: 1 }], { op: "replace", flags: ["\\Flagged", "\\Recent"] });
        expect(r4.changed[0].flags).toEqual(["\\Flagged"]);
        await expectStoreError(mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["\\Bogus"] }), "invalid");
        await expectStoreError(mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["bad word"] }), "invalid");
        expect((await mb.status("INBOX")).unseen).toBe(1);
      });

      it("honours UNCHANGEDSINCE (RFC 7162 §3.1.3)", async () => {
        const mb = await fresh();
        const a1 = await mb.append("INBOX", enc.encode(testMessage()));
        await mb.append("INBOX", enc.encode(testMessage()));
        const bumped = await mb.storeFlags("INBOX", [{ start: 2, end: 2 }], { op: "add", flags: ["\\Answered"] });
        const r = await mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["\\Seen"], unchangedSince: a1.modseq + 1 });
        expect(r.modified).toEqual(bumped.changed[0].modseq > a1.modseq + 1 ? [2] : []);
        expect(r.changed.map((c) => c.uid)).toContain(1);
        const r2 = await mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["\\Flagged"], unchangedSince: 0 });
        expect(r2.modified).toEqual([1, 2]);
        expect(r2.changed).toEqual([]);
      });
    });

    describe("copy, move, expunge", () => {
      it("copies with a UID map, keeping flags and dates", async () => {
        const mb = await fresh();
        const d = new Date("2021-01-01T00:00:00Z");
        for (let i = 0; i < 3; i++) await mb.append("INBOX", enc.encode(testMessage({ subject: `m${i}` })), { flags: ["\\Seen"], internalDate: d });
        await mb.append("Archive", enc.encode(testMessage()));
        const c = await mb.copy("INBOX", [{ start: 2, end: Infinity }], "Archive");
        expect(c.uidValidity).toBe((await mb.status("Archive")).uidValidity);
        expect(c.map).toEqual([
          [2, 2],
          [3, 3],
        ]);
        const got = await fetchOne(mb, "Archive", 3, { flags: true, internalDate: true, envelope: true });
        expect(got.flags).toEqual(["\\Seen"]);
        expect(got.internalDate?.getTime()).toBe(d.getTime());
        expect(got.envelope?.subject).toBe("m2");
        expect((await mb.status("INBOX")).messages).toBe(3);
        await expectStoreError(mb.copy("INBOX", ALL_UIDS, "Nowhere"), "not-found");
        expect((await mb.copy("INBOX", [{ start: 50, end: 60 }], "Archive")).map).toEqual([]);
      });

      it("moves, reporting the source UIDs as expunged", async () => {
        const mb = await fresh();
        for (let i = 0; i < 3; i++) await mb.append("INBOX", enc.encode(testMessage()));
        const before = (await mb.status("INBOX")).highestModseq;
        const m = await mb.move("INBOX", [{ start: 1, end: 2 }], "Trash");
        expect(m.map).toEqual([
          [1, 1],
          [2, 2],
        ]);
        expect(await mb.uids("INBOX")).toEqual([3]);
        expect(await mb.uids("Trash")).toEqual([1, 2]);
        const ch = await mb.changesSince("INBOX", before);
        expect(ch.expunged.sort()).toEqual([1, 2]);
        const q = await mb.quota();
        expect(q.messages).toBe(3);
      });

      it("expunges \\Deleted messages, optionally limited to a UID set", async () => {
        const mb = await fresh();
        for (let i = 0; i < 5; i++) await mb.append("INBOX", enc.encode(testMessage()));
        await mb.storeFlags("INBOX", [{ start: 1, end: 4 }], { op: "add", flags: ["\\Deleted"] });
        expect(await mb.expunge("INBOX", [{ start: 3, end: 4 }])).toEqual([3, 4]);
        expect(await mb.uids("INBOX")).toEqual([1, 2, 5]);
        expect(await mb.expunge("INBOX")).toEqual([1, 2]);
        expect(await mb.uids("INBOX")).toEqual([5]);
        expect(await mb.expunge("INBOX")).toEqual([]);
        // UIDs are never reused.
        expect((await mb.append("INBOX", enc.encode(testMessage()))).uid).toBe(6);
      });
    });

    describe("search", () => {
      async function corpus() {
        const mb = await fresh();
        const now = Date.now();
        await mb.append("INBOX", enc.encode(testMessage({ subject: "Quarterly brownfox report", body: "The numbers are attached.\r\n", from: "Zed <zed@alpha.example>", date: "Sun, 01 Jan 2023 08:00:00 +0000" })), { internalDate: new Date("2023-01-01T09:00:00Z"), flags: ["\\Seen"] });
        await mb.append("INBOX", enc.encode(testMessage({ subject: "Lunch", body: "Käsespätzle tomorrow? ok\r\n", to: "team@beta.example", cc: "boss@beta.example", date: "Wed, 04 Jan 2023 08:00:00 +0000" })), { internalDate: new Date("2023-01-04T09:00:00Z"), flags: ["$Important"] });
        await mb.append("INBOX", enc.encode(testMessage({ subject: "=?UTF-8?B?w5xiZXJ3ZWlzdW5n?=", body: "x".repeat(5000) + "\r\n", extraHeaders: ["X-Tracking: abc123def"], date: "Fri, 06 Jan 2023 08:00:00 +0000" })), { internalDate: new Date(now - 60_000) });
        return mb;
      }
      const cases: [string, SearchKey, number[]][] = [
        ["all", { type: "all" }, [1, 2, 3]],
        ["uid", { type: "uid", set: [{ start: 2, end: Infinity }] }, [2, 3]],
        ["flag set", { type: "flag", flag: "\\Seen", set: true }, [1]],
        ["flag unset", { type: "flag", flag: "\\seen", set: false }, [2, 3]],
        ["keyword", { type: "flag", flag: "$important", set: true }, [2]],
        ["header substring", { type: "header", field: "x-tracking", value: "C123D" }, [3]],
        ["header present", { type: "header", field: "X-Tracking", value: "" }, [3]],
        ["address from", { type: "address", field: "from", value: "alpha.EXAMPLE" }, [1]],
        ["address to", { type: "address", field: "to", value: "team@" }, [2]],
        ["address cc", { type: "address", field: "cc", value: "boss" }, [2]],
        ["address bcc", { type: "address", field: "bcc", value: "x" }, []],
        ["subject encoded word", { type: "subject", value: "überweis" }, [3]],
        ["subject middle of word", { type: "subject", value: "rownfo" }, [1]],
        ["body middle of word", { type: "body", value: "umber" }, [1]],
        ["body unicode", { type: "body", value: "SPÄTZLE" }, [2]],
        ["body short needle", { type: "body", value: "ok" }, [2]],
        ["body one char", { type: "body", value: "ä" }, [2]],
        ["body not in headers", { type: "body", value: "Lunch" }, []],
        ["text matches header", { type: "text", value: "unch" }, [2]],
        ["text matches body", { type: "text", value: "attach" }, [1]],
        ["text two chars", { type: "text", value: "zz" }, []],
        // Every trigram of the needle is in message 1, the needle is not: an index may only narrow.
        ["text scattered trigrams", { type: "text", value: "numbers attached" }, []],
        ["body needle longer than the trigrams looked up", { type: "body", value: "the NUMBERS are attached." }, [1]],
        ["text and body under and", { type: "and", keys: [{ type: "text", value: "brownfox" }, { type: "body", value: "attach" }] }, [1]],
        ["internal before", { type: "internal-date", op: "before", date: "2023-01-04" }, [1]],
        ["internal on", { type: "internal-date", op: "on", date: "2023-01-04" }, [2]],
        ["internal since", { type: "internal-date", op: "since", date: "2023-01-04" }, [2, 3]],
        ["sent before", { type: "sent-date", op: "before", date: "2023-01-04" }, [1]],
        ["sent on", { type: "sent-date", op: "on", date: "2023-01-06" }, [3]],
        ["sent since", { type: "sent-date", op: "since", date: "2023-01-04" }, [2, 3]],
        ["larger", { type: "size", op: "larger", bytes: 4000 }, [3]],
        ["smaller", { type: "size", op: "smaller", bytes: 4000 }, [1, 2]],
        ["younger", { type: "age", op: "younger", seconds: 3600 }, [3]],
        ["older", { type: "age", op: "older", seconds: 3600 }, [1, 2]],
        ["regex body", { type: "regex", target: "body", pattern: "K.sesp[aä]tzle\\s+tomorrow" }, [2]],
        ["regex header field", { type: "regex", target: "header", field: "subject", pattern: "^quarterly", flags: "i" }, [1]],
        ["regex text alternation", { type: "regex", target: "text", pattern: "(zzz|numbers)" }, [1]],
        ["and", { type: "and", keys: [{ type: "flag", flag: "\\Seen", set: false }, { type: "size", op: "smaller", bytes: 4000 }] }, [2]],
        ["or", { type: "or", left: { type: "uid", set: [{ start: 1, end: 1 }] }, right: { type: "body", value: "spätz" } }, [1, 2]],
        ["not", { type: "not", key: { type: "text", value: "brownfox" } }, [2, 3]],
        ["sent date under not and or", { type: "not", key: { type: "or", left: { type: "uid", set: [{ start: 3, end: 3 }] }, right: { type: "sent-date", op: "before", date: "2023-01-04" } } }, [2]],
        ["flags only", { type: "and", keys: [{ type: "flag", flag: "\\Seen", set: false }, { type: "not", key: { type: "uid", set: [{ start: 3, end: 3 }] } }] }, [2]],
      ];
      it.each(cases)("%s", async (_name, key, expected) => {
        const mb = await corpus();
        expect(await mb.search("INBOX", key)).toEqual(expected);
      });

      it("searches by modseq", async () => {
        const mb = await corpus();
        const r = await mb.storeFlags("INBOX", [{ start: 3, end: 3 }], { op: "add", flags: ["\\Flagged"] });
        expect(await mb.search("INBOX", { type: "modseq", modseq: r.changed[0].modseq })).toEqual([3]);
      });

      it("refuses malformed criteria and survives catastrophic regexes", async () => {
        const mb = await fresh();
        await mb.append("INBOX", enc.encode(testMessage({ body: "a".repeat(20_000) + "\r\n" })));
        await expectStoreError(mb.search("INBOX", { type: "regex", target: "body", pattern: "(unclosed" }), "invalid");
        await expectStoreError(mb.search("INBOX", { type: "regex", target: "body", pattern: "(a)\\1" }), "invalid");
        await expectStoreError(mb.search("INBOX", { type: "internal-date", op: "on", date: "yesterday" }), "invalid");
        await expectStoreError(mb.search("Nope", ALL), "not-found");
        // (a*)*b backtracks exponentially in a backtracking engine; here it is linear.
        expect(await mb.search("INBOX", { type: "regex", target: "body", pattern: "(a*)*b" })).toEqual([]);
        expect(await mb.search("INBOX", { type: "regex", target: "body", pattern: "(a|aa)+\\s*$" })).toEqual([1]);
      });
    });

    describe("sort and thread", () => {
      async function threads() {
        const mb = await fresh();
        const add = (o: TestMessageOptions, size = 0) => mb.append("INBOX", enc.encode(testMessage({ ...o, body: "b".repeat(size) + "\r\n" })));
        await add({ subject: "Plans", messageId: "<a@x>", from: "Mia <mia@x.org>", to: "zoe@x.org", date: "Mon, 02 Jan 2023 10:00:00 +0000" }, 1000); // 1
        await add({ subject: "Re: Plans", messageId: "<b@x>", inReplyTo: "<a@x>", references: "<a@x>", from: "bob@x.org", to: "amy@x.org", date: "Mon, 02 Jan 2023 11:00:00 +0000" }, 9000); // 2
        await add({ subject: "Other", messageId: "<c@x>", from: "Carl <carl@x.org>", to: "Ann <ann@x.org>", date: "Sun, 01 Jan 2023 10:00:00 +0000" }, 5000); // 3
        await add({ subject: "Re: Plans", messageId: "<d@x>", references: "<a@x> <b@x>", from: "abe@x.org", date: "Tue, 03 Jan 2023 10:00:00 +0000" }, 200); // 4
        await add({ subject: "Fwd: Other", messageId: "<e@x>", from: "dan@x.org", date: "Wed, 04 Jan 2023 10:00:00 +0000" }, 10); // 5
        return mb;
      }
      it("sorts by every key, with reverse and ties by UID", async () => {
        const mb = await threads();
        expect(await mb.sort("INBOX", [{ key: "date" }], ALL)).toEqual([3, 1, 2, 4, 5]);
        expect(await mb.sort("INBOX", [{ key: "date", reverse: true }], ALL)).toEqual([5, 4, 2, 1, 3]);
        expect(await mb.sort("INBOX", [{ key: "arrival" }], ALL)).toEqual([1, 2, 3, 4, 5]);
        expect(await mb.sort("INBOX", [{ key: "size" }], ALL)).toEqual([5, 4, 1, 3, 2]);
        expect(await mb.sort("INBOX", [{ key: "subject" }, { key: "date", reverse: true }], ALL)).toEqual([5, 3, 4, 2, 1]);
        expect(await mb.sort("INBOX", [{ key: "from" }], ALL)).toEqual([4, 2, 3, 5, 1]);
        expect(await mb.sort("INBOX", [{ key: "to" }, { key: "arrival" }], ALL)).toEqual([2, 3, 4, 5, 1]);
        expect(await mb.sort("INBOX", [{ key: "display-from" }], ALL)).toEqual([4, 2, 3, 5, 1]);
        expect(await mb.sort("INBOX", [{ key: "display-to" }, { key: "size" }], ALL)).toEqual([2, 3, 5, 4, 1]);
        expect(await mb.sort("INBOX", [{ key: "cc" }], { type: "uid", set: [{ start: 2, end: 3 }] })).toEqual([2, 3]);
      });

      it("threads by REFERENCES", async () => {
        const mb = await threads();
        expect(await mb.thread("INBOX", "references", ALL)).toEqual([
          { uid: 3, children: [{ uid: 5, children: [] }] },
          { uid: 1, children: [{ uid: 2, children: [{ uid: 4, children: [] }] }] },
        ]);
      });

      it("threads by REFERENCES when a later message bridges two threads, over copies and subsets", async () => {
        const mb = await fresh();
        const add = (o: TestMessageOptions) => mb.append("INBOX", enc.encode(testMessage(o)));
        await add({ subject: "North", messageId: "<n@x>", date: "Mon, 02 Jan 2023 10:00:00 +0000" }); // 1
        await add({ subject: "South", messageId: "<s@x>", date: "Mon, 02 Jan 2023 11:00:00 +0000" }); // 2
        await add({ subject: "Re: South", messageId: "<r@x>", inReplyTo: "<s@x>", date: "Mon, 02 Jan 2023 12:00:00 +0000" }); // 3
        expect(await mb.thread("INBOX", "references", ALL)).toEqual([
          { uid: 1, children: [] },
          { uid: 2, children: [{ uid: 3, children: [] }] },
        ]);
        // References name both roots: the chain links North above South.
        await add({ subject: "Re: both", messageId: "<m@x>", references: "<n@x> <s@x>", date: "Mon, 02 Jan 2023 13:00:00 +0000" }); // 4
        const bridged = [{ uid: 1, children: [{ uid: 2, children: [{ uid: 3, children: [] }, { uid: 4, children: [] }] }] }];
        expect(await mb.thread("INBOX", "references", ALL)).toEqual(bridged);
        // A copy threads the same way in its folder.
        await mb.copy("INBOX", ALL_UIDS, "Archive");
        expect(await mb.thread("Archive", "references", ALL)).toEqual(bridged);
        // Without the root the South subtree hangs under a dummy for <n@x>... which is pruned (one child).
        expect(await mb.thread("INBOX", "references", { type: "uid", set: [{ start: 2, end: 4 }] })).toEqual([
          { uid: 2, children: [{ uid: 3, children: [] }, { uid: 4, children: [] }] },
        ]);
      });

      it("threads by ORDEREDSUBJECT", async () => {
        const mb = await threads();
        expect(await mb.thread("INBOX", "orderedsubject", ALL)).toEqual([
          { uid: 3, children: [{ uid: 5, children: [] }] },
          {
            uid: 1,
            children: [
              { uid: 2, children: [] },
              { uid: 4, children: [] },
            ],
          },
        ]);
        expect(await mb.thread("INBOX", "orderedsubject", { type: "uid", set: [{ start: 4, end: 5 }] })).toEqual([
          { uid: 4, children: [] },
          { uid: 5, children: [] },
        ]);
      });
    });

    describe("changes, quota, dedupe, watch", () => {
      it("reports changes and expunges since a modseq", async () => {
        const mb = await fresh();
        for (let i = 0; i < 3; i++) await mb.append("INBOX", enc.encode(testMessage()));
        const base = (await mb.status("INBOX")).highestModseq;
        await mb.storeFlags("INBOX", [{ start: 2, end: 2 }], { op: "add", flags: ["\\Deleted"] });
        await mb.storeFlags("INBOX", [{ start: 3, end: 3 }], { op: "add", flags: ["\\Seen"] });
        await mb.expunge("INBOX");
        const ch = await mb.changesSince("INBOX", base);
        expect(ch.changed.map((c) => c.uid)).toEqual([3]);
        expect(ch.changed[0].flags).toEqual(["\\Seen"]);
        expect(ch.expunged).toEqual([2]);
        expect(ch.highestModseq).toBe((await mb.status("INBOX")).highestModseq);
        expect(ch.highestModseq).toBeGreaterThan(base);
        const none = await mb.changesSince("INBOX", ch.highestModseq);
        expect(none).toEqual({ highestModseq: ch.highestModseq, changed: [], expunged: [], keywords: [] });
      });

      it("appends a batch all or nothing, visible only once all of it is read", async () => {
        const mb = await fresh();
        await mb.append("INBOX", enc.encode(testMessage({ subject: "before" })));
        const base = (await mb.status("INBOX")).highestModseq;
        const events: MailboxChangeEvent[] = [];
        const unwatch = mb.watch((e) => events.push(e));
        // The second item's body fails half way: nothing of the batch may stay.
        async function* failing(): AsyncGenerator<Uint8Array> {
          yield enc.encode("Subject: half\r\n");
          throw new StoreError("invalid", "client sent a bad literal");
        }
        let seenMidway: number[] = [];
        async function* items(): AsyncGenerator<BatchAppendItem> {
          yield { body: enc.encode(testMessage({ subject: "one" })), options: { flags: ["\\Seen"] } };
          seenMidway = await mb.uids("INBOX");
          yield { body: failing() };
        }
        await expectStoreError(mb.appendBatch("INBOX", items()), "invalid");
        expect(seenMidway).toEqual([1]);
        expect(await mb.uids("INBOX")).toEqual([1]);
        expect(await mb.changesSince("INBOX", base)).toMatchObject({ highestModseq: base, changed: [], expunged: [] });
        expect(events).toEqual([]);
        // An empty body is refused the same way as in append.
        async function* withEmpty(): AsyncGenerator<BatchAppendItem> {
          yield { body: enc.encode(testMessage()) };
          yield { body: new Uint8Array(0) };
        }
        await expectStoreError(mb.appendBatch("INBOX", withEmpty()), "invalid");
        expect(await mb.uids("INBOX")).toEqual([1]);
        // A whole batch commits in order, with ascending UIDs and its options.
        const date = new Date("2024-03-01T10:00:00Z");
        async function* good(): AsyncGenerator<BatchAppendItem> {
          yield { body: enc.encode(testMessage({ subject: "a" })), options: { flags: ["\\Flagged"], internalDate: date } };
          yield { body: (async function* () { yield enc.encode(testMessage({ subject: "b" })); })() };
        }
        const results = await mb.appendBatch("INBOX", good());
        expect(results.map((r) => r.duplicate)).toEqual([false, false]);
        const uids = await mb.uids("INBOX");
        expect(uids.slice(0, 1)).toEqual([1]);
        expect(uids.slice(1)).toEqual(results.map((r) => r.uid));
        expect(results[1].uid).toBeGreaterThan(results[0].uid);
        const first = await fetchOne(mb, "INBOX", results[0].uid, { flags: true, internalDate: true });
        expect(first.flags).toEqual(["\\Flagged"]);
        expect(first.internalDate?.getTime()).toBe(date.getTime());
        expect(events.length).toBeGreaterThan(0);
        expect(await mb.appendBatch("INBOX", (async function* (): AsyncGenerator<BatchAppendItem> {})())).toEqual([]);
        unwatch();
      });

      it("refuses a batch over quota as a whole", async () => {
        const msg = enc.encode(testMessage({ body: "q".repeat(1000) + "\r\n" }));
        const mb = await fresh({ quotaBytes: msg.byteLength * 2 });
        async function* three(): AsyncGenerator<BatchAppendItem> {
          for (let i = 0; i < 3; i++) yield { body: msg };
        }
        await expectStoreError(mb.appendBatch("INBOX", three()), "over-quota");
        expect(await mb.uids("INBOX")).toEqual([]);
        expect((await mb.quota()).usedBytes).toBe(0);
      });

      it("refuses a batch over STORE_MAX_APPEND_BATCH_BYTES, and accepts one at it", async () => {
        const mb = await fresh();
        const header = "Subject: big\r\n\r\n";
        const piece = Math.floor(STORE_MAX_APPEND_BATCH_BYTES / 4);
        const body = (n: number) => {
          const bytes = new Uint8Array(n).fill(0x61);
          bytes.set(enc.encode(header));
          return bytes;
        };
        async function* exact(): AsyncGenerator<BatchAppendItem> {
          for (let i = 0; i < 3; i++) yield { body: body(piece) };
          yield { body: body(STORE_MAX_APPEND_BATCH_BYTES - 3 * piece) };
        }
        expect((await mb.appendBatch("INBOX", exact())).length).toBe(4);
        async function* over(): AsyncGenerator<BatchAppendItem> {
          for (let i = 0; i < 3; i++) yield { body: body(piece) };
          yield { body: body(STORE_MAX_APPEND_BATCH_BYTES - 3 * piece + 1) };
        }
        await expectStoreError(mb.appendBatch("INBOX", over()), "too-big");
        expect((await mb.uids("INBOX")).length).toBe(4);
      });

      it("accounts quota and refuses writes over it", async () => {
        const msg = enc.encode(testMessage({ body: "q".repeat(1000) + "\r\n" }));
        const mb = await fresh({ quotaBytes: msg.byteLength * 2 });
        await mb.append("INBOX", msg);
        await mb.append("INBOX", msg);
        expect(await mb.quota()).toEqual({ usedBytes: msg.byteLength * 2, limitBytes: msg.byteLength * 2, messages: 2 });
        await expectStoreError(mb.append("INBOX", msg), "over-quota");
        await expectStoreError(mb.copy("INBOX", ALL_UIDS, "Archive"), "over-quota");
        // Moving does not grow the mailbox.
        expect((await mb.move("INBOX", [{ start: 1, end: 1 }], "Archive")).map).toEqual([[1, 1]]);
        await mb.storeFlags("Archive", ALL_UIDS, { op: "add", flags: ["\\Deleted"] });
        await mb.expunge("Archive");
        expect((await mb.quota()).usedBytes).toBe(msg.byteLength);
        await mb.append("INBOX", msg);
        expect((await mb.status("INBOX")).messages).toBe(2);
      });

      it("is idempotent on dedupeKey", async () => {
        const mb = await fresh();
        const a = await mb.append("INBOX", enc.encode(testMessage()), { dedupeKey: "spool-1" });
        const b = await mb.append("INBOX", enc.encode(testMessage({ subject: "different" })), { dedupeKey: "spool-1" });
        expect(b).toEqual({ ...a, duplicate: true });
        expect(await mb.uids("INBOX")).toEqual([1]);
        const c = await mb.append("INBOX", enc.encode(testMessage()), { dedupeKey: "spool-2" });
        expect(c.duplicate).toBe(false);
        expect(c.uid).toBe(2);
      });

      it("tells watchers of every handle about committed writes", async () => {
        const id = newId();
        const key = randomBytes(32);
        const a = await store.open({ id, key, create: true });
        const b = await store.open({ id, key });
        const seen: MailboxChangeEvent[] = [];
        const stop = b.watch((e) => seen.push(e));
        const r = await a.append("INBOX", enc.encode(testMessage()));
        await a.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["\\Deleted"] });
        await a.expunge("INBOX");
        await a.createFolder("New");
        await expect.poll(() => seen.length).toBe(4);
        expect(seen.map((e) => [e.folder, e.kind])).toEqual([
          ["INBOX", "append"],
          ["INBOX", "flags"],
          ["INBOX", "expunge"],
          ["New", "folders"],
        ]);
        expect(seen[0].modseq).toBeGreaterThanOrEqual(r.modseq);
        stop();
        await a.append("INBOX", enc.encode(testMessage()));
        await new Promise((res) => setTimeout(res, 50));
        expect(seen.length).toBe(4);
        expect(await b.uids("INBOX")).toEqual([2]);
        await a.close();
        await b.close();
      });

      it("enforces name, flag, key and search limits at their edges", async () => {
        const mb = await fresh();
        await mb.createFolder("n".repeat(STORE_MAX_FOLDER_NAME_CHARS));
        await expectStoreError(mb.createFolder("m".repeat(STORE_MAX_FOLDER_NAME_CHARS + 1)), "invalid");
        await mb.createFolder(Array.from({ length: STORE_MAX_FOLDER_DEPTH }, () => "d").join("/"));
        await expectStoreError(mb.createFolder(Array.from({ length: STORE_MAX_FOLDER_DEPTH + 1 }, () => "e").join("/")), "invalid");
        await mb.append("INBOX", enc.encode(testMessage()));
        await mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["k".repeat(STORE_MAX_KEYWORD_CHARS)] });
        await expectStoreError(mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["k".repeat(STORE_MAX_KEYWORD_CHARS + 1)] }), "invalid");
        const many = Array.from({ length: STORE_MAX_FLAGS_PER_MESSAGE }, (_, i) => `kw${i}`);
        await mb.storeFlags("INBOX", ALL_UIDS, { op: "replace", flags: many });
        await expectStoreError(mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["one-more"] }), "invalid");
        await mb.append("INBOX", enc.encode(testMessage()), { dedupeKey: "x".repeat(STORE_MAX_DEDUPE_KEY_CHARS) });
        await expectStoreError(mb.append("INBOX", enc.encode(testMessage()), { dedupeKey: "y".repeat(STORE_MAX_DEDUPE_KEY_CHARS + 1) }), "invalid");
        expect(await mb.search("INBOX", { type: "text", value: "v".repeat(STORE_MAX_SEARCH_VALUE_CHARS) })).toEqual([]);
        await expectStoreError(mb.search("INBOX", { type: "text", value: "v".repeat(STORE_MAX_SEARCH_VALUE_CHARS + 1) }), "invalid");
        expect(await mb.search("INBOX", { type: "regex", target: "body", pattern: "r".repeat(REGEX_MAX_PATTERN_CHARS) })).toEqual([]);
        await expectStoreError(mb.search("INBOX", { type: "regex", target: "body", pattern: "r".repeat(REGEX_MAX_PATTERN_CHARS + 1) }), "invalid");
        expect(await mb.uids("INBOX")).toEqual([1, 2]);
      });

      it("reports not-found for missing folders and messages", async () => {
        const mb = await fresh();
        await expectStoreError(mb.append("Nope", enc.encode(testMessage())), "not-found");
        await expectStoreError(mb.uids("Nope"), "not-found");
        await expectStoreError(mb.expunge("Nope"), "not-found");
        await expectStoreError(mb.changesSince("Nope", 0), "not-found");
        expect((await mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["\\Seen"] })).changed).toEqual([]);
      });
    });
    describe("folder counts", () => {
      /** STATUS figures counted from scratch, from what FETCH and a peeking claim answer. */
      async function countedStatus(mb: Mailbox, folder: string) {
        const rows = [];
        for await (const m of mb.fetch(folder, ALL_UIDS, { flags: true, size: true })) rows.push(m);
        const unseen = rows.filter((m) => !m.flags!.includes("\\Seen"));
        const { firstUid } = await mb.claimRecent(folder, { peek: true });
        return {
          messages: rows.length,
          size: rows.reduce((n, m) => n + m.size!, 0),
          unseen: unseen.length,
          deleted: rows.filter((m) => m.flags!.includes("\\Deleted")).length,
          firstUnseenUid: unseen.length === 0 ? null : unseen[0].uid,
          recent: rows.filter((m) => m.uid >= firstUid).length,
        };
      }
      async function expectCountsExact(mb: Mailbox, folders: readonly string[]) {
        let bytes = 0;
        let messages = 0;
        for (const folder of folders) {
          const counted = await countedStatus(mb, folder);
          const s = await mb.status(folder);
          expect({ folder, messages: s.messages, size: s.size, unseen: s.unseen, deleted: s.deleted, firstUnseenUid: s.firstUnseenUid, recent: s.recent }).toEqual({
            folder,
            ...counted,
          });
          bytes += counted.size;
          messages += counted.messages;
        }
        expect(await mb.quota()).toMatchObject({ usedBytes: bytes, messages });
      }

      it("keeps STATUS counts equal to a count of the messages after any mix of writes, failed ones included", async () => {
        const mb = await fresh();
        const folders = ["INBOX", "A", "B"];
        await mb.createFolder("A");
        await mb.createFolder("B");
        // A fixed pseudo-random sequence (mulberry32), so a failure repeats.
        let seed = 0x5ea1b0c5;
        const random = () => {
          seed = (seed + 0x6d2b79f5) | 0;
          let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
          t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
          return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
        };
        const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
        const flagSets = [[], ["\\Seen"], ["\\Deleted"], ["\\Seen", "\\Deleted"], ["\\Flagged", "$Work"]];
        const someUids = () => {
          const start = 1 + Math.floor(random() * 16);
          return [{ start, end: start + Math.floor(random() * 8) }];
        };
        async function* batchFailingHalfway(): AsyncGenerator<BatchAppendItem> {
          yield { body: enc.encode(testMessage()), options: { flags: ["\\Seen"] } };
          throw new StoreError("invalid", "client sent a bad literal");
        }
        const store = () => mb.storeFlags(pick(folders), someUids(), { op: pick(["add", "remove", "replace"] as const), flags: pick(flagSets) });
        const append = () => mb.append(pick(folders), enc.encode(testMessage({ body: "x".repeat(Math.floor(random() * 300)) + "\r\n" })), { flags: pick(flagSets) });
        // Weighted by repetition: mostly appends and flag changes, so the folders fill.
        const operations: (() => Promise<unknown>)[] = [
          append,
          append,
          append,
          store,
          store,
          store,
          () => mb.storeFlags(pick(folders), ALL_UIDS, { op: pick(["add", "remove"] as const), flags: pick(flagSets) }),
          () => mb.appendBatch(pick(folders), batchFailingHalfway()),
          () => mb.storeFlags(pick(folders), someUids(), { op: "add", flags: ["\\Bogus"] }),
          () => mb.copy(pick(folders), someUids(), pick(folders)),
          () => mb.move(pick(folders), someUids(), pick(folders)),
          () => mb.copy(pick(folders), someUids(), "Nowhere"),
          () => mb.expunge(pick(folders), someUids()),
          () => mb.claimRecent(pick(folders)),
        ];
        for (let round = 0; round < 60; round++) {
          // Sent together, so a store that batches writes commits them as one group, failures among them.
          const settled = await Promise.allSettled(Array.from({ length: 1 + Math.floor(random() * 5) }, () => pick(operations)()));
          for (const r of settled) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StoreError);
          await expectCountsExact(mb, folders);
        }
        // Renaming INBOX moves its messages and counts; deleting a folder takes its messages out of the quota.
        await mb.renameFolder("INBOX", "Old");
        await mb.deleteFolder("A");
        await expectCountsExact(mb, ["INBOX", "Old", "B"]);
        await mb.append("INBOX", enc.encode(testMessage()), { flags: ["\\Deleted"] });
        await mb.renameFolder("B", "C");
        await expectCountsExact(mb, ["INBOX", "Old", "C"]);
      });
    });

    describe("keyword lists (RFC 3501 §7.2.6)", () => {
      it("records every keyword used in a folder, first spelling first, and never forgets one", async () => {
        const mb = await fresh();
        await mb.createFolder("Other");
        expect((await mb.status("INBOX")).keywords).toEqual([]);
        await mb.append("INBOX", enc.encode(testMessage()), { flags: ["\\Seen", "$Work", "Urgent"] });
        await mb.append("INBOX", enc.encode(testMessage()), { flags: ["$work"] });
        expect((await mb.status("INBOX")).keywords).toEqual(["$Work", "Urgent"]);
        await mb.storeFlags("INBOX", [{ start: 2, end: 2 }], { op: "add", flags: ["\\Flagged", "$Later"] });
        await mb.storeFlags("INBOX", ALL_UIDS, { op: "replace", flags: ["$Done", "urgent"] });
        await mb.storeFlags("INBOX", ALL_UIDS, { op: "remove", flags: ["$Done", "Urgent"] });
        expect((await mb.status("INBOX")).keywords).toEqual(["$Work", "Urgent", "$Later", "$Done"]);
        // A removal of a keyword never adds it, even when no message had it.
        await mb.storeFlags("INBOX", ALL_UIDS, { op: "remove", flags: ["$NeverSet"] });
        await mb.storeFlags("INBOX", ALL_UIDS, { op: "add", flags: ["\\Deleted"] });
        await mb.expunge("INBOX");
        expect((await mb.status("INBOX")).keywords).toEqual(["$Work", "Urgent", "$Later", "$Done"]);
        expect((await mb.changesSince("INBOX", 0)).keywords).toEqual(["$Work", "Urgent", "$Later", "$Done"]);
        expect((await mb.status("Other")).keywords).toEqual([]);
      });

      it("gives COPY and MOVE destinations the keywords of the messages they receive", async () => {
        const mb = await fresh();
        await mb.createFolder("Copies");
        await mb.createFolder("Moved");
        await mb.append("INBOX", enc.encode(testMessage()), { flags: ["$A"] });
        await mb.append("INBOX", enc.encode(testMessage()), { flags: ["\\Seen", "$B"] });
        await mb.copy("INBOX", [{ start: 2, end: 2 }], "Copies");
        expect((await mb.status("Copies")).keywords).toEqual(["$B"]);
        await mb.move("INBOX", ALL_UIDS, "Moved");
        expect((await mb.status("Moved")).keywords).toEqual(["$A", "$B"]);
        expect((await mb.status("INBOX")).keywords).toEqual(["$A", "$B"]);
      });

      it("records the keywords of a batch append (MULTIAPPEND), and a batch over the cap writes nothing", async () => {
        const mb = await fresh();
        async function* two(): AsyncGenerator<BatchAppendItem> {
          yield { body: enc.encode(testMessage({ subject: "a" })), options: { flags: ["\\Seen", "$Work"] } };
          yield { body: enc.encode(testMessage({ subject: "b" })), options: { flags: ["$Later", "$work"] } };
        }
        await mb.appendBatch("INBOX", two());
        expect((await mb.status("INBOX")).keywords).toEqual(["$Work", "$Later"]);
        const names = Array.from({ length: STORE_MAX_KEYWORDS_PER_FOLDER - 1 }, (_, i) => `k${i}`);
        // Two keywords defined + these = one more than the cap, spread over messages of at most STORE_MAX_FLAGS_PER_MESSAGE flags.
        async function* overCap(): AsyncGenerator<BatchAppendItem> {
          for (let i = 0; i < names.length; i += STORE_MAX_FLAGS_PER_MESSAGE) {
            yield { body: enc.encode(testMessage()), options: { flags: names.slice(i, i + STORE_MAX_FLAGS_PER_MESSAGE) } };
          }
        }
        await expectStoreError(mb.appendBatch("INBOX", overCap()), "limit");
        expect(await mb.uids("INBOX")).toEqual([1, 2]);
        expect((await mb.status("INBOX")).keywords).toEqual(["$Work", "$Later"]);
      });

      it("refuses a keyword beyond STORE_MAX_KEYWORDS_PER_FOLDER as limit and changes nothing", async () => {
        const mb = await fresh();
        await mb.createFolder("Full");
        await mb.append("INBOX", enc.encode(testMessage()), { flags: ["spare"] });
        const u = (await mb.append("Full", enc.encode(testMessage()))).uid;
        const v = (await mb.append("Full", enc.encode(testMessage()))).uid;
        const names = Array.from({ length: STORE_MAX_KEYWORDS_PER_FOLDER }, (_, i) => `k${i}`);
        const per = STORE_MAX_FLAGS_PER_MESSAGE;
        for (let i = 0; i < names.length; i += per) await mb.storeFlags("Full", [{ start: u, end: u }], { op: "replace", flags: names.slice(i, i + per) });
        const before = await mb.status("Full");
        expect(before.keywords).toEqual(names);
        await expectStoreError(mb.storeFlags("Full", [{ start: v, end: v }], { op: "add", flags: ["one-more"] }), "limit");
        await expectStoreError(mb.append("Full", enc.encode(testMessage()), { flags: ["one-more"] }), "limit");
        await expectStoreError(mb.copy("INBOX", ALL_UIDS, "Full"), "limit");
        await expectStoreError(mb.move("INBOX", ALL_UIDS, "Full"), "limit");
        const after = await mb.status("Full");
        expect(after).toEqual(before);
        expect(await mb.uids("Full")).toEqual([u, v]);
        expect(await mb.uids("INBOX")).toEqual([1]);
        // Keywords already defined (in any case) can still be set and appended.
        await mb.storeFlags("Full", [{ start: v, end: v }], { op: "add", flags: ["K0", `k${STORE_MAX_KEYWORDS_PER_FOLDER - 1}`] });
        await mb.append("Full", enc.encode(testMessage()), { flags: ["k1"] });
        expect((await mb.status("Full")).keywords).toEqual(before.keywords);
      });
    });

    describe("follow (answers as without it)", () => {
      it("changesSince after a handle's own writes holds every change, also another handle's", async () => {
        const [a, b] = await twoHandles();
        for (let i = 0; i < 4; i++) await a.append("INBOX", enc.encode(testMessage()));
        const base = (await a.status("INBOX")).highestModseq;
        a.follow("INBOX", base);
        await a.storeFlags("INBOX", [{ start: 1, end: 1 }], { op: "add", flags: ["\\Flagged"] });
        const own = await a.changesSince("INBOX", base);
        expect(own).toEqual(await b.changesSince("INBOX", base));
        expect(own.changed.map((c) => c.uid)).toEqual([1]);

        a.follow("INBOX", own.highestModseq);
        await a.storeFlags("INBOX", [{ start: 2, end: 2 }], { op: "add", flags: ["Work"] });
        await b.storeFlags("INBOX", [{ start: 3, end: 3 }], { op: "add", flags: ["\\Deleted"] });
        await b.expunge("INBOX");
        await b.append("INBOX", enc.encode(testMessage()));
        const both = await a.changesSince("INBOX", own.highestModseq);
        expect(both).toEqual(await b.changesSince("INBOX", own.highestModseq));
        expect(both.changed.map((c) => c.uid)).toEqual([2, 5]);
        expect(both.expunged).toEqual([3]);
        expect(both.keywords).toEqual(["Work"]);

        // Asked from another mod-sequence, or for another folder, the answer is the store's own.
        a.follow("INBOX", both.highestModseq);
        await a.expunge("INBOX");
        expect(await a.changesSince("INBOX", base)).toEqual(await b.changesSince("INBOX", base));
        await a.append("INBOX", enc.encode(testMessage()));
        await expectStoreError(a.changesSince("Nope", both.highestModseq), "not-found");
        a.follow(null, 0);
        await a.storeFlags("INBOX", [{ start: 1, end: 1 }], { op: "remove", flags: ["\\Flagged"] });
        expect(await a.changesSince("INBOX", both.highestModseq)).toEqual(await b.changesSince("INBOX", both.highestModseq));
      });

      it("a change to the followed folder stays visible when a later change elsewhere has a lower mod-sequence", async () => {
        const [a, b] = await twoHandles();
        await a.createFolder("Quiet");
        for (let i = 0; i < 6; i++) await a.append("INBOX", enc.encode(testMessage()));
        const base = (await a.status("INBOX")).highestModseq;
        a.follow("INBOX", base);
        await a.storeFlags("INBOX", [{ start: 1, end: 1 }], { op: "add", flags: ["\\Seen"] });
        // Another session changes the followed folder, then a folder whose mod-sequences may be lower.
        await b.storeFlags("INBOX", [{ start: 2, end: 2 }], { op: "add", flags: ["\\Flagged"] });
        await b.append("Quiet", enc.encode(testMessage()));
        const seen = await a.changesSince("INBOX", base);
        expect(seen).toEqual(await b.changesSince("INBOX", base));
        expect(seen.changed.map((c) => c.uid)).toEqual([1, 2]);
      });

      it("a following write that removes the followed folder still succeeds", async () => {
        const mb = await fresh();
        await mb.createFolder("Gone");
        mb.follow("Gone", 0);
        await mb.deleteFolder("Gone");
        await mb.append("INBOX", enc.encode(testMessage()));
        await expectStoreError(mb.changesSince("Gone", 0), "not-found");
      });
    });

    describe("\\Recent claims (RFC 3501 §2.3.2)", () => {
      it("hands each new message to exactly one claim; peeks take nothing", async () => {
        const mb = await fresh();
        expect(await mb.claimRecent("INBOX")).toEqual({ firstUid: 1, uidNext: 1 });
        await mb.append("INBOX", enc.encode(testMessage()));
        await mb.append("INBOX", enc.encode(testMessage()));
        expect((await mb.status("INBOX")).recent).toBe(2);
        expect(await mb.claimRecent("INBOX", { peek: true })).toEqual({ firstUid: 1, uidNext: 3 });
        expect((await mb.status("INBOX")).recent).toBe(2);
        expect(await mb.claimRecent("INBOX")).toEqual({ firstUid: 1, uidNext: 3 });
        expect((await mb.status("INBOX")).recent).toBe(0);
        expect(await mb.claimRecent("INBOX")).toEqual({ firstUid: 3, uidNext: 3 });
        expect(await mb.claimRecent("INBOX", { peek: true })).toEqual({ firstUid: 3, uidNext: 3 });
        await mb.append("INBOX", enc.encode(testMessage()));
        await mb.createFolder("Dest");
        await mb.copy("INBOX", ALL_UIDS, "Dest");
        expect((await mb.status("INBOX")).recent).toBe(1);
        expect((await mb.status("Dest")).recent).toBe(3);
        // An expunged message in the range is simply gone.
        await mb.storeFlags("INBOX", [{ start: 3, end: 3 }], { op: "add", flags: ["\\Deleted"] });
        await mb.expunge("INBOX");
        expect((await mb.status("INBOX")).recent).toBe(0);
        expect(await mb.claimRecent("INBOX")).toEqual({ firstUid: 3, uidNext: 4 });
        expect(await mb.claimRecent("Dest")).toEqual({ firstUid: 1, uidNext: 4 });
        await expectStoreError(mb.claimRecent("Nope"), "not-found");
      });

      it("never gives one message to two concurrent claims, across handles", async () => {
        const [a, b] = await twoHandles();
        const claims: Promise<{ firstUid: number; uidNext: number }>[] = [];
        for (let i = 0; i < 6; i++) {
          await (i % 2 === 0 ? a : b).append("INBOX", enc.encode(testMessage()));
          claims.push((i % 3 === 0 ? a : b).claimRecent("INBOX"));
        }
        const got = (await Promise.all(claims)).filter((c) => c.uidNext > c.firstUid).sort((x, y) => x.firstUid - y.firstUid);
        // Disjoint ranges that together cover every message exactly once.
        let next = 1;
        for (const c of got) {
          expect(c.firstUid).toBe(next);
          next = c.uidNext;
        }
        expect(next).toBe(7);
        expect((await b.status("INBOX")).recent).toBe(0);
      });

      it("select answers status, UIDs and the claim or peek of one folder together", async () => {
        const mb = await fresh();
        await mb.append("INBOX", enc.encode(testMessage()));
        await mb.append("INBOX", enc.encode(testMessage()), { flags: ["\\Seen"] });
        const peek = await mb.select("INBOX", { recent: "peek" });
        expect(peek.uids).toEqual([1, 2]);
        expect(peek.recent).toEqual({ firstUid: 1, uidNext: 3 });
        expect(peek.status).toEqual({ ...(await mb.status("INBOX")), recent: 2 });
        const claim = await mb.select("INBOX", { recent: "claim" });
        expect(claim.recent).toEqual({ firstUid: 1, uidNext: 3 });
        // The status was read before the claim moved: it still counts the two as recent.
        expect(claim.status.recent).toBe(2);
        expect((await mb.status("INBOX")).recent).toBe(0);
        const plain = await mb.select("INBOX", { recent: null });
        expect(plain.recent).toBeNull();
        expect(plain.uids).toEqual([1, 2]);
        expect(await mb.claimRecent("INBOX", { peek: true })).toEqual({ firstUid: 3, uidNext: 3 });
        await expectStoreError(mb.select("Nope", { recent: "claim" }), "not-found");
      });

      it("starts a fresh claim for the new INBOX when INBOX is renamed", async () => {
        const mb = await fresh();
        await mb.append("INBOX", enc.encode(testMessage()));
        await mb.renameFolder("INBOX", "Old");
        expect((await mb.status("Old")).recent).toBe(1);
        expect((await mb.status("INBOX")).recent).toBe(0);
        await mb.append("INBOX", enc.encode(testMessage()));
        expect(await mb.claimRecent("INBOX")).toEqual({ firstUid: 1, uidNext: 2 });
        expect(await mb.claimRecent("Old")).toEqual({ firstUid: 1, uidNext: 2 });
      });
    });

  });
}
