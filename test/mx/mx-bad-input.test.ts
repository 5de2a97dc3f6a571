/**
 * Hostile input at the MX: SMTP smuggling payloads, oversized DATA, endless
 * lines, hostile addresses, commands pipelined behind STARTTLS, too many
 * recipients and connections. Each is refused cleanly and the server keeps
 * serving; nothing smuggled ever becomes a second message.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MX_LIMITS } from "../../storage-node/limits.ts";
import { createTestMailbox, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { inboxMessages, startInboundHarness, type InboundHarness } from "./support/inbound-harness.ts";
import { SmtpWire } from "./support/smtp-wire.ts";

function header(to: string, subject: string): string {
  return `From: <attacker@evil.example>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${randomBytes(6).toString("hex")}@evil.example>\r\n\r\n`;
}

async function transaction(port: number, to: string): Promise<SmtpWire> {
  const wire = await SmtpWire.open(port);
  expect((await wire.command("EHLO attacker.example")).code).toBe(250);
  expect((await wire.command("MAIL FROM:<attacker@evil.example>")).code).toBe(250);
  expect((await wire.command(`RCPT TO:<${to}>`)).code).toBe(250);
  return wire;
}

describe("MX under hostile input", () => {
  let edge: EdgeHandle;
  let h: InboundHarness;
  let victim: TestMailboxData;

  beforeAll(async () => {
    edge = await startEdge();
    h = await startInboundHarness(edge);
    victim = await createTestMailbox(edge, "victim");
  });

  afterAll(async () => {
    await h?.close();
    await edge?.stop();
  });

  /** Subjects of everything in the victim's INBOX. */
  async function subjects(): Promise<string[]> {
    const mailbox = await h.openMailbox(victim.address, victim.password);
    try {
      return (await inboxMessages(mailbox)).map((m) => /^Subject: (.*)$/m.exec(m.toString("latin1"))?.[1]?.trim() ?? "");
    } finally {
      await mailbox.close();
    }
  }

  const smuggling: [string, string][] = [
    ["LF.LF", "\n.\n"],
    ["CRLF.LF", "\r\n.\n"],
    ["LF.CRLF", "\n.\r\n"],
    ["CR.CR", "\r.\r"],
    ["CR.CRLF", "\r.\r\n"],
    ["CRLF.CR", "\r\n.\r"],
  ];

  it.each(smuggling)("refuses a %s smuggling payload as one message and runs nothing smuggled", async (name, terminator) => {
    const wire = await transaction(h.mxPort, victim.address);
    try {
      expect((await wire.command("DATA")).code).toBe(354);
      const smuggled =
        `MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<${victim.address}>\r\nDATA\r\n` + header(victim.address, `smuggled ${name}`) + "pay now\r\n.\r\n";
      wire.write(header(victim.address, `carrier ${name}`) + "innocent text" + terminator + smuggled);
      // Exactly one reply: the whole thing was one DATA, refused for its bare line ending.
      const reply = await wire.reply();
      expect(reply.text).toMatch(/^554 5\.6\.0 /);
      // The connection still works; nothing of the payload ran as commands.
      expect((await wire.command("NOOP")).code).toBe(250);
      expect((await wire.command("RSET")).code).toBe(250);
    } finally {
      wire.close();
    }
    const seen = await subjects();
    expect(seen.some((s) => s.includes(name))).toBe(false);
  });

  it("refuses DATA beyond SIZE with 552, without ending the session", async () => {
    const wire = await transaction(h.mxPort, victim.address);
    try {
      expect((await wire.command("DATA")).code).toBe(354);
      const line = "x".repeat(998) + "\r\n";
      const chunk = line.repeat(1024); // ~1 MB
      const total = Math.ceil(MX_LIMITS.maxMessageBytes / chunk.length) + 1;
      wire.write(header(victim.address, "too big"));
      for (let i = 0; i < total; i++) wire.write(chunk);
      wire.write(".\r\n");
      expect((await wire.reply(60_000)).text).toMatch(/^552 5\.3\.4 /);
      // Declared too big: refused at MAIL FROM.
      const declared = await wire.command(`MAIL FROM:<attacker@evil.example> SIZE=${MX_LIMITS.maxMessageBytes + 1}`);
      expect(declared.code).toBe(552);
      expect((await wire.command("MAIL FROM:<attacker@evil.example>")).code).toBe(250);
    } finally {
      wire.close();
    }
  });

  it("cuts an endless command line and keeps serving others", async () => {
    const wire = await SmtpWire.open(h.mxPort);
    try {
      wire.write("EHLO " + "a".repeat(2 * 1024 * 1024));
      expect(await wire.waitClosed(20_000)).toBe(true);
    } finally {
      wire.close();
    }
    const next = await SmtpWire.open(h.mxPort);
    try {
      expect((await next.command("EHLO ok.example")).code).toBe(250);
    } finally {
      next.close();
    }
  });

  it("refuses an endless DATA line like any oversized message", async () => {
    const wire = await transaction(h.mxPort, victim.address);
    try {
      expect((await wire.command("DATA")).code).toBe(354);
      const chunk = "y".repeat(1024 * 1024);
      for (let i = 0; i <= MX_LIMITS.maxMessageBytes / chunk.length; i++) wire.write(chunk);
      wire.write("\r\n.\r\n");
      expect((await wire.reply(60_000)).code).toBe(552);
      expect((await wire.command("NOOP")).code).toBe(250);
    } finally {
      wire.close();
    }
  });

  it.each([
    ["a control character", `vic\u0001tim@x.example`],
    ["an overlong address", `${"a".repeat(300)}@x.example`],
    ["no domain", "victim@"],
    ["a bad domain", "victim@-bad-.example"],
    ["no at sign", "victim"],
  ])("refuses a recipient with %s", async (_name, address) => {
    const wire = await SmtpWire.open(h.mxPort);
    try {
      await wire.command("EHLO attacker.example");
      expect((await wire.command("MAIL FROM:<attacker@evil.example>")).code).toBe(250);
      const reply = await wire.command(`RCPT TO:<${address}>`);
      expect(reply.code).toBeGreaterThanOrEqual(500);
      expect((await wire.command(`RCPT TO:<${victim.address}>`)).code).toBe(250);
    } finally {
      wire.close();
    }
  });

  it("refuses a hostile sender address", async () => {
    const wire = await SmtpWire.open(h.mxPort);
    try {
      await wire.command("EHLO attacker.example");
      expect((await wire.command(`MAIL FROM:<${"b".repeat(400)}@evil.example>`)).code).toBeGreaterThanOrEqual(500);
      expect((await wire.command("MAIL FROM:<>")).code).toBe(250);
    } finally {
      wire.close();
    }
  });

  it("never runs commands pipelined behind STARTTLS", async () => {
    const wire = await SmtpWire.open(h.mxPort);
    try {
      await wire.command("EHLO attacker.example");
      wire.write(`STARTTLS\r\nMAIL FROM:<attacker@evil.example>\r\nRCPT TO:<${victim.address}>\r\n`);
      expect((await wire.reply()).code).toBe(220);
      await wire.startTls();
      expect((await wire.command("EHLO attacker.example")).code).toBe(250);
      // Had the pipelined MAIL FROM run, this RCPT would be accepted.
      expect((await wire.command(`RCPT TO:<${victim.address}>`)).code).toBe(503);
    } finally {
      wire.close();
    }
  });

  it("caps recipient attempts per transaction with 452 4.5.3", async () => {
    const wire = await SmtpWire.open(h.mxPort);
    try {
      await wire.command("EHLO attacker.example");
      await wire.command("MAIL FROM:<attacker@evil.example>");
      let last = 0;
      for (let i = 0; i <= MX_LIMITS.maxRecipients; i++) {
        last = (await wire.command(`RCPT TO:<r${i}@${victim.domain}>`)).code;
      }
      expect(last).toBe(452);
      expect((await wire.command(`RCPT TO:<${victim.address}>`)).text).toMatch(/^452 4\.5\.3 /);
      // A new transaction starts a new count.
      expect((await wire.command("RSET")).code).toBe(250);
      await wire.command("MAIL FROM:<attacker@evil.example>");
      expect((await wire.command(`RCPT TO:<${victim.address}>`)).code).toBe(250);
    } finally {
      wire.close();
    }
  });

  it("caps concurrent connections per IP with 421", async () => {
    const wires: SmtpWire[] = [];
    try {
      for (let i = 0; i < MX_LIMITS.maxConnectionsPerIp; i++) wires.push(await SmtpWire.open(h.mxPort));
      expect(wires.every((w) => w.greeting?.code === 220)).toBe(true);
      const extra = await SmtpWire.open(h.mxPort);
      wires.push(extra);
      expect(extra.greeting?.text).toMatch(/^421 4\.7\.0 /);
    } finally {
      for (const w of wires) w.close();
    }
    // Slots come back once connections close.
    let fresh: SmtpWire | null = null;
    for (let attempt = 0; attempt < 50; attempt++) {
      fresh = await SmtpWire.open(h.mxPort);
      if (fresh.greeting?.code === 220) break;
      fresh.close();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fresh?.greeting?.code).toBe(220);
    fresh?.close();
  });

  it("obscures Authentication-Results forged in our name, and only those (RFC 8601 section 5)", async () => {
    const wire = await transaction(h.mxPort, victim.address);
    try {
      expect((await wire.command("DATA")).code).toBe(354);
      wire.write(
        "Authentication-Results: MX.sealbox.test; spf=pass smtp.mailfrom=ceo@bank.example\r\n" +
          "Authentication-Results: (comment)\r\n mx.sealbox.test;\r\n dkim=pass header.d=bank.example\r\n" +
          "Authentication-Results: relay.elsewhere.example; spf=fail\r\n" +
          header(victim.address, "forged results") +
          "Authentication-Results: mx.sealbox.test; in the body, untouched\r\n.\r\n",
      );
      expect((await wire.reply()).code).toBe(250);
    } finally {
      wire.close();
    }
    const mailbox = await h.openMailbox(victim.address, victim.password);
    try {
      const stored = (await inboxMessages(mailbox)).map((m) => m.toString("latin1")).find((m) => m.includes("forged results"))!;
      expect(stored).toContain("\r\nX-Forged-Authentication-Results: MX.sealbox.test; spf=pass");
      expect(stored).toContain("\r\nX-Forged-Authentication-Results: (comment)\r\n mx.sealbox.test;");
      expect(stored).toContain("\r\nAuthentication-Results: relay.elsewhere.example; spf=fail");
      expect(stored).toContain("\r\n\r\nAuthentication-Results: mx.sealbox.test; in the body, untouched");
      // Ours is the one on top.
      expect(stored).toMatch(/^Received-SPF: [^]*?\r\nAuthentication-Results: mx\.sealbox\.test;\r\n/);
    } finally {
      await mailbox.close();
    }
  });

  it("still delivers normal mail after all of the above", async () => {
    const wire = await transaction(h.mxPort, victim.address);
    try {
      expect((await wire.command("DATA")).code).toBe(354);
      wire.write(header(victim.address, "legit after abuse") + "hello\r\n.\r\n");
      expect((await wire.reply()).code).toBe(250);
    } finally {
      wire.close();
    }
    expect(await subjects()).toEqual(["forged results", "legit after abuse"]);
  });
});

