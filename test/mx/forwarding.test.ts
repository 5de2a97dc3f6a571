/**
 * Forwarding end to end: the MX accepts mail for a forwarding alias, the
 * durable outbound queue delivers it to a local sink SMTP server (static
 * route) with an SRS envelope sender and a DKIM signature of the alias's
 * domain; a 4xx is retried and delivered once; a 5xx produces an RFC 3464
 * DSN to the original sender; bounces to our SRS addresses are relayed back.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { dkimVerify } from "mailauth";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Srs } from "../../storage-node/outbound/srs.ts";
import { createTestMailbox, eventually, uniqueName, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { startInboundHarness, type InboundHarness } from "./support/inbound-harness.ts";
import { SmtpWire } from "./support/smtp-wire.ts";
import { startSink, type Sink } from "./support/targets.ts";

describe("forwarding", () => {
  let edge: EdgeHandle;
  let sink: Sink;
  let h: InboundHarness;
  let owner: TestMailboxData;
  let dkimPublicKey: string;

  beforeAll(async () => {
    edge = await startEdge();
    sink = await startSink();
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    dkimPublicKey = publicKey.export({ type: "spki", format: "der" }).toString("base64");
    const keyFile = path.join(process.env.TMPDIR ?? "/tmp", `${uniqueName("dkim")}.pem`);
    await writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    h = await startInboundHarness(edge, {
      settings: { staticRoutes: `*=127.0.0.1:${sink.port}`, outboundRetryBaseMs: 100, dkimPrivateKeyPath: keyFile, dkimSelector: "s1" },
    });
    owner = await createTestMailbox(edge, "owner");
  });

  afterAll(async () => {
    await h?.close();
    await sink?.close();
    await edge?.stop();
  });

  async function forwardingAlias(to: string): Promise<string> {
    const address = `${uniqueName("fwd")}@${owner.domain}`;
    await owner.api.createAlias(address, { imap: false, forwardTo: [to] });
    return address;
  }

  async function send(from: string, to: string, raw: Buffer): Promise<void> {
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from, to: [to] }, raw });
  }

  const messageFor = (to: string, subject: string) =>
    Buffer.from(`From: <bob@sender.example>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${randomBytes(6).toString("hex")}@sender.example>\r\n\r\nforward me\r\n`);

  let lastSrsSender = "";

  it("delivers to the forward address with an SRS sender and a DKIM signature", async () => {
    const alias = await forwardingAlias("dest@far.example");
    const original = messageFor(alias, "forward test");
    await send("bob@sender.example", alias, original);
    await eventually(() => sink.received.some((m) => m.rcptTo.includes("dest@far.example")), 10_000, "the forwarded message");
    const got = sink.received.find((m) => m.rcptTo.includes("dest@far.example"))!;
    expect(got.mailFrom).toMatch(new RegExp(`^SRS0=[A-Z2-7]{4}=[A-Z2-7]{2}=sender\\.example=bob@${owner.domain.replace(/\./g, "\\.")}$`));
    lastSrsSender = got.mailFrom;
    // The stored bytes, signed: original at the end, trace headers and DKIM-Signature in front.
    expect(got.raw.subarray(got.raw.length - original.length).equals(original)).toBe(true);
    expect(got.raw.toString("latin1")).toMatch(new RegExp(`^DKIM-Signature: [^]*d=${owner.domain.replace(/\./g, "\\.")}`, "m"));
    const verified = await dkimVerify(got.raw, {
      resolver: async (name: string, type: string) => {
        if (type === "TXT" && name === `s1._domainkey.${owner.domain}`) return [[`v=DKIM1; k=rsa; p=${dkimPublicKey}`]];
        throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
      },
    });
    expect(verified.results.map((r) => r.status.result)).toContain("pass");
  });

  it("retries after a 4xx and delivers exactly once", async () => {
    const alias = await forwardingAlias("later@far.example");
    await send("bob@sender.example", alias, messageFor(alias, "retry test"));
    await eventually(() => sink.received.some((m) => m.rcptTo.includes("later@far.example")), 15_000, "the retried delivery");
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.received.filter((m) => m.rcptTo.includes("later@far.example"))).toHaveLength(1);
    expect(sink.attempts.get("later@far.example")).toBe(3);
  });

  it("bounces a 5xx with an RFC 3464 DSN to the original sender", async () => {
    const alias = await forwardingAlias("reject@far.example");
    await send("carol@sender.example", alias, messageFor(alias, "bounce test"));
    await eventually(() => sink.received.some((m) => m.rcptTo.includes("carol@sender.example")), 10_000, "the DSN");
    const dsn = sink.received.find((m) => m.rcptTo.includes("carol@sender.example"))!;
    expect(dsn.mailFrom).toBe("");
    const text = dsn.raw.toString("latin1");
    expect(text).toMatch(/^Content-Type: multipart\/report; report-type=delivery-status;/m);
    expect(text).toMatch(/^Content-Type: message\/delivery-status\r\n\r\nReporting-MTA: dns; mx\.sealbox\.test\r\n/m);
    expect(text).toMatch(/^Final-Recipient: rfc822; reject@far\.example\r\nAction: failed\r\nStatus: 5\.1\.1\r\n/m);
    expect(text).toMatch(/^Content-Type: text\/rfc822-headers\r\n\r\n[^]*^Subject: bounce test\r\n/m);
    expect(text).not.toMatch(/forward me/);
    // Only once, and no DSN about the DSN.
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.received.filter((m) => m.rcptTo.includes("carol@sender.example"))).toHaveLength(1);
  });

  it("relays a bounce to one of its SRS addresses back to the original sender; forged ones are unknown", async () => {
    expect(lastSrsSender).not.toBe("");
    const bounce = Buffer.from(`From: <MAILER-DAEMON@far.example>\r\nTo: <${lastSrsSender}>\r\nSubject: bounce back\r\n\r\nsorry\r\n`);
    await send("", lastSrsSender, bounce);
    await eventually(() => sink.received.some((m) => m.rcptTo.includes("bob@sender.example")), 10_000, "the relayed bounce");
    const relayed = sink.received.find((m) => m.rcptTo.includes("bob@sender.example"))!;
    expect(relayed.mailFrom).toBe("");

    const forged = new Srs(randomBytes(32)).forward("victim@bank.example", owner.domain);
    const wire = await SmtpWire.open(h.mxPort);
    try {
      await wire.command("EHLO far.example");
      await wire.command("MAIL FROM:<>");
      expect((await wire.command(`RCPT TO:<${forged}>`)).text).toMatch(/^550 5\.1\.1 /);
    } finally {
      wire.close();
    }
  });
});
