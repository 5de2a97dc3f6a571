/**
 * The spool database and its job queue on a real encrypted file: the key is
 * required and checked, a delivery's rows commit together, retries back off
 * exponentially, and a job is abandoned (give-up handler first) only after
 * its deadline — at least 5 days for forwarding (RFC 5321 §4.5.4.1).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { decodeSpoolKey, InboundSettingsError, startInbound, type InboundContext } from "../../storage-node/inbound.ts";
import { OUTBOUND_LIMITS, WEBHOOK_LIMITS } from "../../storage-node/limits.ts";
import { DEFAULT_SETTINGS, describeSettings } from "../../storage-node/settings.ts";
import { createMemoryStore } from "../../storage-node/store/memory-store.ts";
import { createLogger } from "../../storage-node/log.ts";
import { JobQueue, retryDelay, type JobOutcomeData } from "../../storage-node/spool/job-queue.ts";
import { SpoolDatabase, SpoolError } from "../../storage-node/spool/spool-database.ts";
import { eventually } from "../support/api.ts";

const logger = createLogger(process.env.DBG ? "debug" : "silent");
const DAY = 86_400_000;

async function freshSpool(): Promise<{ dir: string; key: Uint8Array; spool: SpoolDatabase }> {
  const dir = await mkdtemp(path.join(tmpdir(), "sealbox-spool-"));
  const key = new Uint8Array(randomBytes(32));
  return { dir, key, spool: SpoolDatabase.open({ dir, key }) };
}

const envelope = { mailFrom: "a@b.example", rcptTo: ["c@d.example"], remoteAddress: "127.0.0.1", helo: "x", secure: false };

describe("spool database", () => {
  it("refuses a wrong or malformed key and keeps rows encrypted", async () => {
    const { dir, key, spool } = await freshSpool();
    const marker = `plaintext-${randomBytes(8).toString("hex")}`;
    await spool.write({
      message: { id: "m1", raw: Buffer.from(`Subject: ${marker}\r\n\r\n${marker}\r\n`), envelope, authResults: "{}", receivedAt: new Date() },
      jobs: [{ id: "m1.w0", kind: "webhook", target: "{}", nextAttemptAt: 0 }],
    });
    spool.close();
    expect(() => SpoolDatabase.open({ dir, key: new Uint8Array(randomBytes(32)) })).toThrow(SpoolError);
    expect(() => SpoolDatabase.open({ dir, key: new Uint8Array(16) })).toThrow(/32 bytes/);
    const file = await readFile(path.join(dir, "spool.sqlite"));
    expect(file.includes(Buffer.from(marker))).toBe(false);
    expect(file.includes(Buffer.from("SQLite format 3"))).toBe(false);
    const again = SpoolDatabase.open({ dir, key });
    try {
      expect(Buffer.from(again.message("m1")?.raw ?? []).toString()).toContain(marker);
      expect(again.countJobs("webhook")).toBe(1);
    } finally {
      again.close();
    }
  });
});

describe("spool key setting", () => {
  it("must be 32 bytes of base64, and is never shown", () => {
    const key = randomBytes(32).toString("base64");
    expect(decodeSpoolKey(key)).toHaveLength(32);
    expect(() => decodeSpoolKey(randomBytes(16).toString("base64"))).toThrow(InboundSettingsError);
    expect(() => decodeSpoolKey("not base64!")).toThrow(InboundSettingsError);
    let message = "";
    try {
      decodeSpoolKey(key.slice(0, -4));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toContain(key.slice(0, 8));
    expect(JSON.stringify(describeSettings({ ...DEFAULT_SETTINGS, spoolKey: key, srsSecret: key }))).not.toContain(key);
  });

  it("turns the MX off when absent, leaving the store as it is", async () => {
    const store = createMemoryStore();
    const listeners: { name: string; port: number }[] = [];
    const context = { settings: { ...DEFAULT_SETTINGS, spoolKey: "" }, logger, store, listeners } as unknown as InboundContext;
    const inbound = await startInbound(context);
    expect(inbound.store).toBe(store);
    expect(listeners).toEqual([]);
    await inbound.close();
  });
});

describe("job queue", () => {
  it("backs off exponentially up to the ceiling, with bounded jitter", () => {
    expect(retryDelay(1, 1_000, 60_000, 0.5)).toBe(1_000);
    expect(retryDelay(2, 1_000, 60_000, 0.5)).toBe(2_000);
    expect(retryDelay(5, 1_000, 60_000, 0.5)).toBe(16_000);
    expect(retryDelay(30, 1_000, 60_000, 0.5)).toBe(60_000);
    expect(retryDelay(1, 1_000, 60_000, 0)).toBe(800);
    expect(retryDelay(1, 1_000, 60_000, 1)).toBe(1_200);
  });

  it("retries forwarding for at least 5 days, then gives up once (DSN hook) and deletes the job", async () => {
    expect(OUTBOUND_LIMITS.giveUpAfterMs).toBeGreaterThanOrEqual(5 * DAY);
    expect(WEBHOOK_LIMITS.giveUpAfterMs).toBeGreaterThanOrEqual(DAY);
    const { spool } = await freshSpool();
    let clock = Date.now();
    const runs: number[] = [];
    const gaveUp: string[] = [];
    const queue = new JobQueue({
      spool,
      kind: "forward",
      concurrency: 2,
      retryBaseMs: 30 * 60_000,
      retryMaxMs: OUTBOUND_LIMITS.retryMaxMs,
      giveUpAfterMs: OUTBOUND_LIMITS.giveUpAfterMs,
      logger,
      now: () => clock,
      run: async (): Promise<JobOutcomeData> => {
        runs.push(clock);
        return { kind: "retry", reason: "451 4.3.0 busy" };
      },
      onGiveUp: async (job, _message, reason) => {
        gaveUp.push(`${job.id}:${reason}`);
      },
    });
    const createdAt = clock;
    await spool.write({
      message: { id: "m2", raw: Buffer.from("Subject: x\r\n\r\nx\r\n"), envelope, authResults: "{}", receivedAt: new Date() },
      jobs: [{ id: "m2.f0", kind: "forward", target: "{}", nextAttemptAt: clock }],
    });
    queue.start();
    try {
      // Walk the clock to each next attempt until the job is gone.
      await eventually(() => runs.length === 1 && queue.running === 0, 5_000, "the first attempt");
      for (let i = 0; i < 200; i++) {
        const next = spool.nextDueAt("forward");
        if (next === null) break;
        clock = next;
        const attemptsSoFar = runs.length;
        queue.poke();
        await eventually(() => runs.length > attemptsSoFar, 5_000, "an attempt");
        await eventually(() => queue.running === 0, 5_000, "the attempt to settle");
      }
      expect(spool.countJobs("forward")).toBe(0);
      expect(spool.message("m2")).toBeNull();
      expect(gaveUp).toEqual(["m2.f0:451 4.3.0 busy"]);
      const lastRun = runs[runs.length - 1];
      expect(lastRun - createdAt).toBeGreaterThanOrEqual(5 * DAY);
      // No attempt before the give-up ran later than the retry ceiling after the previous one (+ jitter).
      for (let i = 1; i < runs.length; i++) expect(runs[i] - runs[i - 1]).toBeLessThanOrEqual(OUTBOUND_LIMITS.retryMaxMs * 1.2 + 1);
      // And the first retry waited at least the base delay (minus jitter).
      expect(runs[1] - runs[0]).toBeGreaterThanOrEqual(30 * 60_000 * 0.8);
    } finally {
      await queue.stop();
      spool.close();
    }
  });
});