describe("MX rate limit per IP", () => {
  let edge: EdgeHandle;
  let h: InboundHarness;
  let victim: TestMailboxData;

  beforeAll(async () => {
    edge = await startEdge();
    h = await startInboundHarness(edge, { mxOverrides: { rateLimit: { messages: 3, windowMs: 60_000 } } });
    victim = await createTestMailbox(edge, "victim");
  });

  afterAll(async () => {
    await h?.close();
    await edge?.stop();
  });

  it("answers 450 4.7.1 to the transaction past the limit, on any connection from that IP", async () => {
    const wire = await SmtpWire.open(h.mxPort);
    try {
      await wire.command("EHLO busy.example");
      for (let i = 0; i < 3; i++) {
        expect((await wire.command("MAIL FROM:<busy@sender.example>")).code).toBe(250);
        expect((await wire.command("RSET")).code).toBe(250);
      }
      expect((await wire.command("MAIL FROM:<busy@sender.example>")).text).toMatch(/^450 4\.7\.1 /);
    } finally {
      wire.close();
    }
    const other = await SmtpWire.open(h.mxPort);
    try {
      await other.command("EHLO busy.example");
      expect((await other.command("MAIL FROM:<busy@sender.example>")).code).toBe(450);
      expect((await other.command(`RCPT TO:<${victim.address}>`)).code).toBe(503);
    } finally {
      other.close();
    }
  });
});

