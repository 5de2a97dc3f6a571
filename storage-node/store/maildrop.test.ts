import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MaildropView } from "./maildrop.ts";
import { createMemoryStore } from "./memory-store.ts";
import { createSqliteStore } from "./sqlite-store.ts";
import type { MailStore, Mailbox } from "./types.ts";

const enc = new TextEncoder();
const message = (n: number) => enc.encode(`From: a@example.test\r\nSubject: message ${n}\r\n\r\nline one of ${n}\r\nline two\r\nline three\r\n`);

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

function describeMaildrop(name: string, makeStore: () => Promise<{ store: MailStore; cleanup: () => Promise<void> }>) {
  describe(`POP3 maildrop view: ${name}`, () => {
    let store: MailStore;
    let cleanup: () => Promise<void>;
    let mailbox: Mailbox;

    beforeAll(async () => {
      ({ store, cleanup } = await makeStore());
      mailbox = await store.open({ id: "mbx" + randomBytes(6).toString("hex"), key: randomBytes(32), create: true });
      for (const n of [1, 2, 3]) await mailbox.append("INBOX", message(n));
    });

    afterAll(async () => {
      await mailbox.close();
      await store.close();
      await cleanup();
    });

    it("lists INBOX with sizes and stable unique ids, fixed for the session", async () => {
      const view = await MaildropView.open(mailbox);
      expect(view.count).toBe(3);
      const total = [1, 2, 3].reduce((sum, n) => sum + message(n).length, 0);
      expect(view.stat()).toEqual({ messages: 3, bytes: total });
      await mailbox.append("INBOX", message(4));
      expect(view.count).toBe(3);
      const again = await MaildropView.open(mailbox);
      expect(again.count).toBe(4);
      expect(again.entries().slice(0, 3).map((e) => e.entry.uniqueId)).toEqual(view.entries().map((e) => e.entry.uniqueId));
    });

    it("retrieves exact bytes and the top lines", async () => {
      const view = await MaildropView.open(mailbox);
      expect(Buffer.from(await collect(view.retrieve(2))).equals(Buffer.from(message(2)))).toBe(true);
      const top = Buffer.from((await view.top(1, 1))!).toString("latin1");
      expect(top).toBe("From: a@example.test\r\nSubject: message 1\r\n\r\nline one of 1\r\n");
      const headerOnly = Buffer.from((await view.top(1, 0))!).toString("latin1");
      expect(headerOnly).toBe("From: a@example.test\r\nSubject: message 1\r\n\r\n");
      expect(await view.top(99, 1)).toBeNull();
    });

    it("marks, resets, and expunges only the marked messages on commit", async () => {
      const view = await MaildropView.open(mailbox);
      const before = await mailbox.uids("INBOX");
      expect(view.delete(2)).toBe(true);
      expect(view.delete(2)).toBe(false);
      expect(view.entry(2)).toBeNull();
      view.reset();
      expect(view.entry(2)).not.toBeNull();
      expect(view.delete(2)).toBe(true);
      // Another session's \\Deleted mark is not this session's to expunge.
      await mailbox.storeFlags("INBOX", [{ start: before[0], end: before[0] }], { op: "add", flags: ["\\Deleted"] });
      await collect(view.retrieve(3));
      const expunged = await view.commit();
      expect(expunged).toEqual([before[1]]);
      const after = await mailbox.uids("INBOX");
      expect(after).toEqual(before.filter((uid) => uid !== before[1]));
      const flags: string[][] = [];
      for await (const m of mailbox.fetch("INBOX", [{ start: before[2], end: before[2] }], { flags: true })) flags.push(m.flags ?? []);
      expect(flags[0]).toContain("\\Seen");
    });

    it("removes nothing when the session ends without commit", async () => {
      const view = await MaildropView.open(mailbox);
      const before = await mailbox.uids("INBOX");
      view.delete(1);
      expect(await mailbox.uids("INBOX")).toEqual(before);
    });
  });
}

describeMaildrop("memory", async () => ({ store: createMemoryStore(), cleanup: async () => undefined }));
describeMaildrop("sqlite", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "sealbox-maildrop-"));
  return { store: createSqliteStore({ dataDir: dir, workers: 1 }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
