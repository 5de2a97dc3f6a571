/**
 * Appends prepared on any worker of the pool still reach the mailbox's owner
 * in call order, byte for byte, on both sides of the size up to which any
 * worker may prepare; concurrent duplicates of one dedupe key store once.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { STORE_PREPARE_ANYWHERE_MAX_BYTES } from "../../storage-node/limits.ts";
import { createSqliteStore } from "../../storage-node/store/sqlite-store.ts";

const dir = mkdtempSync(join(tmpdir(), "sealbox-append-order-"));
const store = createSqliteStore({ dataDir: dir, workers: 2 });
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function messageOfSize(n: number, size: number): Uint8Array {
  const head = `Subject: order ${n}\r\nMessage-ID: <order-${n}@test>\r\n\r\n`;
  const bytes = Buffer.alloc(size, "x");
  bytes.write(head);
  bytes.write(`${n} `, head.length);
  return new Uint8Array(bytes);
}

describe("SQLite store appends across workers", () => {
  it("assigns UIDs in call order and stores every message byte for byte", async () => {
    const mb = await store.open({ id: "order" + randomBytes(6).toString("hex"), key: randomBytes(32), create: true });
    const sizes = [200, STORE_PREPARE_ANYWHERE_MAX_BYTES, 300, STORE_PREPARE_ANYWHERE_MAX_BYTES + 1, 150];
    const messages = Array.from({ length: 40 }, (_, i) => messageOfSize(i, sizes[i % sizes.length]));
    const results = await Promise.all(messages.map((m) => mb.append("INBOX", m)));
    expect(results.map((r) => r.uid)).toEqual(messages.map((_, i) => i + 1));
    for (const [i, m] of messages.entries()) {
      const parts: Uint8Array[] = [];
      for await (const f of mb.fetch("INBOX", [{ start: i + 1, end: i + 1 }], { sections: [{ part: [], specifier: "" }] }))
        for await (const c of f.sections![0].chunks) parts.push(c);
      expect(Buffer.concat(parts).equals(Buffer.from(m)), `message ${i}`).toBe(true);
    }
    await mb.close();
  });

  it("stores one message for concurrent appends with one dedupe key", async () => {
    const mb = await store.open({ id: "dedupe" + randomBytes(6).toString("hex"), key: randomBytes(32), create: true });
    const m = messageOfSize(1, 500);
    const results = await Promise.all([1, 2, 3].map(() => mb.append("INBOX", m, { dedupeKey: "spool-1" })));
    expect(results.map((r) => r.uid)).toEqual([1, 1, 1]);
    expect(results.map((r) => r.duplicate)).toEqual([false, true, true]);
    expect(await mb.uids("INBOX")).toEqual([1]);
    await mb.close();
  });
});
