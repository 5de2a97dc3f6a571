/**
 * IMAP benchmark: Sealbox against Dovecot (Debian's dovecot-imapd, started
 * from a throwaway config in a temporary directory) in the same run, with the
 * same load generator, on the same machine. Prints one JSON object.
 *
 *   npm run bench:imap -- [--clients 8] [--seconds 10] [--messages 50] [--size 4096]
 *                         [--rounds 400] [--kinds FETCH-BODY,STORE] [--store sqlite|memory] [--idle-connections 100] [--no-dovecot]
 *                         [--only persistent|login|commands]   (profiling: preload, then that run only)
 *
 * Sealbox runs in a child process (this script with `--serve`), so the load
 * generator never shares its event loop and its memory can be measured alone.
 * Each of N clients owns one mailbox, preloaded with M messages. Then:
 *
 * - phases: APPEND ×M, SELECT, FETCH 1:* (FLAGS BODY.PEEK[]), STORE, SEARCH
 *   (the figures of the first version of this benchmark);
 * - mixed, persistent sessions: each client logs in once and for S seconds
 *   runs a weighted mix of SELECT/FETCH/STORE/APPEND/EXPUNGE/SEARCH/IDLE/NOOP;
 * - mixed, login each cycle: connect, LOGIN, SELECT, FETCH, STORE, SEARCH,
 *   LOGOUT, again for S seconds;
 * - memory per connection: proportional set size of the server's processes
 *   with K extra idle sessions (logged in, INBOX selected) minus without, / K;
 * - server CPU per command in both mixed runs (user + system time of the
 *   server's processes, reaped children included): the figure least disturbed
 *   by other load on the machine;
 * - per command kind: one session runs each kind of the mix alone, one command
 *   at a time, and reports its server CPU and p50 latency — where a mixed
 *   figure's time goes, without other sessions' load in it.
 *
 * Ratios are Sealbox / Dovecot (>1 for commands/s means Sealbox is faster;
 * <1 for latency and memory means Sealbox is better). A benchmark prints
 * numbers; nothing here asserts speed.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { createImapServer } from "../storage-node/imap/server.ts";
import { createMemoryStore } from "../storage-node/store/memory-store.ts";
import { createSqliteStore } from "../storage-node/store/sqlite-store.ts";
import type { MailStore } from "../storage-node/store/types.ts";
import { cpuMilliseconds, dovecotInstalled, processTree, pssKilobytes, startDovecot } from "../test/imap/dovecot.ts";
import { TableAuthenticator, WireClient, quote, type TaggedResult } from "../test/imap/harness.ts";

interface Options {
  clients: number;
  seconds: number;
  messages: number;
  size: number;
  store: "sqlite" | "memory";
  idleConnections: number;
  dovecot: boolean;
  /** Profiling: run the preloading phases and then only this run (no memory reading). */
  only: "persistent" | "login" | "commands" | null;
  /** Commands of each kind in the per-kind run, and which kinds (all of the mix by default). */
  rounds: number;
  kinds: string[] | null;
}

interface BenchUser {
  user: string;
  password: string;
}

interface Target {
  name: string;
  port: number;
  users: BenchUser[];
  processIds(): number[];
  /** Sealbox only: a full GC before a memory reading (Dovecot frees per process). */
  collectGarbage?(): Promise<void>;
  stop(): Promise<void>;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { clients: 8, seconds: 10, messages: 50, size: 4096, store: "sqlite", idleConnections: 100, dovecot: true, only: null, rounds: 400, kinds: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--clients") options.clients = Number(argv[++i]);
    else if (arg === "--seconds") options.seconds = Number(argv[++i]);
    else if (arg === "--messages") options.messages = Number(argv[++i]);
    else if (arg === "--size") options.size = Number(argv[++i]);
    else if (arg === "--store") options.store = argv[++i] === "memory" ? "memory" : "sqlite";
    else if (arg === "--idle-connections") options.idleConnections = Number(argv[++i]);
    else if (arg === "--rounds") options.rounds = Number(argv[++i]);
    else if (arg === "--kinds") options.kinds = argv[++i].split(",");
    else if (arg === "--no-dovecot") options.dovecot = false;
    else if (arg === "--only") {
      const only = argv[++i];
      options.only = only === "login" || only === "commands" ? only : "persistent";
    }
  }
  return options;
}

function makeMessage(index: number, size: number): Buffer {
  const head = `From: Bench <bench@example.test>\r\nTo: user@example.test\r\nSubject: bench message ${index}\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench-${index}-${randomBytes(4).toString("hex")}@example.test>\r\n\r\n`;
  const line = "The quick brown fox jumps over the lazy dog 0123456789.\r\n";
  let body = "";
  while (head.length + body.length + line.length <= size) body += line;
  return Buffer.from(head + body);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(3));
}

