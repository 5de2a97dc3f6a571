/**
 * `npm start`: the whole of Sealbox on this machine.
 *
 * 1. the edge in `wrangler dev` (workerd, local D1/R2/Durable Objects persisted
 *    under .wrangler/state), with D1 migrations applied first;
 * 2. a storage node registered with the edge (its signing key kept in
 *    .sealbox/node.json) and connected through the tunnel;
 * 3. demo data, created idempotently: an account, the domain example.test and
 *    the alias demo@example.test with IMAP on and a generated password, written
 *    to .sealbox/demo.json and printed.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops the node gracefully, then the edge. Running
 * it again reuses everything it made. Ports and folders can be moved with
 * environment variables (README, "Configuration"); the tests use that to run it
 * in isolation.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { ApiClient, ApiError } from "../cli/api-client.ts";
import { generateNodeKeyPair } from "../shared/tunnel/handshake.ts";
import { randomBytes } from "node:crypto";
import { DEFAULT_SETTINGS } from "../storage-node/settings.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const env = process.env;
const stateDir = path.resolve(root, env.SEALBOX_STATE_DIR ?? ".sealbox");
const persistDir = path.resolve(root, env.SEALBOX_WRANGLER_PERSIST ?? ".wrangler/state");
const edgePort = Number(env.SEALBOX_EDGE_PORT ?? 8787);
const edgeUrl = `http://127.0.0.1:${edgePort}`;
const wranglerBin = path.join(root, "node_modules", ".bin", "wrangler");
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);
const ports = {
  imap: port("SEALBOX_IMAP_PORT", DEFAULT_SETTINGS.imapPort),
  imaps: port("SEALBOX_IMAPS_PORT", DEFAULT_SETTINGS.imapTlsPort),
  pop3: port("SEALBOX_POP3_PORT", DEFAULT_SETTINGS.pop3Port),
  pop3s: port("SEALBOX_POP3S_PORT", DEFAULT_SETTINGS.pop3TlsPort),
  mx: port("SEALBOX_MX_PORT", DEFAULT_SETTINGS.mxPort),
  submission: port("SEALBOX_SUBMISSION_PORT", DEFAULT_SETTINGS.submissionPort),
  submissions: port("SEALBOX_SUBMISSIONS_PORT", DEFAULT_SETTINGS.submissionTlsPort),
};

const DEMO = { email: "demo-owner@example.test", domain: "example.test", address: "demo@example.test", label: "demo" };

const children: ChildProcess[] = [];

function say(line: string): void {
  process.stdout.write(`[sealbox] ${line}\n`);
}

function wranglerEnv(): NodeJS.ProcessEnv {
  return { ...env, WRANGLER_SEND_METRICS: "false", CI: env.CI ?? "true", NO_COLOR: "1" };
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch {
    return null;
  }
}

async function writeSecretJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env: wranglerEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(command)} ${args.join(" ")} failed (${code}):\n${output}`))));
  });
}

/** Prefixes a child's output lines so the two streams stay readable. */
function pipeLines(child: ChildProcess, prefix: string, onLine?: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      onLine?.(line);
      if (env.SEALBOX_QUIET !== "1") process.stdout.write(`${prefix} ${line}\n`);
    });
  }
}

async function waitForEdge(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${edgeUrl}/v1/openapi.json`);
      if (response.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error("the edge did not come up within 120 s");
}

async function ensureAdminToken(): Promise<string> {
  const file = path.join(stateDir, "admin.json");
  let admin = await readJson<{ adminToken: string }>(file);
  if (!admin?.adminToken) {
    admin = { adminToken: randomBytes(32).toString("base64url") };
    await writeSecretJson(file, admin);
  }
  return admin.adminToken;
}

interface LocalNode {
  nodeId: string;
  secretKey: string;
  /** Key of the node's spool database (forward/webhook queues, sealed inbound mail). */
  spoolKey: string;
}

async function ensureNode(api: ApiClient, adminToken: string): Promise<LocalNode> {
  const file = path.join(stateDir, "node.json");
  const saved = await readJson<Partial<LocalNode>>(file);
  // The spool key outlives a re-registration: the spool database on disk needs it.
  const spoolKey = saved?.spoolKey ?? randomBytes(32).toString("base64");
  if (saved?.nodeId && saved.secretKey) {
    const { nodes } = await api.listNodes(adminToken);
    if (nodes.some((n) => n.id === saved.nodeId)) {
      const node = { nodeId: saved.nodeId, secretKey: saved.secretKey, spoolKey };
      if (!saved.spoolKey) await writeSecretJson(file, node);
      return node;
    }
  }
  const keys = generateNodeKeyPair();
  const { id } = await api.registerNode(adminToken, "local node", keys.publicKey);
  const node = { nodeId: id, secretKey: keys.secretKey, spoolKey };
  await writeSecretJson(file, node);
  say(`registered storage node ${id}`);
  return node;
}

interface DemoState {
  email: string;
  accountPassword: string;
  apiToken: string;
  password: string;
  passwordId: string;
}

async function ensureDemo(api: ApiClient): Promise<DemoState> {
  const file = path.join(stateDir, "demo-account.json");
  let state = await readJson<DemoState>(file);
  if (state) {
    try {
      api.token = state.apiToken;
      const { passwords } = await api.listPasswords(DEMO.address);
      if (passwords.some((p) => p.id === state!.passwordId)) return state;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 0) throw error;
      // The edge's state was reset or the demo changed: rebuild below.
    }
  }
  let accountPassword: string;
  try {
    const account = await api.createAccount(DEMO.email);
    api.token = account.apiToken;
    accountPassword = account.password;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 409 || !state) throw error;
    // The account survived but our token did not: log in again.
    api.token = (await api.login(state.email, state.accountPassword)).apiToken;
    accountPassword = state.accountPassword;
  }
  try {
    await api.addDomain(DEMO.domain);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 409) throw error;
  }
  try {
    await api.createAlias(DEMO.address, { imap: true });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 409) throw error;
  }
  const existing = state?.password;
  let created;
  try {
    created = await api.generatePassword(DEMO.address, DEMO.label, existing);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 0) throw error;
    throw new Error(`cannot generate the demo password (${error.code}); delete ${stateDir} and .wrangler/ to start from scratch`);
  }
  state = { email: DEMO.email, accountPassword, apiToken: api.token!, password: created.password, passwordId: created.id };
  await writeSecretJson(file, state);
  return state;
}

async function startNodeProcess(node: LocalNode): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "storage-node", "main.ts")], {
    cwd: root,
    env: {
      ...env,
      SEALBOX_NODE_ID: node.nodeId,
      SEALBOX_NODE_SECRET_KEY: node.secretKey,
      SEALBOX_EDGE_URL: edgeUrl,
      SEALBOX_DATA_DIR: path.join(stateDir, "data"),
      SEALBOX_IMAP_PORT: String(ports.imap),
      SEALBOX_IMAPS_PORT: String(ports.imaps),
      SEALBOX_MX_PORT: String(ports.mx),
      SEALBOX_SPOOL_KEY: node.spoolKey,
      SEALBOX_ALLOW_PRIVATE_WEBHOOKS: env.SEALBOX_ALLOW_PRIVATE_WEBHOOKS ?? "true",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    pipeLines(child, "[node]", (line) => {
      if (line.includes('"event":"ready"')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the storage node exited with ${code}`)));
  });
  return child;
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say("stopping…");
    const [edge, ...rest] = children;
    for (const child of rest.reverse()) await stopChild(child, "SIGTERM");
    if (edge) await stopChild(edge, "SIGTERM");
    say("stopped");
  }
  process.exit(code);
}

