/**
 * Forwarding through ordinary DNS (no static route): a local DNS stub (the
 * `dnsServers` setting) answers MX, A and AAAA for test domains pointing at
 * 127.0.0.1, and the forward reaches a local sink SMTP server on the
 * `outboundPort` setting. RFC 5321 §5.1: MX hosts by preference, the next
 * one when a host refuses connections, the domain's own address when there
 * is no MX; RFC 7505: a null MX fails at once with a DSN.
 */
import { randomBytes } from "node:crypto";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestMailbox, eventually, uniqueName, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { startDnsStub, type DnsStub } from "./support/dns-stub.ts";
import { startInboundHarness, type InboundHarness } from "./support/inbound-harness.ts";
import { startSink, type Sink } from "./support/targets.ts";

describe("forwarding via DNS next hops", () => {
  let edge: EdgeHandle;
  let sink: Sink;
  let dns: DnsStub;
  let h: InboundHarness;
  let owner: TestMailboxData;

  beforeAll(async () => {
    edge = await startEdge();
    sink = await startSink();
    dns = await startDnsStub(
      {},
      {
        // Preference 10 refuses connections (nothing listens on ::1 at the sink's port); 20 is the sink.
        // Listed out of order: the resolver must sort by preference.
        "pref.example": {
          MX: [
            { preference: 20, exchange: "mx2.pref.example" },
            { preference: 10, exchange: "mx1.pref.example" },
          ],
        },
        "mx1.pref.example": { AAAA: ["::1"] },
        "mx2.pref.example": { A: ["127.0.0.1"] },
        "null.example": { MX: [{ preference: 0, exchange: "." }] },
        // No MX: the domain's own A record (implicit MX).
        "implicit.example": { A: ["127.0.0.1"] },
        // Neither MX nor address.
        "nowhere.example": { TXT: "v=spf1 -all" },
        // The original senders' domain, for the DSNs.
        "sender.example": { MX: [{ preference: 5, exchange: "in.sender.example" }] },
        "in.sender.example": { A: ["127.0.0.1"] },
      },
    );
    h = await startInboundHarness(edge, { settings: { dnsServers: dns.server, outboundPort: sink.port, outboundRetryBaseMs: 100 } });
    owner = await createTestMailbox(edge, "owner");
  });

  afterAll(async () => {
    await h?.close();
    await sink?.close();
    await dns?.close();
    await edge?.stop();
  });

  async function forward(to: string, from: string, subject: string): Promise<void> {
    const alias = `${uniqueName("fwd")}@${owner.domain}`;
    await owner.api.createAlias(alias, { imap: false, forwardTo: [to] });
    const raw = Buffer.from(`From: <${from}>\r\nTo: <${alias}>\r\nSubject: ${subject}\r\nMessage-ID: <${randomBytes(6).toString("hex")}@sender.example>\r\n\r\nvia dns\r\n`);
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: h.mxPort, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from, to: [alias] }, raw });
  }

  const delivered = (rcpt: string) => sink.received.filter((m) => m.rcptTo.includes(rcpt));

  it("tries MX hosts by preference and falls back when the first refuses connections", async () => {
    await forward("dest@pref.example", "bob@sender.example", "preference");
    await eventually(() => delivered("dest@pref.example").length === 1, 15_000, "delivery via the second MX");
    expect(delivered("dest@pref.example")[0].mailFrom).toMatch(/^SRS0=/);
    // The preferred host was looked up (and dialled) before the other one.
    const first = dns.queries.findIndex((q) => q.startsWith("mx1.pref.example/"));
    const second = dns.queries.findIndex((q) => q.startsWith("mx2.pref.example/"));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second).toBeGreaterThan(first);
    // Delivered on the first queue run: the refusing host was not a reason to wait.
    expect(sink.attempts.get("dest@pref.example")).toBe(1);
  });

  it("delivers to the domain's own address when it publishes no MX", async () => {
    await forward("dest@implicit.example", "bob@sender.example", "implicit");
    await eventually(() => delivered("dest@implicit.example").length === 1, 15_000, "delivery to the implicit MX");
    expect(dns.queries).toContain("implicit.example/15");
    expect(dns.queries).toContain("implicit.example/1");
  });

  it("bounces at once for a null MX (RFC 7505), with a DSN found through DNS too", async () => {
    await forward("dest@null.example", "nora@sender.example", "null mx");
    await eventually(() => delivered("nora@sender.example").length === 1, 15_000, "the DSN");
    const dsn = delivered("nora@sender.example")[0];
    expect(dsn.mailFrom).toBe("");
    const text = dsn.raw.toString("latin1");
    expect(text).toMatch(/^Final-Recipient: rfc822; dest@null\.example\r\nAction: failed\r\nStatus: 5\.\d\.\d\r\n/m);
    expect(text).toMatch(/null MX/);
    expect(sink.attempts.get("dest@null.example")).toBeUndefined();
  });

  it("bounces when the domain has neither MX nor address", async () => {
    await forward("dest@nowhere.example", "nils@sender.example", "nowhere");
    await eventually(() => delivered("nils@sender.example").length === 1, 15_000, "the DSN");
    expect(delivered("nils@sender.example")[0].raw.toString("latin1")).toMatch(/^Final-Recipient: rfc822; dest@nowhere\.example\r\n/m);
  });
});
