/**
 * Test harness: a real storage-node process (`storage-node/main.ts` under tsx),
 * on free loopback ports, with its own data directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort } from "./edge.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface NodeProcessOptions {
  edgeUrl: string;
  nodeId: string;
  secretKey: string;
  dataDir?: string;
  env?: Record<string, string>;
}

export interface NodeProcessHandle {
  child: ChildProcess;
  dataDir: string;
  imapPort: number;
  imapTlsPort: number;
  /** Port of the peer-link server (other nodes relay mail here). */
  peerPort: number;
  /** Every log line the node printed, parsed. */
  logs: Record<string, unknown>[];
  /** Raw output, to scan for secrets. */
  output: () => string;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcessHandle> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), "sealbox-node-")));
  const imapPort = await freePort();
  const imapTlsPort = await freePort();
  const peerPort = options.env?.SEALBOX_PEER_PORT ? Number(options.env.SEALBOX_PEER_PORT) : await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "storage-node", "main.ts")], {
    cwd: root,
    env: {
      ...process.env,
      SEALBOX_NODE_ID: options.nodeId,
      SEALBOX_NODE_SECRET_KEY: options.secretKey,
      SEALBOX_EDGE_URL: options.edgeUrl,
      SEALBOX_DATA_DIR: dataDir,
      SEALBOX_IMAP_PORT: String(imapPort),
      SEALBOX_IMAPS_PORT: String(imapTlsPort),
      SEALBOX_PEER_PORT: String(peerPort),
      SEALBOX_AUTH_FAILURE_DELAY_MS: "100",
      SEALBOX_LOG_LEVEL: "debug",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let raw = "";
  const ready = new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => {
        raw += line + "\n";
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.event === "ready") resolve();
        } catch {
          // non-JSON output (stderr messages) stays in `raw`
        }
      });
    }
    child.once("exit", (code) => reject(new Error(`storage node exited early (${code}):\n${raw}`)));
  });
  const timeout = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    dataDir,
    imapPort,
    imapTlsPort,
    peerPort,
    logs,
    output: () => raw,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
