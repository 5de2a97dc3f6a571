/**
 * Mailbox store benchmark: `npm run bench:store` (or `-- --messages=N`, or
 * SEALBOX_BENCH_MESSAGES=N). Prints one JSON object with, for the encrypted
 * store and for the same code with encryption off (an internal option used only
 * here), appends/s, BODY[] MB/s, flag stores/s, open-to-first-query ms and
 * SEARCH TEXT ms on a mailbox of N messages (default 100,000), plus the
 * encrypted/plain ratios. Numbers, not assertions: run it on demand.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createSqliteStoreInternal } from "../storage-node/store/sqlite-store.ts";
import type { Mailbox } from "../storage-node/store/types.ts";

const arg = process.argv.find((a) => a.startsWith("--messages="));
const N = Number(arg?.split("=")[1] ?? process.env.SEALBOX_BENCH_MESSAGES ?? 100_000);
// As many appends in flight as one group commit takes (STORE_GROUP_COMMIT_MAX_OPS).
const CONCURRENCY = 256;
const WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november"];

function message(i: number): Uint8Array {
  const words = Array.from({ length: 120 }, (_, k) => WORDS[(i * 7 + k * 13) % WORDS.length]).join(" ");
  const needle = i % 1000 === 0 ? " zebracrossing " : " ";
  return new TextEncoder().encode(
    `From: Sender ${i % 97} <s${i % 97}@example.org>\r\nTo: rcpt@example.net\r\nSubject: Benchmark message ${i}\r\n` +
      `Date: Mon, 02 Jan 2023 10:00:00 +0000\r\nMessage-ID: <bench-${i}@example.org>\r\nContent-Type: text/plain\r\n\r\n${words}${needle}${words}\r\n`,
  );
}

interface Figures {
  appendsPerSecond: number;
  bodyMBPerSecond: number;
  flagStoresPerSecond: number;
  openToFirstQueryMs: number;
  searchTextMs: number;
}

async function run(plaintext: boolean): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "sealbox-bench-"));
  const id = "bench" + randomBytes(6).toString("hex");
  const key = randomBytes(32);
  try {
    // The default pool (one worker per core, as the node runs it): small appends are
    // prepared on every worker while the owner writes.
    const store = createSqliteStoreInternal({ dataDir: dir, plaintextForBenchmark: plaintext });
    let mb: Mailbox = await store.open({ id, key, create: true });

    let t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < N) await mb.append("INBOX", message(next++));
      }),
    );
    const appendsPerSecond = N / ((performance.now() - t) / 1000);

    // BODY[] throughput over a sample of messages plus one 20 MB message.
    const big = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = 0x41 + (i % 26);
    big.write("Subject: big\r\n\r\n");
    const bigUid = (await mb.append("INBOX", big)).uid;
    t = performance.now();
    let bytes = 0;
    const sample = Math.min(N, 2000);
    for await (const m of mb.fetch("INBOX", [{ start: 1, end: sample }, { start: bigUid, end: bigUid }], { sections: [{ part: [], specifier: "" }] }))
      for await (const c of m.sections![0].chunks) bytes += c.byteLength;
    const bodyMBPerSecond = bytes / 1e6 / ((performance.now() - t) / 1000);

    const stores = Math.min(N, 5000);
    t = performance.now();
    let k = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (k < stores) {
          const uid = 1 + ((k++ * 7919) % N);
          await mb.storeFlags("INBOX", [{ start: uid, end: uid }], { op: "add", flags: ["\\Seen"] });
        }
      }),
    );
    const flagStoresPerSecond = stores / ((performance.now() - t) / 1000);

    // Reopen on the running pool: measures opening the file (key, pragmas,
    // header check, schema check, generation bump) and the first query.
    await mb.close();
    t = performance.now();
    mb = await store.open({ id, key });
    await mb.status("INBOX");
    const openToFirstQueryMs = performance.now() - t;

    t = performance.now();
    const hits = await mb.search("INBOX", { type: "text", value: "bracrossin" });
    const searchTextMs = performance.now() - t;
    if (hits.length !== Math.ceil(N / 1000)) throw new Error(`search found ${hits.length}, expected ${Math.ceil(N / 1000)}`);
    await mb.close();
    await store.close();
    return { appendsPerSecond, bodyMBPerSecond, flagStoresPerSecond, openToFirstQueryMs, searchTextMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const encrypted = await run(false);
const plain = await run(true);
const round = (x: number) => Math.round(x * 100) / 100;
const ratios = Object.fromEntries(Object.keys(encrypted).map((k) => [k, round(encrypted[k as keyof Figures] / plain[k as keyof Figures])]));
const r = (f: Figures) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, round(v)]));
console.log(JSON.stringify({ messages: N, encrypted: r(encrypted), plain: r(plain), ratiosEncryptedOverPlain: ratios }, null, 2));