describe("MX memory budget for DATA", () => {
  let edge: EdgeHandle;
  let h: InboundHarness;
  let victim: TestMailboxData;

  beforeAll(async () => {
    edge = await startEdge();
    h = await startInboundHarness(edge, { mxOverrides: { maxBufferedBytes: 100 * 1024 } });
    victim = await createTestMailbox(edge, "victim");
  });

  afterAll(async () => {
    await h?.close();
    await edge?.stop();
  });

  it("answers 452 4.3.1 when the transfers in flight hold the whole budget, and recovers", async () => {
    const line = "z".repeat(998) + "\r\n";
    const hog = await transaction(h.mxPort, victim.address);
    const other = await transaction(h.mxPort, victim.address);
    try {
      // An unfinished 80 KB transfer holds most of the 100 KB budget.
      expect((await hog.command("DATA")).code).toBe(354);
      hog.write(header(victim.address, "hog") + line.repeat(80));
      await new Promise((r) => setTimeout(r, 300));
      expect((await other.command("DATA")).code).toBe(354);
      other.write(header(victim.address, "squeezed") + line.repeat(50) + ".\r\n");
      expect((await other.reply()).text).toMatch(/^452 4\.3\.1 /);
      // Once the first transfer ends, its bytes are released.
      hog.write(".\r\n");
      expect((await hog.reply()).code).toBe(250);
      await other.command("MAIL FROM:<attacker@evil.example>");
      await other.command(`RCPT TO:<${victim.address}>`);
      expect((await other.command("DATA")).code).toBe(354);
      other.write(header(victim.address, "fits now") + line.repeat(50) + ".\r\n");
      expect((await other.reply()).code).toBe(250);
    } finally {
      hog.close();
      other.close();
    }
  });
});
