/**
 * The MX end to end on real sockets: nodemailer and swaks deliver, the mail
 * lands sealed in the spool (mailbox offline) or straight in the mailbox
 * (online), and reads back byte for byte (plus trace headers) through the
 * store. Codes for unknown aliases, quota and an unreachable edge.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MailboxChangeEvent } from "../../storage-node/store/types.ts";
import { createTestMailbox, eventually, uniqueName, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { inboxMessages, startInboundHarness, type InboundHarness } from "./support/inbound-harness.ts";
import { startDnsStub, type DnsStub } from "./support/dns-stub.ts";
import { SmtpWire } from "./support/smtp-wire.ts";

const run = promisify(execFile);

function sampleMessage(to: string, subject: string, body = "Hello from the test.\r\n"): Buffer {
  return Buffer.from(
    `From: Sender <sender@elsewhere.example>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${randomBytes(6).toString("hex")}@elsewhere.example>\r\n` +
      `Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${body}`,
    "utf8",
  );
}

/** The stored message is the original with only trace headers in front. */
function expectTraced(stored: Buffer, original: Buffer): void {
  expect(stored.length).toBeGreaterThan(original.length);
  expect(stored.subarray(stored.length - original.length).equals(original)).toBe(true);
  const prefix = stored.subarray(0, stored.length - original.length).toString("utf8");
  const names = prefix
    .split("\r\n")
    .filter((l) => l.length > 0 && !/^[ \t]/.test(l))
    .map((l) => l.slice(0, l.indexOf(":")));
  expect(new Set(names)).toEqual(new Set(["Received-SPF", "Authentication-Results", "Received"]));
  expect(prefix).toMatch(/^Authentication-Results: mx\.sealbox\.test;/m);
  expect(prefix).toMatch(/^Received: from [^\r\n]*\r\n\tby mx\.sealbox\.test \(Sealbox\) with (?:ESMTP|UTF8SMTP)/m);
}

