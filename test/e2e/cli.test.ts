/**
 * The `sealbox` command against the real edge: the admin work a person or a
 * script does, with --json output parsed as a script would.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { uniqueName } from "../support/api.ts";

const exec = promisify(execFile);
const bin = fileURLToPath(new URL("../../bin/sealbox.js", import.meta.url));

describe("sealbox CLI", () => {
  let edge: EdgeHandle;
  let stateDir: string;

  async function sealbox(...args: string[]): Promise<unknown> {
    const { stdout } = await exec(process.execPath, [bin, "--json", "--edge", edge.url, "--state-dir", stateDir, ...args], {
      env: { ...process.env, SEALBOX_ADMIN_TOKEN: edge.adminToken },
    });
    return JSON.parse(stdout);
  }

  async function sealboxFails(...args: string[]): Promise<{ code: number; stderr: string }> {
    try {
      await exec(process.execPath, [bin, "--edge", edge.url, "--state-dir", stateDir, ...args]);
    } catch (error) {
      const e = error as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
    throw new Error("command succeeded unexpectedly");
  }

  beforeAll(async () => {
    edge = await startEdge();
    stateDir = await mkdtemp(path.join(tmpdir(), "sealbox-cli-"));
  });

  afterAll(async () => {
    await edge?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it("creates an account, a domain, an alias and passwords; lists and revokes", async () => {
    const account = (await sealbox("account", "create", `${uniqueName("cli")}@example.test`)) as { apiToken: string };
    expect(account.apiToken).toMatch(/^sbx_/);
    const saved = JSON.parse(await readFile(path.join(stateDir, "cli.json"), "utf8")) as { apiToken: string };
    expect(saved.apiToken).toBe(account.apiToken);

    const domain = `${uniqueName("cli")}.example.test`;
    expect(await sealbox("domain", "add", domain)).toMatchObject({ name: domain });
    const alias = (await sealbox("alias", "create", `bob@${domain}`)) as { address: string; imap: boolean };
    expect(alias).toMatchObject({ address: `bob@${domain}`, imap: true });
    const listed = (await sealbox("alias", "list", domain)) as { aliases: { address: string }[] };
    expect(listed.aliases.map((a) => a.address)).toEqual([`bob@${domain}`]);

    const laptop = (await sealbox("password", "generate", `bob@${domain}`, "--label", "laptop")) as { password: string; id: string };
    expect(laptop.password.length).toBeGreaterThanOrEqual(20);
    const phone = (await sealbox("password", "generate", `bob@${domain}`, "--label", "phone", "--existing", laptop.password)) as { id: string };
    const passwords = (await sealbox("password", "list", `bob@${domain}`)) as { passwords: { id: string; label: string }[] };
    expect(passwords.passwords.map((p) => p.label).sort()).toEqual(["laptop", "phone"]);
    expect(JSON.stringify(passwords)).not.toContain(laptop.password);

    await sealbox("password", "revoke", `bob@${domain}`, phone.id);
    const after = (await sealbox("password", "list", `bob@${domain}`)) as { passwords: { id: string }[] };
    expect(after.passwords.map((p) => p.id)).toEqual([laptop.id]);

    await sealbox("alias", "delete", `bob@${domain}`);
    const empty = (await sealbox("alias", "list", domain)) as { aliases: unknown[] };
    expect(empty.aliases).toEqual([]);
  });

  it("registers a node with the admin token and writes its settings file", async () => {
    const out = path.join(stateDir, "node-settings.json");
    const registered = (await sealbox("node", "register", "--label", "cli node", "--out", out)) as { id: string; keyFile: string };
    const file = JSON.parse(await readFile(out, "utf8")) as { nodeId: string; nodeSecretKey: string };
    expect(file.nodeId).toBe(registered.id);
    expect(file.nodeSecretKey.length).toBeGreaterThan(40);
    const nodes = (await sealbox("node", "list")) as { nodes: { id: string }[] };
    expect(nodes.nodes.map((n) => n.id)).toContain(registered.id);
  });

  it("explains a bad command and an API error without a stack trace", async () => {
    const unknown = await sealboxFails("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const unauthorised = await sealboxFails("--token", "sbx_wrong", "domain", "list");
    expect(unauthorised.code).toBe(1);
    expect(unauthorised.stderr).toMatch(/HTTP 401/);
    expect(unauthorised.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