function ratio(a: number, b: number): number | null {
  return b > 0 ? Number((a / b).toFixed(3)) : null;
}

/** A logged-in client that records per-command latency and follows EXISTS. */
class LoadClient {
  exists = 0;
  constructor(
    readonly wire: WireClient,
    private readonly latencies: Map<string, number[]>,
  ) {}

  static async open(port: number, user: BenchUser, latencies: Map<string, number[]>): Promise<LoadClient> {
    const t0 = performance.now();
    const wire = await WireClient.connect(port);
    await wire.readLine();
    const client = new LoadClient(wire, latencies);
    client.record("CONNECT", t0);
    await client.run("LOGIN", `LOGIN ${quote(user.user)} ${quote(user.password)}`);
    return client;
  }

  private record(name: string, t0: number): void {
    let list = this.latencies.get(name);
    if (!list) this.latencies.set(name, (list = []));
    list.push(performance.now() - t0);
  }

  private follow(result: TaggedResult): void {
    for (const line of result.lines) {
      const exists = /^\* (\d+) EXISTS$/.exec(line);
      if (exists) this.exists = Number(exists[1]);
      else if (/^\* \d+ EXPUNGE$/.test(line)) this.exists--;
    }
  }

  async run(name: string, text: string): Promise<TaggedResult> {
    const t0 = performance.now();
    const result = await this.wire.command(text);
    this.record(name, t0);
    if (result.status !== "OK") throw new Error(`${name} failed: ${result.tagged}`);
    this.follow(result);
    return result;
  }

