/**
 * The relay queue over a real encrypted spool file: relay jobs are sealed
 * entries that the local drain never touches, commit together with forward
 * and webhook jobs, are retried with backoff until the home node
 * acknowledges, leave the spool only after that, and survive a reopen. A
 * spool file of schema 1 is upgraded in place. (The home node's answer is a
 * function here; relay.test.ts runs the real peer link.)
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3-multiple-ciphers";
import { describe, expect, it } from "vitest";
import type { RelayEntryData } from "../../shared/tunnel/messages.ts";
import type { RpcResult } from "../../shared/tunnel/rpc-peer.ts";
import { createLogger } from "../../storage-node/log.ts";
import { RelayQueue, relayEntry } from "../../storage-node/peer/relay-queue.ts";
import { SpoolDatabase, type SealedEntryData } from "../../storage-node/spool/spool-database.ts";
import { eventually } from "../support/api.ts";

const logger = createLogger("silent");

function sealedEntry(id: string, relayTo: string | null): SealedEntryData {
  return { id, mailboxId: "mbx_1", aliasId: "al_1", receivedAt: new Date(1_700_000_000_000), size: 3, sealed: new Uint8Array(randomBytes(40)), relayTo };
}

const envelope = { mailFrom: "a@b.example", rcptTo: ["c@d.example"], remoteAddress: "127.0.0.1", helo: "x", secure: false };

describe("relay queue", () => {
  it("keeps relay jobs apart from the local drain, commits them with the delivery's jobs, and relays until acknowledged", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sealbox-relay-"));
    const key = new Uint8Array(randomBytes(32));
    let spool = SpoolDatabase.open({ dir, key });
    await spool.write({
      sealed: [sealedEntry("d1.0", "node-b"), sealedEntry("d1.1", null)],
      message: { id: "d1", raw: Buffer.from("Subject: x\r\n\r\nx\r\n"), envelope, authResults: "{}", receivedAt: new Date() },
      jobs: [{ id: "d1.w0", kind: "webhook", target: "{}", nextAttemptAt: 0 }],
    });
    // The local drain sees only the entry homed here; the quota counts both.
    expect(spool.sealedBatch("mbx_1", 10).map((e) => e.id)).toEqual(["d1.1"]);
    expect(spool.sealedBytes("mbx_1")).toBe(6);
    expect(spool.countRelays()).toBe(1);
    expect(spool.countJobs("webhook")).toBe(1);
    // Survives a reopen (the MX's 250 came before any relay attempt).
    spool.close();
    spool = SpoolDatabase.open({ dir, key });
    expect(spool.dueRelays(Date.now(), 10, new Set()).map((e) => [e.id, e.relayTo, e.attempts])).toEqual([["d1.0", "node-b", 0]]);

    const calls: { homeNode: string; entry: RelayEntryData }[] = [];
    let answer: RpcResult<{ stored: true }> = { ok: false, error: { code: "peer-unavailable", message: "down" } };
    const queue = new RelayQueue({
      spool,
      retryBaseMs: 20,
      logger,
      send: async (homeNode, entry) => {
        calls.push({ homeNode, entry });
        return answer;
      },
    });
    queue.start();
    try {
      await eventually(() => calls.length >= 3, 10_000, "retries");
      // Still waiting, with its retry count moving.
      expect(spool.countRelays()).toBe(1);
      answer = { ok: true, value: { stored: true } };
      await eventually(() => spool.countRelays() === 0, 10_000, "the acknowledged relay to leave the spool");
    } finally {
      await queue.stop();
    }
    // Every attempt sent the same sealed bytes under the same spool id.
    const expected = relayEntry(sealedEntry("d1.0", "node-b"));
    for (const call of calls) {
      expect(call.homeNode).toBe("node-b");
      expect({ ...call.entry, sealed: "" }).toEqual({ ...expected, sealed: "" });
      expect(call.entry.sealed).toBe(calls[0].entry.sealed);
    }
    // The local entry and the webhook job are untouched.
    expect(spool.sealedBatch("mbx_1", 10).map((e) => e.id)).toEqual(["d1.1"]);
    expect(spool.countJobs("webhook")).toBe(1);
    spool.close();
  });

  it("upgrades a schema-1 spool file in place, keeping its entries drainable", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sealbox-relay-v1-"));
    const key = new Uint8Array(randomBytes(32));
    const db = new Database(path.join(dir, "spool.sqlite"));
    db.pragma("cipher='chacha20'");
    db.pragma(`key="x'${Buffer.from(key).toString("hex")}'"`);
    db.exec(`
      CREATE TABLE sealed_mail (id TEXT PRIMARY KEY, mailbox_id TEXT NOT NULL, alias_id TEXT NOT NULL, received_at TEXT NOT NULL, size INTEGER NOT NULL, sealed BLOB NOT NULL);
      CREATE TABLE messages (id TEXT PRIMARY KEY, raw BLOB NOT NULL, envelope TEXT NOT NULL, auth_results TEXT NOT NULL, received_at TEXT NOT NULL);
      CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, message_id TEXT NOT NULL REFERENCES messages(id), target TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, last_error TEXT);
      PRAGMA user_version = 1;
    `);
    db.prepare("INSERT INTO sealed_mail VALUES ('old.0', 'mbx_1', 'al_1', '2024-01-01T00:00:00.000Z', 5, x'0102')").run();
    db.close();
    const spool = SpoolDatabase.open({ dir, key });
    expect(spool.sealedBatch("mbx_1", 10).map((e) => e.id)).toEqual(["old.0"]);
    expect(spool.countRelays()).toBe(0);
    await spool.write({ sealed: [sealedEntry("new.0", "node-c")] });
    expect(spool.dueRelays(Date.now(), 10, new Set()).map((e) => e.id)).toEqual(["new.0"]);
    spool.close();
  });
});
