/**
 * ARC (RFC 8617) with real chains: an intermediary (mailauth, in the test)
 * seals a message with its key published by the local DNS stub; the MX
 * records arc=pass for the intact chain and arc=fail for a tampered one.
 * Forwarded mail is ARC-sealed by the node as the alias's domain, and the
 * sink verifies the resulting chain with mailauth.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { authenticate } from "mailauth";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestMailbox, eventually, uniqueName, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { startDnsStub, type DnsStub } from "./support/dns-stub.ts";
import { inboxMessages, startInboundHarness, type InboundHarness } from "./support/inbound-harness.ts";
import { startSink, type Sink } from "./support/targets.ts";

function rsaKey(): { privateKey: string; record: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    record: `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`,
  };
}

describe("ARC chains", () => {
  let edge: EdgeHandle;
  let dns: DnsStub;
  let sink: Sink;
  let h: InboundHarness;
  let alice: TestMailboxData;
  const relayKey = rsaKey();
  const forwarderKey = rsaKey();
  /** What the DNS stub publishes, also served in-process to mailauth at the relay and at the sink. */
  const txt: Record<string, string> = {};

  const resolver = async (name: string, type: string): Promise<string[][]> => {
    const value = type === "TXT" ? txt[name.toLowerCase()] : undefined;
    if (value === undefined) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    return [[value]];
  };

  beforeAll(async () => {
    edge = await startEdge();
    sink = await startSink();
    alice = await createTestMailbox(edge, "alice");
    txt["arc._domainkey.relay.example"] = relayKey.record;
    txt[`fwd._domainkey.${alice.domain}`] = forwarderKey.record;
    dns = await startDnsStub(txt);
    const keyFile = path.join(tmpdir(), `${uniqueName("arc")}.pem`);
    await writeFile(keyFile, forwarderKey.privateKey, { mode: 0o600 });
    h = await startInboundHarness(edge, {
      settings: { dnsServers: dns.server, staticRoutes: `*=127.0.0.1:${sink.port}`, dkimPrivateKeyPath: keyFile, dkimSelector: "fwd" },
    });
  });

  afterAll(async () => {
    await h?.close();
    await sink?.close();
    await dns?.close();
    await edge?.stop();
  });

  /** A message as relay.example passes it on: authenticated there and ARC-sealed (i=1). */
  async function relayed(to: string, body: string): Promise<Buffer> {
    const original = Buffer.from(
      `From: <alice@origin.example>\r\nTo: <${to}>\r\nSubject: via a list\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n` +
        `Message-ID: <${randomBytes(6).toString("hex")}@origin.example>\r\n\r\n${body}\r\n`,
    );
    const sealed = await authenticate(original, {
      ip: "127.0.0.1",
      helo: "origin.example",
      sender: "alice@origin.example",
      mta: "relay.example",
      resolver,
      disableBimi: true,
      seal: { signingDomain: "relay.example", selector: "arc", privateKey: relayKey.privateKey },
    });
    expect(sealed.headers).toMatch(/^ARC-Seal: i=1;/m);
    return Buffer.concat([Buffer.from(sealed.headers), original]);
  }

  async function send(to: string, raw: Buffer): Promise<void> {
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: "list@relay.example", to: [to] }, raw });
  }

  async function storedResults(marker: string): Promise<string> {
    const mailbox = await h.openMailbox(alice.address, alice.password);
    try {
      let found: Buffer | undefined;
      await eventually(async () => {
        found = (await inboxMessages(mailbox)).find((m) => m.includes(marker));
        return found !== undefined;
      }, 10_000, "the stored message");
      const text = found!.toString("latin1");
      const field = /^Authentication-Results: mx\.sealbox\.test;(?:[^\r\n]|\r\n[ \t])*/m.exec(text);
      expect(field).not.toBeNull();
      return field![0];
    } finally {
      await mailbox.close();
    }
  }

  it("records arc=pass for a valid chain", async () => {
    const marker = uniqueName("intact");
    await send(alice.address, await relayed(alice.address, marker));
    expect(await storedResults(marker)).toMatch(/\barc=pass\b/);
  });

  it("records arc=fail when the message was changed after sealing", async () => {
    const marker = uniqueName("tampered");
    const raw = await relayed(alice.address, `${marker} original`);
    await send(alice.address, Buffer.from(raw.toString("latin1").replace(`${marker} original`, `${marker} changed!`), "latin1"));
    expect(await storedResults(marker)).toMatch(/\barc=fail\b/);
  });

  it("seals forwarded mail so the next receiver validates the chain and sees our results", async () => {
    const alias = `${uniqueName("fwd")}@${alice.domain}`;
    await alice.api.createAlias(alias, { imap: false, forwardTo: ["dest@far.example"] });
    const marker = uniqueName("forwarded");
    await send(alias, await relayed(alias, marker));
    await eventually(() => sink.received.some((m) => m.raw.includes(marker)), 10_000, "the forwarded message");
    const got = sink.received.find((m) => m.raw.includes(marker))!;
    const text = got.raw.toString("latin1");
    expect(text).toMatch(new RegExp(`^ARC-Seal: i=2; [^]*d=${alice.domain.replace(/\./g, "\\.")}`, "m"));
    expect(text).toMatch(/^ARC-Authentication-Results: i=2; mx\.sealbox\.test;[^]*arc=pass/m);
    const verified = await authenticate(got.raw, { ip: "127.0.0.1", helo: "mx.sealbox.test", sender: got.mailFrom, mta: "final.example", resolver, disableBimi: true });
    expect(verified.arc && verified.arc.status.result).toBe("pass");
    expect(verified.arc && verified.arc.i).toBe(2);
  });

  it("seals a first hop with cv=none", async () => {
    const alias = `${uniqueName("fwd")}@${alice.domain}`;
    await alice.api.createAlias(alias, { imap: false, forwardTo: ["dest2@far.example"] });
    const marker = uniqueName("plain");
    await send(alias, Buffer.from(`From: <bob@origin.example>\r\nTo: <${alias}>\r\nSubject: direct\r\n\r\n${marker}\r\n`));
    await eventually(() => sink.received.some((m) => m.raw.includes(marker)), 10_000, "the forwarded message");
    const got = sink.received.find((m) => m.raw.includes(marker))!;
    expect(got.raw.toString("latin1")).toMatch(/^ARC-Seal: i=1; [^]*cv=none/m);
    const verified = await authenticate(got.raw, { ip: "127.0.0.1", helo: "mx.sealbox.test", sender: got.mailFrom, mta: "final.example", resolver, disableBimi: true });
    expect(verified.arc && verified.arc.status.result).toBe("pass");
  });
});
