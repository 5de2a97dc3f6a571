/**
 * Webhooks end to end: nodemailer delivers to the MX, a local HTTP receiver
 * gets the signed JSON; with the receiver failing, the job is retried later
 * (also across a restart of the node's inbound services) and delivered once.
 */
import { createHmac, randomBytes } from "node:crypto";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPublicAddress } from "../../storage-node/webhooks/target-address.ts";
import { WebhookSender } from "../../storage-node/webhooks/webhook-sender.ts";
import { createTestMailbox, eventually, registerTestNode, uniqueName, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { newSpoolKey, startInboundHarness, type InboundHarness } from "./support/inbound-harness.ts";
import { startReceiver, type Receiver } from "./support/targets.ts";

interface PayloadShape {
  deliveryId: string;
  alias: string;
  envelope: { mailFrom: string; rcptTo: string[] };
  authentication: { spf: string; dmarc: string };
  message: {
    subject: string;
    from: { name: string | null; address: string }[];
    to: { address: string }[];
    cc: { address: string }[];
    text: string;
    html: string;
    headers: { name: string; value: string }[];
    attachments: { filename: string; contentType: string; size: number; content: string }[];
    raw: string;
  };
}

describe("webhooks", () => {
  let edge: EdgeHandle;
  let h: InboundHarness;
  let owner: TestMailboxData;
  let receiver: Receiver;
  let keys: { nodeId: string; secretKey: string };
  const spoolKey = newSpoolKey();

  beforeAll(async () => {
    edge = await startEdge();
    keys = await registerTestNode(edge);
    h = await startInboundHarness(edge, { nodeKeys: keys, settings: { webhookRetryBaseMs: 100, spoolKey } });
    owner = await createTestMailbox(edge, "owner");
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await h?.close();
    await receiver?.close();
    await edge?.stop();
  });

  async function hookAlias(): Promise<{ address: string; signingKey: string }> {
    const address = `${uniqueName("hook")}@${owner.domain}`;
    const alias = await owner.api.createAlias(address, { imap: false, webhooks: [{ url: receiver.url }] });
    const signingKey = alias.webhooks[0]?.signingKey;
    if (!signingKey) throw new Error("no signing key returned");
    return { address, signingKey };
  }

  it("POSTs the parsed message, envelope and results, signed with the webhook's key", async () => {
    const { address, signingKey } = await hookAlias();
    const attachment = randomBytes(3000);
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, tls: { rejectUnauthorized: false } });
    await transport.sendMail({
      envelope: { from: "bounce@sender.example", to: [address] },
      from: '"Zoë Sender" <zoe@sender.example>',
      to: address,
      cc: "other@sender.example",
      subject: "Grüße with a file",
      text: "plain body ✓",
      html: "<p>html body ✓</p>",
      attachments: [{ filename: "data.bin", content: attachment, contentType: "application/octet-stream" }],
    });
    await eventually(() => receiver.requests.some((r) => r.status === 200 && r.body.includes(address)), 10_000, "the webhook");
    const request = receiver.requests.find((r) => r.body.includes(address))!;
    const expected = createHmac("sha256", Buffer.from(signingKey, "base64")).update(request.body).digest("hex");
    expect(request.headers["x-webhook-signature"]).toBe(expected);
    expect(request.headers["content-type"]).toMatch(/^application\/json/);
    const payload = JSON.parse(request.body.toString("utf8")) as PayloadShape;
    expect(request.headers["idempotency-key"]).toBe(payload.deliveryId);
    expect(payload.alias).toBe(address);
    expect(payload.envelope).toMatchObject({ mailFrom: "bounce@sender.example", rcptTo: [address] });
    expect(payload.authentication.spf).toEqual(expect.any(String));
    expect(payload.message.subject).toBe("Grüße with a file");
    expect(payload.message.from).toEqual([{ name: "Zoë Sender", address: "zoe@sender.example" }]);
    expect(payload.message.to.map((a) => a.address)).toEqual([address]);
    expect(payload.message.cc.map((a) => a.address)).toEqual(["other@sender.example"]);
    expect(payload.message.text.trim()).toBe("plain body ✓");
    expect(payload.message.html.trim()).toBe("<p>html body ✓</p>");
    expect(payload.message.attachments).toHaveLength(1);
    expect(payload.message.attachments[0]).toMatchObject({ filename: "data.bin", contentType: "application/octet-stream", size: 3000 });
    expect(Buffer.from(payload.message.attachments[0].content, "base64").equals(attachment)).toBe(true);
    const raw = Buffer.from(payload.message.raw, "base64").toString("utf8");
    expect(raw).toMatch(/^Authentication-Results: /m);
    expect(raw).toMatch(/^Subject: =\?UTF-8\?/m);
    expect(payload.message.headers.some((hd) => hd.name === "Received")).toBe(true);
  });

  it("retries a failing receiver with backoff, across a restart, and delivers once", async () => {
    const { address } = await hookAlias();
    receiver.status = 503;
    const before = receiver.requests.length;
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: "a@sender.example", to: [address] }, raw: `Subject: retry me\r\nTo: <${address}>\r\n\r\nbody\r\n` });
    const ours = () => receiver.requests.slice(before).filter((r) => r.body.includes(address));
    await eventually(() => ours().length >= 2, 10_000, "a retried attempt");

    // Restart the node's inbound services on the same spool while the receiver still fails.
    const dataDir = h.dataDir;
    await h.close();
    receiver.status = 503;
    const failedBeforeRestart = ours().length;
    h = await startInboundHarness(edge, { nodeKeys: keys, dataDir, settings: { webhookRetryBaseMs: 100, spoolKey } });
    await eventually(() => ours().length > failedBeforeRestart, 10_000, "an attempt after the restart");
    receiver.status = 200;
    await eventually(() => ours().some((r) => r.status === 200), 10_000, "the successful attempt");
    // After the 2xx no further attempt comes (give it a few retry periods).
    const settled = ours().length;
    await new Promise((r) => setTimeout(r, 1_000));
    const attempts = ours();
    expect(attempts.length).toBe(settled);
    expect(attempts.filter((r) => r.status === 200)).toHaveLength(1);
    // Every attempt carried the same delivery id and the same signed body.
    expect(new Set(attempts.map((r) => r.headers["idempotency-key"])).size).toBe(1);
    expect(new Set(attempts.map((r) => r.headers["x-webhook-signature"])).size).toBe(1);
  });

  it("sees a webhook added after the route was cached (push invalidation)", async () => {
    const address = `${uniqueName("late")}@${owner.domain}`;
    await owner.api.createAlias(address, { imap: true });
    await owner.api.generatePassword(address, "device");
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, ignoreTLS: true });
    const raw = (n: number) => Buffer.from(`Subject: push ${n}\r\nTo: <${address}>\r\n\r\nbody\r\n`);
    await transport.sendMail({ envelope: { from: "a@sender.example", to: [address] }, raw: raw(1) });
    const [local, domain] = address.split("@");
    await owner.api.request("PATCH", `/v1/domains/${domain}/aliases/${local}`, { webhooks: [{ url: receiver.url }] });
    // The route stays cached for a minute unless the edge's push drops it.
    let n = 2;
    await eventually(
      async () => {
        await transport.sendMail({ envelope: { from: "a@sender.example", to: [address] }, raw: raw(n++) });
        return receiver.requests.some((r) => r.body.includes(address));
      },
      10_000,
      "the new webhook",
    );
    expect(receiver.requests.some((r) => r.body.includes("push 1"))).toBe(false);
  });

  it("abandons a hanging request at shutdown and delivers it after the restart", async () => {
    const { address } = await hookAlias();
    receiver.status = 0;
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: "a@sender.example", to: [address] }, raw: Buffer.from(`Subject: hang\r\nTo: <${address}>\r\n\r\nbody\r\n`) });
    const ours = () => receiver.requests.filter((r) => r.body.includes(address));
    await eventually(() => ours().length === 1, 10_000, "the hanging request");
    const abandonedBefore = receiver.abandoned;
    const dataDir = h.dataDir;
    await h.close();
    // Shutdown did not wait for the receiver: it dropped the request.
    expect(receiver.abandoned).toBe(abandonedBefore + 1);
    receiver.status = 200;
    h = await startInboundHarness(edge, { nodeKeys: keys, dataDir, settings: { webhookRetryBaseMs: 100, spoolKey } });
    await eventually(() => ours().some((r) => r.status === 200), 10_000, "delivery after the restart");
    expect(new Set(ours().map((r) => r.headers["idempotency-key"])).size).toBe(1);
    // Below the 30 s request timeout: had shutdown waited for the receiver, this test would time out.
  }, 25_000);

  it("refuses private and loopback targets unless allowed", async () => {
    for (const ip of ["127.0.0.1", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1"]) {
      expect(isPublicAddress(ip), ip).toBe(false);
    }
    for (const ip of ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111"]) expect(isPublicAddress(ip), ip).toBe(true);

    const strict = new WebhookSender({ allowPrivate: false });
    const job = (url: string) => ({
      id: "job1",
      kind: "webhook" as const,
      messageId: "m1",
      target: JSON.stringify({ webhookId: "w", url, signingKey: Buffer.alloc(32).toString("base64"), alias: "a@b.example" }),
      attempts: 0,
      createdAt: Date.now(),
      nextAttemptAt: Date.now(),
    });
    const message = {
      id: "m1",
      raw: Buffer.from("Subject: x\r\n\r\nbody\r\n"),
      envelope: { mailFrom: "", rcptTo: ["a@b.example"], remoteAddress: "127.0.0.1", helo: "x", secure: false },
      authResults: "{}",
      receivedAt: new Date(),
    };
    const before = receiver.requests.length;
    try {
      const port = new URL(receiver.url).port;
      expect((await strict.send(job(receiver.url), message)).kind).toBe("fail");
      expect((await strict.send(job(`https://127.0.0.1:${port}/hook`), message)).kind).toBe("fail");
      expect((await strict.send(job(`https://localhost:${port}/hook`), message)).kind).toBe("fail");
      expect((await strict.send(job(`https://[::1]:${port}/hook`), message)).kind).toBe("fail");
    } finally {
      await strict.close();
    }
    expect(receiver.requests.length).toBe(before);
    const lax = new WebhookSender({ allowPrivate: true });
    try {
      expect((await lax.send(job(receiver.url), message)).kind).toBe("done");
    } finally {
      await lax.close();
    }
  });
});
