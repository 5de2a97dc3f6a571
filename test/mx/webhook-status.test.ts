/**
 * Webhook delivery status made visible to the owner: real nodes (in-process
 * harnesses with a real tunnel) report each outcome to the real edge
 * (workerd, D1), and the alias API and the CLI show, per webhook, the last
 * success, the last failure (its class, never a body) and the count of
 * abandoned deliveries.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AliasData } from "../../cli/api-client.ts";
import { createTestMailbox, eventually, uniqueName, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { startInboundHarness, type InboundHarness } from "./support/inbound-harness.ts";
import { startReceiver, type Receiver } from "./support/targets.ts";

const run = promisify(execFile);

describe("webhook status at the edge", () => {
  let edge: EdgeHandle;
  let receiver: Receiver;
  let node: InboundHarness;
  /** A node that refuses webhooks to private addresses: every delivery to the receiver is abandoned. */
  let strictNode: InboundHarness;
  let owner: TestMailboxData;

  beforeAll(async () => {
    edge = await startEdge();
    receiver = await startReceiver();
    node = await startInboundHarness(edge, { settings: { webhookRetryBaseMs: 100 } });
    strictNode = await startInboundHarness(edge, { settings: { allowPrivateWebhooks: false } });
    owner = await createTestMailbox(edge, "owner");
  });

  afterAll(async () => {
    await node?.close();
    await strictNode?.close();
    await receiver?.close();
    await edge?.stop();
  });

  async function hookAlias(): Promise<{ address: string; signingKey: string }> {
    const address = `${uniqueName("hook")}@${owner.domain}`;
    const alias = await owner.api.createAlias(address, { imap: false, webhooks: [{ url: receiver.url }] });
    expect(alias.webhooks[0].status).toEqual({ lastSuccessAt: null, lastFailureAt: null, lastFailure: null, abandoned: 0, lastAbandonedAt: null });
    return { address, signingKey: alias.webhooks[0].signingKey ?? "" };
  }

  async function send(port: number, to: string, subject: string): Promise<void> {
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: "sender@elsewhere.example", to: [to] }, raw: `From: <sender@elsewhere.example>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\nconfidential body text\r\n` });
  }

  async function status(address: string): Promise<AliasData["webhooks"][number]["status"]> {
    const alias = await owner.api.getAlias(address);
    return alias.webhooks[0].status;
  }

  it("records the last failure by class, then the last success", async () => {
    const { address } = await hookAlias();
    receiver.status = 503;
    const before = receiver.requests.length;
    await send(node.mxPort, address, "status test");
    await eventually(async () => (await status(address)).lastFailure === "HTTP 503", 15_000, "the failure report");
    const failed = await status(address);
    expect(failed.lastFailureAt).not.toBeNull();
    expect(failed.lastSuccessAt).toBeNull();
    expect(failed.abandoned).toBe(0);
    receiver.status = 200;
    await eventually(async () => (await status(address)).lastSuccessAt !== null, 15_000, "the success report");
    const ok = await status(address);
    expect(ok.lastFailure).toBe("HTTP 503");
    expect(ok.abandoned).toBe(0);
    expect(receiver.requests.length).toBeGreaterThan(before + 1);
    // The list of the domain's aliases carries the same status.
    const { aliases } = await owner.api.listAliases(owner.domain);
    expect(aliases.find((a) => a.address === address)?.webhooks[0].status).toEqual(ok);
  });

  it("counts abandoned deliveries and shows them in the CLI, without bodies or keys", async () => {
    const { address, signingKey } = await hookAlias();
    const before = receiver.requests.length;
    await send(strictNode.mxPort, address, "abandon one");
    await eventually(async () => (await status(address)).abandoned === 1, 15_000, "the first abandonment");
    await send(strictNode.mxPort, address, "abandon two");
    await eventually(async () => (await status(address)).abandoned === 2, 15_000, "the second abandonment");
    const abandoned = await status(address);
    expect(abandoned.lastFailure).toBe("webhook URL must be https");
    expect(abandoned.lastAbandonedAt).not.toBeNull();
    expect(abandoned.lastSuccessAt).toBeNull();
    expect(receiver.requests.length).toBe(before);

    const cli = path.resolve("cli/sealbox.ts");
    const { stdout } = await run(process.execPath, ["--import", "tsx", cli, "--edge", edge.url, "--token", owner.api.token ?? "", "alias", "show", address], {
      env: { ...process.env, SEALBOX_STATE_DIR: path.join(node.dataDir, "cli-state") },
    });
    expect(stdout).toContain(receiver.url);
    expect(stdout).toMatch(/last success: never {2}last failure: \S+ \(webhook URL must be https\) {2}abandoned: 2/);
    expect(stdout).not.toContain(signingKey);
    expect(stdout).not.toContain("confidential body text");
  });
});