  async append(body: Buffer): Promise<void> {
    const tag = this.wire.nextTag();
    const t0 = performance.now();
    this.wire.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX {${body.length}+}\r\n`), body, Buffer.from("\r\n")]));
    const result = await this.wire.readTagged(tag);
    this.record("APPEND", t0);
    if (result.status !== "OK") throw new Error(`APPEND failed: ${result.tagged}`);
    this.follow(result);
  }

  /** IDLE, then DONE as soon as the server said "+" (two round trips, no waiting). */
  async idle(): Promise<void> {
    const tag = this.wire.nextTag();
    const t0 = performance.now();
    this.wire.write(`${tag} IDLE\r\n`);
    for (;;) {
      const line = await this.wire.readLine();
      if (line === null) throw new Error("closed during IDLE");
      if (line.startsWith("+")) break;
    }
    this.wire.write("DONE\r\n");
    const result = await this.wire.readTagged(tag);
    this.record("IDLE", t0);
    if (result.status !== "OK") throw new Error(`IDLE failed: ${result.tagged}`);
    this.follow(result);
  }

  close(): void {
    this.wire.close();
  }
}

/** A deterministic generator, so both servers get the same sequence of operations. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const MIX: [string, number][] = [
  ["FETCH-HEADERS", 25],
  ["FETCH-BODY", 15],
  ["STORE", 15],
  ["SEARCH", 10],
  ["APPEND", 8],
  ["EXPUNGE", 7],
  ["SELECT", 5],
  ["IDLE", 5],
  ["NOOP", 10],
];
const MIX_TOTAL = MIX.reduce((sum, [, weight]) => sum + weight, 0);

function pick(next: () => number): string {
  let roll = next() * MIX_TOTAL;
  for (const [name, weight] of MIX) {
    roll -= weight;
    if (roll < 0) return name;
  }
  return MIX[0][0];
}

async function mixedOperation(client: LoadClient, op: string, next: () => number, options: Options, serial: number): Promise<void> {
  const n = Math.max(1, client.exists);
  const at = 1 + Math.floor(next() * n);
  switch (op) {
    case "FETCH-HEADERS": {
      const from = Math.max(1, n - 9 - Math.floor(next() * Math.max(1, n - 10)));
      await client.run(op, `FETCH ${from}:${Math.min(n, from + 9)} (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)`);
      break;
    }
    case "FETCH-BODY":
      await client.run(op, `FETCH ${at} (UID BODY.PEEK[])`);
      break;
    case "STORE":
      await client.run(op, `STORE ${at} ${next() < 0.5 ? "+" : "-"}FLAGS (\\Seen \\Flagged)`);
      break;
    case "SEARCH":
      await client.run(op, next() < 0.5 ? "SEARCH UNSEEN" : "SEARCH SUBJECT bench BODY lazy");
      break;
    case "APPEND":
      await client.append(makeMessage(serial, options.size));
      break;
    case "EXPUNGE":
      // Keeps the mailbox near its preloaded size: only expunge what APPEND added.
      if (client.exists <= options.messages) return mixedOperation(client, "NOOP", next, options, serial);
      await client.run("STORE", `STORE ${client.exists} +FLAGS.SILENT (\\Deleted)`);
      await client.run(op, "EXPUNGE");
      break;
    case "SELECT":
      await client.run(op, "SELECT INBOX");
      break;
    case "IDLE":
      await client.idle();
      break;
    default:
      await client.run("NOOP", "NOOP");
  }
}

interface MixedFigures {
  commands: number;
  commandsPerSecond: number;
  latencyMsP50: number;
  latencyMsP99: number;
  /** CPU time the server's processes used per command (user + system), the efficiency figure. */
  serverCpuMsPerCommand: number;
  perCommand: Record<string, { count: number; p50: number; p99: number }>;
}

function summarize(latencies: Map<string, number[]>, seconds: number, cpuMs: number): MixedFigures {
  const all = [...latencies.entries()].filter(([name]) => name !== "CONNECT").flatMap(([, values]) => values);
  const perCommand: MixedFigures["perCommand"] = {};
  for (const [name, values] of [...latencies.entries()].sort()) perCommand[name] = { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99) };
  return {
    commands: all.length,
    commandsPerSecond: Number((all.length / seconds).toFixed(1)),
    latencyMsP50: percentile(all, 50),
    latencyMsP99: percentile(all, 99),
    serverCpuMsPerCommand: Number((cpuMs / Math.max(1, all.length)).toFixed(4)),
    perCommand,
  };
}

async function mixedPersistent(target: Target, options: Options): Promise<MixedFigures> {
  const latencies = new Map<string, number[]>();
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  const cpuBefore = cpuMilliseconds(target.processIds());
  await Promise.all(
    target.users.map(async (user, index) => {
      const next = random(1000 + index);
      const client = await LoadClient.open(target.port, user, latencies);
      await client.run("SELECT", "SELECT INBOX");
      let serial = 0;
      while (performance.now() < deadline) await mixedOperation(client, pick(next), next, options, index * 1_000_000 + serial++);
      await client.run("LOGOUT", "LOGOUT");
      client.close();
    }),
  );
  return summarize(latencies, (performance.now() - started) / 1000, cpuMilliseconds(target.processIds()) - cpuBefore);
}

async function mixedLoginEachCycle(target: Target, options: Options): Promise<MixedFigures> {
  const latencies = new Map<string, number[]>();
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  const cpuBefore = cpuMilliseconds(target.processIds());
  await Promise.all(
    target.users.map(async (user, index) => {
      const next = random(2000 + index);
      while (performance.now() < deadline) {
        const client = await LoadClient.open(target.port, user, latencies);
        await client.run("SELECT", "SELECT INBOX");
        await mixedOperation(client, "FETCH-HEADERS", next, options, 0);
        await mixedOperation(client, "STORE", next, options, 0);
        await mixedOperation(client, "SEARCH", next, options, 0);
        await client.run("LOGOUT", "LOGOUT");
        client.close();
      }
    }),
  );
  return summarize(latencies, (performance.now() - started) / 1000, cpuMilliseconds(target.processIds()) - cpuBefore);
}

const WARM_UP_ROUNDS = 300;

/** One session, each kind of the mix alone and one at a time: server CPU and p50 latency per command. */
async function perCommandKind(target: Target, options: Options): Promise<Record<string, { cpuMs: number; p50: number }>> {
  const figures: Record<string, { cpuMs: number; p50: number }> = {};
  const next = random(3000);
  const latencies = new Map<string, number[]>();
  const client = await LoadClient.open(target.port, target.users[0], latencies);
  await client.run("SELECT", "SELECT INBOX");
  let serial = 0;
  // A first pass is not measured: it warms the JIT (and Dovecot's caches) so the figures are steady state.
  for (const [name] of MIX) for (let i = 0; i < WARM_UP_ROUNDS; i++) await mixedOperation(client, name, next, options, 9_000_000 + serial++);
  for (const [name] of MIX.filter(([kind]) => options.kinds === null || options.kinds.includes(kind))) {
    // APPEND then EXPUNGE: the second pass expunges what the first added.
    const before = new Map([...latencies].map(([k, v]) => [k, v.length]));
    const cpuBefore = cpuMilliseconds(target.processIds());
    for (let i = 0; i < options.rounds; i++) await mixedOperation(client, name, next, options, 9_000_000 + serial++);
    const cpuMs = cpuMilliseconds(target.processIds()) - cpuBefore;
    // EXPUNGE counts its STORE \Deleted too: the CPU is per EXPUNGE as the mix runs it.
    const own = (latencies.get(name) ?? []).slice(before.get(name) ?? 0);
    figures[name] = { cpuMs: Number((cpuMs / options.rounds).toFixed(3)), p50: percentile(own, 50) };
  }
  await client.run("LOGOUT", "LOGOUT");
  client.close();
  return figures;
}

/** The first version's figures: one pass of APPEND ×M, FETCH all, STORE, SEARCH per client. */
async function phases(target: Target, options: Options): Promise<Record<string, number>> {
  const started = performance.now();
  const results = await Promise.all(
    target.users.map(async (user, index) => {
      const latencies = new Map<string, number[]>();
      const client = await LoadClient.open(target.port, user, latencies);
      for (let i = 0; i < options.messages; i++) await client.append(makeMessage(index * options.messages + i, options.size));
      await client.run("SELECT", "SELECT INBOX");
      const fetch = await client.run("FETCH", `FETCH 1:${options.messages} (FLAGS BODY.PEEK[])`);
      await client.run("STORE", "STORE 1:* +FLAGS.SILENT (\\Seen)");
      await client.run("SEARCH", "SEARCH BODY lazy SUBJECT bench");
      await client.run("LOGOUT", "LOGOUT");
      client.close();
      const first = (name: string): number => latencies.get(name)?.[0] ?? 0;
      return { appendMs: latencies.get("APPEND") ?? [], fetchMs: first("FETCH"), fetchedBytes: fetch.lines.reduce((sum, line) => sum + line.length, 0), storeMs: first("STORE"), searchMs: first("SEARCH") };
    }),
  );
  const wallMs = performance.now() - started;
  const appends = results.flatMap((r) => r.appendMs);
  const fetchSeconds = results.reduce((sum, r) => sum + r.fetchMs, 0) / 1000 / results.length;
  return {
    wallMs: Number(wallMs.toFixed(1)),
    appendsPerSecond: Number((appends.length / (wallMs / 1000)).toFixed(1)),
    appendMsP50: percentile(appends, 50),
    appendMsP95: percentile(appends, 95),
    fetchAllMsP50: percentile(results.map((r) => r.fetchMs), 50),
    fetchMBps: Number((results.reduce((sum, r) => sum + r.fetchedBytes, 0) / 1e6 / results.length / fetchSeconds).toFixed(2)),
    storeAllMsP50: percentile(results.map((r) => r.storeMs), 50),
    searchMsP50: percentile(results.map((r) => r.searchMs), 50),
  };
}

async function memoryPerConnection(target: Target, count: number): Promise<{ connections: number; baselineKB: number; perConnectionKB: number }> {
  const settle = async (): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    await target.collectGarbage?.();
  };
  await settle();
  const baseline = pssKilobytes(target.processIds());
  const clients: LoadClient[] = [];
  const latencies = new Map<string, number[]>();
  for (let i = 0; i < count; i++) {
    const client = await LoadClient.open(target.port, target.users[i % target.users.length], latencies);
    await client.run("SELECT", "SELECT INBOX");
    clients.push(client);
  }
  await settle();
  const loaded = pssKilobytes(target.processIds());
  for (const client of clients) {
    await client.run("LOGOUT", "LOGOUT");
    client.close();
  }
  return { connections: count, baselineKB: baseline, perConnectionKB: Number(((loaded - baseline) / count).toFixed(1)) };
}

async function measure(target: Target, options: Options): Promise<Record<string, unknown>> {
  const phaseFigures = await phases(target, options);
  if (options.only === "persistent") return { target: target.name, phases: phaseFigures, persistent: await mixedPersistent(target, options) };
  if (options.only === "commands") return { target: target.name, perCommandKind: await perCommandKind(target, options) };
  if (options.only === "login") return { target: target.name, phases: phaseFigures, loginEachCycle: await mixedLoginEachCycle(target, options) };
  const memory = await memoryPerConnection(target, options.idleConnections);
  const persistent = await mixedPersistent(target, options);
  const loginEachCycle = await mixedLoginEachCycle(target, options);
  const perKind = await perCommandKind(target, options);
  return { target: target.name, phases: phaseFigures, persistent, loginEachCycle, memory, perCommandKind: perKind };
}

/** Child mode: one Sealbox IMAP server, told its users over IPC, answering with its port. */
async function serve(): Promise<void> {
  const { store: kind, dir, users } = await new Promise<{ store: Options["store"]; dir: string; users: BenchUser[] }>((resolve) => process.once("message", resolve as (value: unknown) => void));
  const store: MailStore = kind === "sqlite" ? createSqliteStore({ dataDir: dir }) : createMemoryStore();
  const auth = new TableAuthenticator();
  for (const u of users) auth.add(u.user, { password: u.password });
  // The benchmark opens more sessions per user and address than a real client would.
  const server = createImapServer({ store, authenticator: auth, logger: pino({ level: "silent" }), limits: { maxConnectionsPerIp: 100_000, maxConnectionsPerUser: 100_000 } });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  process.on("message", (message) => {
    if (message === "gc") {
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.("gc-done");
      return;
    }
    void server
      .close()
      .then(() => store.close())
      .then(() => process.exit(0));
  });
  process.send?.({ port });
}

async function startSealbox(options: Options, dir: string, users: BenchUser[]): Promise<Target> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--serve"], { execArgv: ["--import", "tsx", "--expose-gc", ...(process.env.SEALBOX_BENCH_SERVER_ARGS ?? "").split(" ").filter(Boolean)], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.send({ store: options.store, dir, users });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    child.once("message", resolve as (value: unknown) => void);
    child.once("exit", () => reject(new Error("sealbox server exited")));
  });
  return {
    name: `sealbox-${options.store}`,
    port,
    users,
    processIds: () => processTree(child.pid ?? 0),
    async collectGarbage() {
      const done = new Promise((resolve) => child.once("message", resolve));
      child.send("gc");
      await done;
    },
    async stop() {
      child.send("stop");
      await exited;
    },
  };
}

function compare(sealbox: Record<string, unknown>, dovecot: Record<string, unknown>): Record<string, unknown> {
  type Mixed = MixedFigures;
  const mode = (name: "persistent" | "loginEachCycle") => {
    const s = sealbox[name] as Mixed;
    const d = dovecot[name] as Mixed;
    return {
      commandsPerSecond: ratio(s.commandsPerSecond, d.commandsPerSecond),
      latencyP50: ratio(s.latencyMsP50, d.latencyMsP50),
      latencyP99: ratio(s.latencyMsP99, d.latencyMsP99),
      serverCpuPerCommand: ratio(s.serverCpuMsPerCommand, d.serverCpuMsPerCommand),
    };
  };
  const sp = sealbox.phases as Record<string, number>;
  const dp = dovecot.phases as Record<string, number>;
  return {
    persistent: mode("persistent"),
    loginEachCycle: mode("loginEachCycle"),
    memoryPerConnection: ratio((sealbox.memory as { perConnectionKB: number }).perConnectionKB, (dovecot.memory as { perConnectionKB: number }).perConnectionKB),
    serverCpuPerCommandKind: Object.fromEntries(
      Object.entries(sealbox.perCommandKind as Record<string, { cpuMs: number }>).map(([kind, s]) => [
        kind,
        ratio(s.cpuMs, (dovecot.perCommandKind as Record<string, { cpuMs: number }>)[kind]?.cpuMs ?? 0),
      ]),
    ),
    phases: {
      appendsPerSecond: ratio(sp.appendsPerSecond, dp.appendsPerSecond),
      fetchAllMsP50: ratio(sp.fetchAllMsP50, dp.fetchAllMsP50),
      searchMsP50: ratio(sp.searchMsP50, dp.searchMsP50),
    },
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(tmpdir(), "sealbox-bench-imap-"));
  const report: Record<string, unknown> = { options, node: process.version, mix: Object.fromEntries(MIX) };
  const results: Record<string, unknown>[] = [];
  try {
    const users = Array.from({ length: options.clients }, (_, i) => ({ user: `bench${i}`, password: randomBytes(12).toString("base64url") }));
    const sealbox = await startSealbox(options, path.join(dir, "sealbox"), users.map((u) => ({ ...u, user: `${u.user}@example.test` })));
    try {
      results.push(await measure(sealbox, options));
    } finally {
      await sealbox.stop();
    }
    if (options.dovecot) {
      if (!dovecotInstalled()) results.push({ target: "dovecot", skipped: "dovecot-imapd is not installed" });
      else {
        const dovecot = await startDovecot({ users });
        try {
          results.push(await measure({ name: "dovecot", port: dovecot.port, users, processIds: dovecot.processIds, stop: dovecot.stop }, options));
        } finally {
          await dovecot.stop();
        }
        if (!options.only) report.ratiosSealboxOverDovecot = compare(results[0], results[1]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  report.results = results;
  console.log(JSON.stringify(report, null, 2));
}

if (process.argv.includes("--serve")) await serve();
else await main();