describe("MX delivery into mailboxes", () => {
  let edge: EdgeHandle;
  let h: InboundHarness;
  let alice: TestMailboxData;
  let dns: DnsStub;

  beforeAll(async () => {
    edge = await startEdge();
    // SPF and DMARC answers come from a local DNS server named in the settings.
    dns = await startDnsStub({
      "spf.example": "v=spf1 ip4:127.0.0.1 -all",
      "_dmarc.spf.example": "v=DMARC1; p=reject",
      "nospf.example": "v=spf1 -all",
    });
    h = await startInboundHarness(edge, { settings: { dnsServers: dns.server } });
    alice = await createTestMailbox(edge, "alice");
  });

  afterAll(async () => {
    await h?.close();
    await dns?.close();
    await edge?.stop();
  });

  it("advertises the ESMTP extensions of the issue", async () => {
    const wire = await SmtpWire.open(h.mxPort);
    try {
      expect(wire.greeting?.code).toBe(220);
      const ehlo = await wire.command("EHLO client.example");
      expect(ehlo.code).toBe(250);
      for (const ext of ["STARTTLS", "SIZE 33554432", "SMTPUTF8", "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES"]) {
        expect(ehlo.lines.some((l) => l.slice(4) === ext)).toBe(true);
      }
      expect(ehlo.lines.some((l) => /AUTH/.test(l))).toBe(false);
    } finally {
      wire.close();
    }
  });

  it("seals mail for an offline mailbox into the spool and drains it on open, once", async () => {
    const original = sampleMessage(alice.address, "offline via nodemailer");
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, tls: { rejectUnauthorized: false } });
    const info = await transport.sendMail({ envelope: { from: "sender@elsewhere.example", to: [alice.address] }, raw: original });
    expect(info.response).toMatch(/^250 2\.6\.0 Ok: queued as [0-9a-z]+/);

    const mailbox = await h.openMailbox(alice.address, alice.password);
    try {
      const messages = await inboxMessages(mailbox);
      expect(messages).toHaveLength(1);
      expectTraced(messages[0], original);
      // Delivered through STARTTLS (nodemailer upgrades when offered).
      expect(messages[0].toString("utf8")).toMatch(/with ESMTPS id/);
    } finally {
      await mailbox.close();
    }
    // A second open drains nothing new and duplicates nothing.
    const again = await h.openMailbox(alice.address, alice.password);
    try {
      expect(await inboxMessages(again)).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  it("delivers with swaks (plain and STARTTLS), byte for byte", async () => {
    const bob = await createTestMailbox(edge, "bob");
    const bodies: Buffer[] = [];
    for (const tls of [false, true]) {
      const original = sampleMessage(bob.address, `swaks tls=${tls}`, `Line one.\r\n.leading dot survives\r\nÜmlaut in 8bit\r\n`);
      bodies.push(original);
      const file = path.join(h.dataDir, `${uniqueName("swaks")}.eml`);
      // swaks sends CRLF "." CRLF after the file, so the file leaves out the last CRLF.
      await writeFile(file, original.subarray(0, original.length - 2));
      const args = ["--server", "127.0.0.1", "--port", String(h.mxPort), "--from", "sender@elsewhere.example", "--to", bob.address, "--data", `@${file}`, "--helo", "swaks.example"];
      if (tls) args.push("--tls");
      const { stdout } = await run("swaks", args);
      expect(stdout).toMatch(/<[-~] +250 2\.6\.0 Ok: queued as/);
    }
    const mailbox = await h.openMailbox(bob.address, bob.password);
    try {
      const messages = await inboxMessages(mailbox);
      expect(messages).toHaveLength(2);
      expectTraced(messages[0], bodies[0]);
      expectTraced(messages[1], bodies[1]);
      expect(messages[0].toString("utf8")).toMatch(/from swaks\.example \(\[127\.0\.0\.1\]\)/);
    } finally {
      await mailbox.close();
    }
  });

  it("inserts straight into an open mailbox, and a watcher sees it when 250 arrives", async () => {
    const carol = await createTestMailbox(edge, "carol");
    const mailbox = await h.openMailbox(carol.address, carol.password);
    try {
      const events: MailboxChangeEvent[] = [];
      const stop = mailbox.watch((event) => events.push(event));
      const original = sampleMessage(carol.address, "online");
      const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, ignoreTLS: true });
      await transport.sendMail({ envelope: { from: "sender@elsewhere.example", to: [carol.address] }, raw: original });
      // The direct insert resolved before the 250: the event is already out (or on its way).
      await eventually(() => events.some((e) => e.kind === "append" && e.folder === "INBOX"), 1_000, "the append event");
      stop();
      const messages = await inboxMessages(mailbox);
      expect(messages).toHaveLength(1);
      expectTraced(messages[0], original);
    } finally {
      await mailbox.close();
    }
  });

  it("records SPF and DMARC results from the configured DNS resolver", async () => {
    const dave = await createTestMailbox(edge, "dave");
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, ignoreTLS: true });
    const pass = Buffer.from(`From: <news@spf.example>\r\nTo: <${dave.address}>\r\nSubject: spf pass\r\n\r\nhi\r\n`);
    const fail = Buffer.from(`From: <news@nospf.example>\r\nTo: <${dave.address}>\r\nSubject: spf fail\r\n\r\nhi\r\n`);
    await transport.sendMail({ envelope: { from: "news@spf.example", to: [dave.address] }, raw: pass });
    await transport.sendMail({ envelope: { from: "news@nospf.example", to: [dave.address] }, raw: fail });
    expect(dns.queries).toContain("spf.example/16");
    const mailbox = await h.openMailbox(dave.address, dave.password);
    try {
      const [first, second] = (await inboxMessages(mailbox)).map((m) => m.toString("utf8"));
      expect(first).toMatch(/^Authentication-Results: mx\.sealbox\.test;\r\n dkim=none [^]*spf=pass [^]*dmarc=pass [^]*;\r\n arc=none\r\n/m);
      expect(first).toMatch(/^Received-SPF: pass /m);
      expect(second).toMatch(/^Authentication-Results: [^]*spf=fail /m);
    } finally {
      await mailbox.close();
    }
  });

  it("takes SMTPUTF8 senders and UTF-8 headers, and says so in Received", async () => {
    const erin = await createTestMailbox(edge, "erin");
    const original = Buffer.from(`From: Jörg <jörg@bücher.example>\r\nTo: <${erin.address}>\r\nSubject: Grüße aus München\r\n\r\nÄÖÜ\r\n`, "utf8");
    const wire = await SmtpWire.open(h.mxPort);
    try {
      await wire.command("EHLO utf8.example");
      expect((await wire.command("MAIL FROM:<jörg@bücher.example> SMTPUTF8 BODY=8BITMIME")).code).toBe(250);
      expect((await wire.command(`RCPT TO:<${erin.address}>`)).code).toBe(250);
      expect((await wire.command("DATA")).code).toBe(354);
      wire.write(Buffer.concat([original, Buffer.from(".\r\n")]));
      expect((await wire.reply()).code).toBe(250);
    } finally {
      wire.close();
    }
    const mailbox = await h.openMailbox(erin.address, erin.password);
    try {
      const [stored] = await inboxMessages(mailbox);
      expectTraced(stored, original);
      expect(stored.toString("utf8")).toMatch(/with UTF8SMTP id /);
    } finally {
      await mailbox.close();
    }
  });

  it("answers 550 5.1.1 for an unknown alias and keeps the transaction going", async () => {
    const wire = await SmtpWire.open(h.mxPort);
    try {
      await wire.command("EHLO client.example");
      expect((await wire.command("MAIL FROM:<sender@elsewhere.example>")).code).toBe(250);
      const unknown = await wire.command(`RCPT TO:<nobody@${alice.domain}>`);
      expect(unknown.text).toMatch(/^550 5\.1\.1 /);
      const unknownDomain = await wire.command("RCPT TO:<someone@not-ours.example>");
      expect(unknownDomain.text).toMatch(/^550 5\.1\.1 /);
      // The same words for both: nothing tells which domains exist here.
      expect(unknown.text).toBe(unknownDomain.text);
      expect((await wire.command(`RCPT TO:<${alice.address}>`)).code).toBe(250);
      expect((await wire.command("QUIT")).code).toBe(221);
    } finally {
      wire.close();
    }
  });

  it("refuses mail over quota: 452 4.2.2 at RCPT, 552 5.2.2 when DATA would exceed it", async () => {
    const address = `${uniqueName("q")}@${alice.domain}`;
    await alice.api.createAlias(address, { imap: true, quotaBytes: 6_000 });
    await alice.api.generatePassword(address, "device");
    const send = async (size: number, declared?: number) => {
      const wire = await SmtpWire.open(h.mxPort);
      try {
        await wire.command("EHLO client.example");
        await wire.command(`MAIL FROM:<sender@elsewhere.example>${declared ? ` SIZE=${declared}` : ""}`);
        const rcpt = await wire.command(`RCPT TO:<${address}>`);
        if (rcpt.code !== 250) return rcpt.text;
        expect((await wire.command("DATA")).code).toBe(354);
        wire.write(Buffer.concat([sampleMessage(address, "quota", "x".repeat(size) + "\r\n"), Buffer.from(".\r\n")]));
        return (await wire.reply()).text;
      } finally {
        wire.close();
      }
    };
    expect(await send(1_000)).toMatch(/^250 /);
    expect(await send(8_000)).toMatch(/^552 5\.2\.2 /);
    expect(await send(3_000)).toMatch(/^250 /);
    // A declared SIZE beyond what is left is refused before DATA.
    expect(await send(10, 2_000)).toMatch(/^452 4\.2\.2 /);
    expect(await send(10)).toMatch(/^552 5\.2\.2 /);
  });

  it("answers 451 4.4.3 when the edge cannot be reached, and recovers", async () => {
    const address = `${uniqueName("late")}@${alice.domain}`;
    await alice.api.createAlias(address, { imap: true });
    await alice.api.generatePassword(address, "device");
    await h.tunnel.close();
    const wire = await SmtpWire.open(h.mxPort);
    try {
      await wire.command("EHLO client.example");
      await wire.command("MAIL FROM:<sender@elsewhere.example>");
      expect((await wire.command(`RCPT TO:<${address}>`)).text).toMatch(/^451 4\.4\.3 /);
    } finally {
      wire.close();
    }
    h.tunnel.start();
    await h.tunnel.waitConnected(20_000);
    const again = await SmtpWire.open(h.mxPort);
    try {
      await again.command("EHLO client.example");
      await again.command("MAIL FROM:<sender@elsewhere.example>");
      expect((await again.command(`RCPT TO:<${address}>`)).code).toBe(250);
    } finally {
      again.close();
    }
  });
});
