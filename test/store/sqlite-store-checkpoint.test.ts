/**
 * The SQLite store checkpoints a mailbox's WAL itself (fsyncs off the worker
 * thread) after STORE_CHECKPOINT_WRITES write transactions or
 * STORE_CHECKPOINT_BYTES appended bytes: tested at both edges by watching the
 * database file, which only a checkpoint (or the last close) writes to.
 */
import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STORE_CHECKPOINT_BYTES, STORE_CHECKPOINT_WRITES } from "../../storage-node/limits.ts";
import type { Mailbox } from "../../storage-node/store/types.ts";
import { useStoreFixtures } from "./store-fixtures.ts";

const enc = new TextEncoder();
const fixtures = useStoreFixtures("checkpoint");

/** A closed, checkpointed mailbox file, opened again: one write transaction so far (the open's generation bump). */
async function freshMailbox(): Promise<{ mailbox: Mailbox; mainFileSize: () => number }> {
  const dir = fixtures.tempDir();
  const s = fixtures.store({ dataDir: dir, workers: 1 });
  const id = "mbx" + randomBytes(8).toString("hex");
  const key = randomBytes(32);
  await (await s.open({ id, key, create: true })).close();
  const mailbox = await s.open({ id, key });
  return { mailbox, mainFileSize: () => statSync(join(dir, `${id}.sqlite`)).size };
}

const small = (i: number) => enc.encode(`Subject: note ${i}\r\nMessage-ID: <${i}@example.test>\r\n\r\n${"words of a note ".repeat(40)}${i}\r\n`);

describe("SQLite store checkpoints", () => {
  it("checkpoints after exactly STORE_CHECKPOINT_WRITES write transactions", async () => {
    const { mailbox, mainFileSize } = await freshMailbox();
    const before = mainFileSize();
    // The open was write 1; appends one at a time are one transaction each.
    for (let i = 2; i < STORE_CHECKPOINT_WRITES; i++) await mailbox.append("INBOX", small(i));
    // A read queues behind any checkpoint, so the file is final when it answers.
    expect(await mailbox.uids("INBOX")).toHaveLength(STORE_CHECKPOINT_WRITES - 2);
    expect(mainFileSize()).toBe(before);
    await mailbox.append("INBOX", small(STORE_CHECKPOINT_WRITES));
    expect(await mailbox.uids("INBOX")).toHaveLength(STORE_CHECKPOINT_WRITES - 1);
    expect(mainFileSize()).toBeGreaterThan(before);
    await mailbox.close();
  });

  it("checkpoints once STORE_CHECKPOINT_BYTES message bytes were appended", async () => {
    const { mailbox, mainFileSize } = await freshMailbox();
    const before = mainFileSize();
    const head = enc.encode("Subject: big\r\nContent-Type: text/plain\r\n\r\n");
    // Together with the small message that follows: exactly STORE_CHECKPOINT_BYTES.
    const last = small(1);
    const big = new Uint8Array(STORE_CHECKPOINT_BYTES - last.byteLength);
    big.set(head);
    // Incompressible-ish text lines so the file really grows.
    const line = enc.encode(randomBytes(57).toString("base64") + "\r\n");
    for (let at = head.byteLength; at + line.byteLength <= big.byteLength; at += line.byteLength) big.set(line, at);
    big.fill(0x41, big.byteLength - ((big.byteLength - head.byteLength) % line.byteLength));
    await mailbox.append("INBOX", big);
    expect(await mailbox.uids("INBOX")).toEqual([1]);
    expect(mainFileSize()).toBe(before);
    await mailbox.append("INBOX", last);
    expect(await mailbox.uids("INBOX")).toEqual([1, 2]);
    expect(mainFileSize()).toBeGreaterThan(before);
    await mailbox.close();
  });
});
