/**
 * FETCH on the SQLite store answers in batches (sqlite-worker.ts): every
 * message still arrives in UID order, byte for byte, across batch boundaries
 * set by message count (STORE_FETCH_BATCH_MESSAGES), by inline bytes
 * (STORE_FETCH_BATCH_INLINE_BYTES) and by a streamed section; and a message
 * that fails is reported only after every message before it was delivered.
 *
 * A message expunged after the fetch started fails when its batch is built
 * if its content was purged meanwhile, which is how these tests see where a
 * batch ends: each mailbox starts with STORE_PURGE_PENDING_MAX - 1 expunged
 * contents waiting for the purge, so the test's own expunge purges at once.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { STORE_FETCH_BATCH_INLINE_BYTES, STORE_FETCH_BATCH_MESSAGES, STORE_PURGE_PENDING_MAX } from "../../storage-node/limits.ts";
import { StoreError, type BatchAppendItem, type Mailbox } from "../../storage-node/store/types.ts";
import { useStoreFixtures } from "./store-fixtures.ts";

const fx = useStoreFixtures("fetch-batch");
/** The largest section sent inline with its message (sqlite-worker.ts). */
const INLINE_MAX = 64 * 1024;

function messageOfSize(n: number, size: number): Uint8Array {
  const bytes = Buffer.alloc(size, "y");
  bytes.write(`Subject: batch ${n}\r\n\r\n${n} `);
  return new Uint8Array(bytes);
}

async function mailboxWith(sizes: number[]): Promise<{ mb: Mailbox; messages: Uint8Array[] }> {
  const store = fx.store({ dataDir: fx.tempDir(), workers: 2 });
  const mb = await store.open({ id: "batch" + randomBytes(6).toString("hex"), key: randomBytes(32), create: true });
  const messages = sizes.map((s, i) => messageOfSize(i + 1, s));
  for (const m of messages) await mb.append("INBOX", m);
  // One expunge short of a purge (see the header).
  async function* fillers(): AsyncGenerator<BatchAppendItem> {
    for (let i = 1; i < STORE_PURGE_PENDING_MAX; i++) yield { body: messageOfSize(1000 + i, 100), options: { flags: ["\\Deleted"] } };
  }
  await mb.appendBatch("Trash", fillers());
  expect(await mb.expunge("Trash")).toHaveLength(STORE_PURGE_PENDING_MAX - 1);
  return { mb, messages };
}

/** Fetches BODY[] of all messages; after the first one, expunges `expungeUid`. Returns what arrived and the error, if any. */
async function fetchAll(mb: Mailbox, expungeUid?: number): Promise<{ bodies: Map<number, Buffer>; error: unknown }> {
  const bodies = new Map<number, Buffer>();
  let error: unknown = null;
  try {
    for await (const f of mb.fetch("INBOX", [{ start: 1, end: Infinity }], { flags: true, sections: [{ part: [], specifier: "" }] })) {
      const parts: Uint8Array[] = [];
      for await (const c of f.sections![0].chunks) parts.push(c);
      bodies.set(f.uid, Buffer.concat(parts));
      if (expungeUid !== undefined && bodies.size === 1) {
        await mb.storeFlags("INBOX", [{ start: expungeUid, end: expungeUid }], { op: "add", flags: ["\\Deleted"] });
        expect(await mb.expunge("INBOX", [{ start: expungeUid, end: expungeUid }])).toEqual([expungeUid]);
      }
    }
  } catch (e) {
    error = e;
  }
  return { bodies, error };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("SQLite store FETCH batches", () => {
  it("delivers more than two batches of messages in order, byte for byte", async () => {
    const { mb, messages } = await mailboxWith(Array.from({ length: 2 * STORE_FETCH_BATCH_MESSAGES + 1 }, (_, i) => 100 + i));
    const { bodies, error } = await fetchAll(mb);
    expect(error).toBeNull();
    expect([...bodies.keys()]).toEqual(range(1, messages.length));
    for (const [i, m] of messages.entries()) expect(bodies.get(i + 1)!.equals(Buffer.from(m)), `message ${i + 1}`).toBe(true);
  });

  it("ends a batch at STORE_FETCH_BATCH_MESSAGES messages", async () => {
    const n = STORE_FETCH_BATCH_MESSAGES;
    const { mb } = await mailboxWith(Array.from({ length: n + 5 }, () => 200));
    // Message n is in the first batch (already read), message n + 1 is not.
    const inBatch = await fetchAll(mb, n);
    expect([...inBatch.bodies.keys()]).toEqual(range(1, n + 5));
    const { mb: mb2 } = await mailboxWith(Array.from({ length: n + 5 }, () => 200));
    const next = await fetchAll(mb2, n + 1);
    expect([...next.bodies.keys()]).toEqual(range(1, n));
    expect(next.error).toBeInstanceOf(StoreError);
    expect((next.error as StoreError).kind).toBe("not-found");
  });

  it("ends a batch once its inline sections reach STORE_FETCH_BATCH_INLINE_BYTES", async () => {
    const perBatch = STORE_FETCH_BATCH_INLINE_BYTES / INLINE_MAX;
    const { mb, messages } = await mailboxWith(Array.from({ length: perBatch + 3 }, () => INLINE_MAX));
    const { bodies, error } = await fetchAll(mb, perBatch + 1);
    expect([...bodies.keys()]).toEqual(range(1, perBatch));
    for (const uid of bodies.keys()) expect(bodies.get(uid)!.equals(Buffer.from(messages[uid - 1]))).toBe(true);
    expect((error as StoreError).kind).toBe("not-found");
    // The message that reaches the total is still in the first batch.
    const { mb: mb2 } = await mailboxWith(Array.from({ length: perBatch + 3 }, () => INLINE_MAX));
    const inBatch = await fetchAll(mb2, perBatch);
    expect(inBatch.error).toBeNull();
    expect([...inBatch.bodies.keys()]).toEqual(range(1, perBatch + 3));
  });

  it("ends a batch after a streamed section and reports a failing message after the ones before it", async () => {
    // 1 small, 2 streamed (ends batch 1); batch 2 starts at 3 and fails at 5 after delivering 3 and 4.
    const { mb, messages } = await mailboxWith([300, INLINE_MAX + 1, 300, 300, 300, 300]);
    const { bodies, error } = await fetchAll(mb, 5);
    expect([...bodies.keys()]).toEqual([1, 2, 3, 4]);
    for (const uid of bodies.keys()) expect(bodies.get(uid)!.equals(Buffer.from(messages[uid - 1]))).toBe(true);
    expect((error as StoreError).kind).toBe("not-found");
  });

  it("can stop early and fetch again", async () => {
    const { mb } = await mailboxWith([100, 100, 100]);
    for await (const f of mb.fetch("INBOX", [{ start: 1, end: Infinity }], { flags: true })) if (f.uid === 1) break;
    const uids: number[] = [];
    for await (const f of mb.fetch("INBOX", [{ start: 1, end: Infinity }], { flags: true })) uids.push(f.uid);
    expect(uids).toEqual([1, 2, 3]);
  });
});
