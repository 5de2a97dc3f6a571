/**
 * The spine end to end: an alias made through the real API, a password
 * generated there, and IMAP LOGIN on a real storage-node process that checks
 * it against the edge's credential record over the tunnel.
 */
import { readdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestMailbox, eventually, registerTestNode, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { openImapWire } from "../support/imap-wire.ts";
import { curlImap } from "../support/curl.ts";
import { startNodeProcess, type NodeProcessHandle } from "../support/node-process.ts";

const FAILED = "NO [AUTHENTICATIONFAILED] Authentication failed.";

describe("IMAP login through the edge's credentials", () => {
  let edge: EdgeHandle;
  let node: NodeProcessHandle;
  let mailbox: TestMailboxData;
  let nodeId: string;

  beforeAll(async () => {
    edge = await startEdge();
    const keys = await registerTestNode(edge);
    nodeId = keys.nodeId;
    node = await startNodeProcess({ edgeUrl: edge.url, nodeId: keys.nodeId, secretKey: keys.secretKey });
    mailbox = await createTestMailbox(edge, "alice");
    // The node dials the edge in the background; wait until the tunnel is up.
    await eventually(() => node.logs.some((l) => l.msg === "tunnel connected"), 20_000, "the tunnel");
  });

  afterAll(async () => {
    await node?.kill();
    await edge?.stop();
  });

  it("logs in with curl using the generated password", async () => {
    const { stdout, stderr } = await curlImap(`imap://127.0.0.1:${node.imapPort}/`, mailbox.address, mailbox.password);
    expect(stderr).toBe("");
    expect(stdout).toMatch(/INBOX/);
  });

  it("fails wrong, unknown and revoked passwords the same way", async () => {
    const wire = await openImapWire(node.imapPort);
    try {
      expect(wire.greeting).toMatch(/^\* OK/);
      const wrong = await wire.command(`LOGIN ${mailbox.address} "not-the-password"`);
      const unknown = await wire.command(`LOGIN nobody@${mailbox.domain} "${mailbox.password}"`);
      expect(wrong.status).toBe(FAILED);
      expect(unknown.status).toBe(FAILED);
    } finally {
      wire.close();
    }

    const second = await mailbox.api.generatePassword(mailbox.address, "phone", mailbox.password);
    const wire2 = await openImapWire(node.imapPort);
    try {
      // A new password works at once: the edge's change was acknowledged by the node.
      expect((await wire2.command(`LOGIN ${mailbox.address} "${second.password}"`)).status).toMatch(/^OK/);
    } finally {
      wire2.close();
    }
    await mailbox.api.revokePassword(mailbox.address, second.id);
    const wire3 = await openImapWire(node.imapPort);
    try {
      // The revocation push reaches the node at once; no cache wait is needed.
      expect((await wire3.command(`LOGIN ${mailbox.address} "${second.password}"`)).status).toBe(FAILED);
      expect((await wire3.command(`LOGIN ${mailbox.address} "${mailbox.password}"`)).status).toMatch(/^OK/);
    } finally {
      wire3.close();
    }
  });

  it("accepts AUTHENTICATE PLAIN with an initial response", async () => {
    const wire = await openImapWire(node.imapPort);
    try {
      const token = Buffer.from(`\0${mailbox.address}\0${mailbox.password}`).toString("base64");
      expect((await wire.command(`AUTHENTICATE PLAIN ${token}`)).status).toMatch(/^OK/);
      expect((await wire.command("LOGOUT")).status).toMatch(/^OK/);
    } finally {
      wire.close();
    }
  });

  it("mirrors the mailbox generation and the password's last use at the edge", async () => {
    // The logins above opened the mailbox several times; each open moves its generation.
    await eventually(async () => {
      const response = await fetch(`${edge.url}/v1/admin/directory/credentials`, {
        method: "POST",
        headers: { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ address: mailbox.address, nodeId }),
      });
      const record = (await response.json()) as { generation: number };
      return record.generation >= 2;
    }, 10_000, "the generation to reach the edge");
    await eventually(async () => {
      const { passwords } = await mailbox.api.listPasswords(mailbox.address);
      return passwords.find((p) => p.id === mailbox.passwordId)?.lastUsedAt != null;
    }, 10_000, "last used to be recorded");
  });

  it("answers 'try later' while the edge is unreachable, and recovers when it is back", async () => {
    const { persistDir, port, adminToken } = edge;
    await edge.stop();
    await eventually(() => node.logs.some((l) => l.msg === "tunnel disconnected"), 20_000, "the node to notice");
    const wire = await openImapWire(node.imapPort);
    try {
      // An address the node has not cached must be asked at the edge, which is down.
      const result = await wire.command(`LOGIN someone-else@${mailbox.domain} "${mailbox.password}"`);
      expect(result.status).toBe("NO [UNAVAILABLE] Authentication is temporarily unavailable, try again later.");
    } finally {
      wire.close();
    }
    edge = await startEdge({ persistDir, port, adminToken });
    await eventually(() => node.logs.filter((l) => l.msg === "tunnel connected").length >= 2, 30_000, "the tunnel to come back");
    const { stdout, stderr } = await curlImap(`imap://127.0.0.1:${node.imapPort}/`, mailbox.address, mailbox.password);
    expect(stderr).toBe("");
    expect(stdout).toMatch(/INBOX/);
  });

  it("names mailbox files by random id and never logs secrets or addresses", async () => {
    const files = await readdir(`${node.dataDir}/mailboxes`).catch(() => [] as string[]);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(file).not.toContain("alice");
    const output = node.output();
    expect(output).not.toContain(mailbox.password);
    expect(output).not.toContain(mailbox.address);
    expect(output).toContain("login failed");
  });

  it("shuts down gracefully when Ctrl-C reaches it and its supervisor together (SIGINT, then SIGTERM)", async () => {
    const wire = await openImapWire(node.imapPort);
    try {
      expect((await wire.command(`LOGIN ${mailbox.address} "${mailbox.password}"`)).status).toMatch(/^OK/);
      expect((await wire.command("SELECT INBOX")).status).toMatch(/^OK/);
      // A terminal's Ctrl-C signals the whole process group; `npm start` then forwards SIGTERM.
      node.child.kill("SIGINT");
      node.child.kill("SIGTERM");
      expect(await wire.readLine()).toBe("* BYE Server shutting down.");
      expect(await node.stop()).toBe(0);
      expect(node.logs.some((l) => l.msg === "second signal: exiting at once")).toBe(false);
      expect(node.logs.some((l) => l.msg === "shutting down")).toBe(true);
    } finally {
      wire.close();
    }
  });
});
