/**
 * IMAP benchmark: N concurrent clients, each with its own mailbox, run
 * LOGIN → APPEND ×M → SELECT → FETCH bodies → STORE → SEARCH → LOGOUT against
 * the Sealbox IMAP server (SQLite store, in this process) and against Dovecot
 * (Debian's dovecot-imapd, started from a throwaway config in a temporary
 * directory in the same run). Prints one JSON object with the figures.
 *
 *   npm run bench:imap -- [--clients 8] [--messages 50] [--size 4096] [--store sqlite|memory] [--no-dovecot]
 *
 * A benchmark prints numbers; nothing here asserts speed.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { createImapServer } from "../storage-node/imap/server.ts";
import { createMemoryStore } from "../storage-node/store/memory-store.ts";
import { createSqliteStore } from "../storage-node/store/sqlite-store.ts";
import type { MailStore } from "../storage-node/store/types.ts";
import { TableAuthenticator, WireClient, quote } from "../test/imap/harness.ts";

interface Options {
  clients: number;
  messages: number;
  size: number;
  store: "sqlite" | "memory";
  dovecot: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { clients: 8, messages: 50, size: 4096, store: "sqlite", dovecot: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--clients") options.clients = Number(argv[++i]);
    else if (arg === "--messages") options.messages = Number(argv[++i]);
    else if (arg === "--size") options.size = Number(argv[++i]);
    else if (arg === "--store") options.store = argv[++i] === "memory" ? "memory" : "sqlite";
    else if (arg === "--no-dovecot") options.dovecot = false;
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

async function expectOk(client: WireClient, text: string): Promise<void> {
  const result = await client.command(text);
  if (result.status !== "OK") throw new Error(`${text.split(" ")[0]} failed: ${result.tagged}`);
}

interface ClientFigures {
  appendMs: number[];
  sessionMs: number;
  fetchMs: number;
  fetchedBytes: number;
  searchMs: number;
  storeMs: number;
}

async function runClient(port: number, user: string, password: string, options: Options, offset: number): Promise<ClientFigures> {
  const started = performance.now();
  const client = await WireClient.connect(port);
  await client.readLine();
  await expectOk(client, `LOGIN ${quote(user)} ${quote(password)}`);
  const appendMs: number[] = [];
  for (let i = 0; i < options.messages; i++) {
    const body = makeMessage(offset + i, options.size);
    const tag = client.nextTag();
    const t0 = performance.now();
    client.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX {${body.length}+}\r\n`), body, Buffer.from("\r\n")]));
    const result = await client.readTagged(tag);
    if (result.status !== "OK") throw new Error(`APPEND failed: ${result.tagged}`);
    appendMs.push(performance.now() - t0);
  }
  await expectOk(client, "SELECT INBOX");
  let t0 = performance.now();
  const fetch = await client.command("FETCH 1:* (FLAGS BODY.PEEK[])");
  const fetchMs = performance.now() - t0;
  const fetchedBytes = fetch.lines.reduce((sum, line) => sum + line.length, 0);
  t0 = performance.now();
  await expectOk(client, "STORE 1:* +FLAGS.SILENT (\\Seen)");
  const storeMs = performance.now() - t0;
  t0 = performance.now();
  await expectOk(client, "SEARCH BODY lazy SUBJECT bench");
  const searchMs = performance.now() - t0;
  await expectOk(client, "LOGOUT");
  client.close();
  return { appendMs, sessionMs: performance.now() - started, fetchMs, fetchedBytes, searchMs, storeMs };
}

async function runTarget(name: string, port: number, users: { user: string; password: string }[], options: Options): Promise<Record<string, unknown>> {
  const started = performance.now();
  const results = await Promise.all(users.map((u, index) => runClient(port, u.user, u.password, options, index * options.messages)));
  const wallMs = performance.now() - started;
  const appends = results.flatMap((r) => r.appendMs);
  const fetchedBytes = results.reduce((sum, r) => sum + r.fetchedBytes, 0);
  return {
    target: name,
    wallMs: Number(wallMs.toFixed(1)),
    appendsPerSecond: Number((appends.length / (wallMs / 1000)).toFixed(1)),
    appendMsP50: percentile(appends, 50),
    appendMsP95: percentile(appends, 95),
    fetchAllMsP50: percentile(results.map((r) => r.fetchMs), 50),
    fetchMBps: Number((fetchedBytes / 1e6 / (results.reduce((s, r) => s + r.fetchMs, 0) / 1000 / results.length)).toFixed(2)),
    storeAllMsP50: percentile(results.map((r) => r.storeMs), 50),
    searchMsP50: percentile(results.map((r) => r.searchMs), 50),
    sessionMsP95: percentile(results.map((r) => r.sessionMs), 95),
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function startDovecot(dir: string, users: { user: string; password: string }[]): Promise<{ port: number; process: ChildProcess }> {
  const port = await freePort();
  const uid = Number(execFileSync("id", ["-u", "nobody"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "nobody"]).toString().trim());
  mkdirSync(path.join(dir, "mail"), { recursive: true });
  chmodSync(dir, 0o755);
  chownSync(path.join(dir, "mail"), uid, gid);
  writeFileSync(
    path.join(dir, "passwd"),
    users.map((u) => `${u.user}:{PLAIN}${u.password}:${uid}:${gid}::${dir}/mail/${u.user}::userdb_mail=maildir:${dir}/mail/${u.user}/Maildir\n`).join(""),
  );
  const conf = path.join(dir, "dovecot.conf");
  writeFileSync(
    conf,
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      "protocols = imap",
      "listen = 127.0.0.1",
      "ssl = no",
      "disable_plaintext_auth = no",
      "auth_mechanisms = plain",
      "default_internal_user = dovecot",
      "default_login_user = dovenull",
      "mail_fsync = always", // Sealbox makes every acknowledged write durable; compare like with like
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u ${dir}/passwd\n}`,
      `userdb {\n  driver = passwd-file\n  args = username_format=%u ${dir}/passwd\n}`,
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}`,
      `service stats {\n  unix_listener stats-reader {\n    mode = 0600\n  }\n  unix_listener stats-writer {\n    mode = 0666\n  }\n}`,
      "",
    ].join("\n"),
  );
  const child = spawn("/usr/sbin/dovecot", ["-F", "-c", conf], { stdio: ["ignore", "ignore", "inherit"] });
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const probe = await WireClient.connect(port);
      const greeting = await probe.readLine();
      probe.close();
      if (greeting?.startsWith("* OK")) return { port, process: child };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGTERM");
  throw new Error("dovecot did not start");
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(tmpdir(), "sealbox-bench-imap-"));
  // Dovecot's auth and mail processes run as unprivileged users and must reach their files.
  chmodSync(dir, 0o755);
  const report: Record<string, unknown> = { options, node: process.version, results: [] as unknown[] };
  const results = report.results as unknown[];
  try {
    const store: MailStore = options.store === "sqlite" ? createSqliteStore({ dataDir: path.join(dir, "sealbox") }) : createMemoryStore();
    const auth = new TableAuthenticator();
    const users = Array.from({ length: options.clients }, (_, i) => {
      const user = auth.add(`bench${i}@example.test`);
      return { user: user.address, password: user.password };
    });
    const server = createImapServer({ store, authenticator: auth, logger: pino({ level: "silent" }) });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    results.push(await runTarget(`sealbox-${options.store}`, port, users, options));
    await server.close();
    await store.close();

    if (options.dovecot) {
      if (!existsSync("/usr/sbin/dovecot")) results.push({ target: "dovecot", skipped: "dovecot-imapd is not installed" });
      else {
        const dovecotUsers = users.map((u, i) => ({ user: `bench${i}`, password: u.password }));
        const dovecot = await startDovecot(path.join(dir, "dovecot"), dovecotUsers);
        try {
          results.push(await runTarget("dovecot", dovecot.port, dovecotUsers, options));
        } finally {
          dovecot.process.kill("SIGTERM");
          await new Promise((resolve) => dovecot.process.once("exit", resolve));
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(report, null, 2));
}

await main();
