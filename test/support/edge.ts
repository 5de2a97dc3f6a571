/**
 * Test harness: the real edge worker in workerd, through wrangler's
 * `unstable_startWorker`, with local D1, R2 and Durable Objects persisted in a
 * directory of the caller's choice.
 *
 * Guarantees:
 * - The D1 migrations in worker/migrations are applied to the persist dir before
 *   the worker starts (idempotent: already applied migrations are skipped).
 * - Stopping and starting again with the same `persistDir` and `port` keeps all
 *   data and the URL (the tunnel tests restart the edge under a connected node).
 * - Listens on 127.0.0.1 only. No Cloudflare account, no metrics, no prompts.
 * - A fresh temporary persist dir is made when none is given. `stop()` never
 *   deletes it (a restart may reuse it); callers remove it when they are done.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";
import { freePort } from "./ports.ts";

export { freePort };

export interface StartEdgeOptions {
  /** Directory for local D1/R2/DO state; a fresh temp dir when omitted. */
  persistDir?: string;
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Value of the ADMIN_TOKEN binding; random when omitted. */
  adminToken?: string;
  /** Accept http:// and loopback webhook URLs (default true: tests deliver to 127.0.0.1). */
  allowLoopbackWebhooks?: boolean;
}

export interface EdgeHandle {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  adminToken: string;
  persistDir: string;
  stop(): Promise<void>;
}

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const wranglerConfig = join(repoRoot, "wrangler.toml");
const wranglerBin = join(repoRoot, "node_modules", ".bin", "wrangler");

/** Environment for wrangler subprocesses: never prompt, never phone home. */
function wranglerEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CI: "true",
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_LOG: "error",
    NO_COLOR: "1",
  };
}

/** A port that was free a moment ago on 127.0.0.1. */
/** Applies worker/migrations to the local D1 under `persistDir`. */
export async function applyMigrations(persistDir: string): Promise<void> {
  const args = ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir, "--config", wranglerConfig];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(wranglerBin, args, { cwd: repoRoot, env: wranglerEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`wrangler d1 migrations apply exited with ${String(code)}:\n${output}`));
    });
  });
}

export async function startEdge(options: StartEdgeOptions = {}): Promise<EdgeHandle> {
  const persistDir = options.persistDir ?? (await mkdtemp(join(tmpdir(), "sealbox-edge-")));
  const adminToken = options.adminToken ?? randomBytes(24).toString("base64url");
  const port = options.port ?? (await freePort());

  await applyMigrations(persistDir);

  process.env.WRANGLER_SEND_METRICS = "false";
  const worker = await unstable_startWorker({
    config: wranglerConfig,
    // Only the injected bindings: never pick up a developer's .dev.vars.
    envFiles: [],
    sendMetrics: false,
    bindings: {
      ADMIN_TOKEN: { type: "plain_text", value: adminToken },
      ALLOW_LOOPBACK_WEBHOOKS: { type: "plain_text", value: String(options.allowLoopbackWebhooks ?? true) },
    },
    dev: {
      remote: false,
      persist: persistDir,
      server: { hostname: "127.0.0.1", port },
      inspector: false,
      watch: false,
      liveReload: false,
      logLevel: "error",
      enableContainers: false,
    },
  });
  try {
    await worker.ready;
  } catch (error) {
    await worker.dispose();
    throw error;
  }
  const url = (await worker.url).origin;

  let stopped = false;
  return {
    url,
    port: Number(new URL(url).port),
    adminToken,
    persistDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await worker.dispose();
    },
  };
}
