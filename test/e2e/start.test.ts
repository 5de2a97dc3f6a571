/**
 * `npm start` as a new user runs it: wrangler dev + a storage node + demo data,
 * then an IMAP login with the printed demo password; then stopped with Ctrl-C
 * (SIGINT) and started again over the same state, which must just work.
 * Runs in its own state folders and ports so it never touches a developer's.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/edge.ts";
import { curlImap } from "../support/curl.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

interface DemoFile {
  edgeUrl: string;
  apiToken: string;
  address: string;
  password: string;
  imap: { host: string; port: number; tlsPort: number };
  pop3: { host: string; port: number; tlsPort: number };
  smtp: { host: string; mxPort: number; submissionPort: number; submissionTlsPort: number };
}

async function startStack(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "scripts", "start.ts")], {
    cwd: root,
    env: { ...process.env, ...env, SEALBOX_QUIET: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => {
        output += line + "\n";
        if (line.includes('"event":"sealbox-ready"')) resolve();
      });
    }
    void exited.then((code) => reject(new Error(`npm start exited early (${code})`)));
  });
  return { child, output: () => output, exited };
}

describe("npm start", () => {
  let dir = "";
  let current: ChildProcess | null = null;

  afterAll(async () => {
    if (current && current.exitCode === null) current.kill("SIGKILL");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("brings up edge, node and demo data, and can be stopped and started again", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "sealbox-start-"));
    const env = {
      SEALBOX_STATE_DIR: path.join(dir, "state"),
      SEALBOX_WRANGLER_PERSIST: path.join(dir, "wrangler"),
      SEALBOX_EDGE_PORT: String(await freePort()),
      SEALBOX_IMAP_PORT: String(await freePort()),
      SEALBOX_IMAPS_PORT: String(await freePort()),
      SEALBOX_MX_PORT: String(await freePort()),
      SEALBOX_PEER_PORT: String(await freePort()),
    };

    const first = await startStack(env);
    current = first.child;
    const demo = JSON.parse(await readFile(path.join(env.SEALBOX_STATE_DIR, "demo.json"), "utf8")) as DemoFile;
    expect(Object.keys(demo).sort()).toEqual(["address", "apiToken", "edgeUrl", "imap", "password", "pop3", "smtp"]);
    expect(demo.address).toBe("demo@example.test");
    expect(demo.imap.port).toBe(Number(env.SEALBOX_IMAP_PORT));
    const login = await curlImap(`imap://127.0.0.1:${demo.imap.port}/`, demo.address, demo.password);
    expect(login.stderr).toBe("");
    expect(login.stdout).toMatch(/INBOX/);

    // The MX delivers to the demo alias; the message reads back over IMAP.
    const marker = `start-test-${Date.now()}`;
    const swaks = await run("swaks", ["--server", `127.0.0.1:${demo.smtp.mxPort}`, "--to", demo.address, "--from", "sender@example.org", "--header", `Subject: ${marker}`, "--body", "hello from the MX test"]);
    expect(swaks.stdout).toMatch(/<- {2}250 /);
    const fetched = await curlImap(`imap://127.0.0.1:${demo.imap.port}/INBOX;MAILINDEX=1`, demo.address, demo.password);
    expect(fetched.stdout).toContain(`Subject: ${marker}`);
    expect(fetched.stdout).toContain("hello from the MX test");

    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);

    const second = await startStack(env);
    current = second.child;
    const again = JSON.parse(await readFile(path.join(env.SEALBOX_STATE_DIR, "demo.json"), "utf8")) as DemoFile;
    expect(again.password).toBe(demo.password);
    const relogin = await curlImap(`imap://127.0.0.1:${again.imap.port}/`, again.address, again.password);
    expect(relogin.stderr).toBe("");
    expect(relogin.stdout).toMatch(/INBOX/);
    const kept = await curlImap(`imap://127.0.0.1:${again.imap.port}/INBOX;MAILINDEX=1`, again.address, again.password);
    expect(kept.stdout).toContain(`Subject: ${marker}`);
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  }, 300_000); // two full starts of wrangler dev + a node: minutes on a busy 2-core machine
});