async function main(): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const adminToken = await ensureAdminToken();

  say("applying D1 migrations");
  await run(wranglerBin, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir]);

  say(`starting the edge (wrangler dev) on ${edgeUrl}`);
  const varsFile = path.join(stateDir, "edge.vars");
  // Local development: webhooks may target a receiver on this machine.
  await writeFile(varsFile, `ADMIN_TOKEN=${adminToken}\nALLOW_LOOPBACK_WEBHOOKS=true\n`, { mode: 0o600 });
  const edge = spawn(
    wranglerBin,
    ["dev", "--ip", "127.0.0.1", "--port", String(edgePort), "--persist-to", persistDir, "--env-file", varsFile, "--show-interactive-dev-session=false", "--inspector-port", "0"],
    { cwd: root, env: wranglerEnv(), stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(edge);
  pipeLines(edge, "[edge]");
  await waitForEdge(edge);

  const api = new ApiClient({ edgeUrl });
  const node = await ensureNode(api, adminToken);
  const demo = await ensureDemo(api);

  say("starting the storage node");
  await startNodeProcess(node);

  const demoFile = {
    edgeUrl,
    apiToken: demo.apiToken,
    address: DEMO.address,
    password: demo.password,
    imap: { host: "127.0.0.1", port: ports.imap, tlsPort: ports.imaps },
    pop3: { host: "127.0.0.1", port: ports.pop3, tlsPort: ports.pop3s },
    smtp: { host: "127.0.0.1", mxPort: ports.mx, submissionPort: ports.submission, submissionTlsPort: ports.submissions },
  };
  await writeSecretJson(path.join(stateDir, "demo.json"), demoFile);

  say("Sealbox is running.");
  process.stdout.write(
    [
      "",
      `  Edge (HTTP API)   ${edgeUrl}   (OpenAPI: ${edgeUrl}/v1/openapi.json)`,
      `  IMAP              127.0.0.1:${ports.imap} (STARTTLS)   127.0.0.1:${ports.imaps} (TLS, self-signed)`,
      `  MX (inbound SMTP) 127.0.0.1:${ports.mx}`,
      `  Demo address      ${DEMO.address}`,
      `  Demo password     ${demo.password}`,
      `  API token         ${demo.apiToken}`,
      `  Saved to          ${path.relative(root, path.join(stateDir, "demo.json")) || path.join(stateDir, "demo.json")}`,
      "",
      `  Try:  curl -v imap://127.0.0.1:${ports.imap}/ --user '${DEMO.address}:${demo.password}'`,
      `        swaks --server 127.0.0.1:${ports.mx} --to ${DEMO.address} --from someone@example.org`,
      "  Stop: Ctrl-C",
      "",
    ].join("\n") + "\n",
  );
  process.stdout.write(`${JSON.stringify({ event: "sealbox-ready", demo: path.join(stateDir, "demo.json") })}\n`);

  for (const child of children) {
    child.once("exit", (code) => {
      if (!stopping) {
        say(`a component exited unexpectedly (${code}); stopping the rest`);
        void shutdown(1);
      }
    });
  }
}

process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
if (!existsSync(wranglerBin)) {
  process.stderr.write("wrangler is not installed: run `npm install` first\n");
  process.exit(1);
}
main().catch((error: unknown) => {
  process.stderr.write(`[sealbox] start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  void shutdown(1);
});
