/**
 * IMAP sessions proxied to the mailbox's home node (DESIGN §2.1), with real
 * processes: the edge in workerd, storage nodes A and B, imapflow and a raw
 * wire client on A, mail into A's MX (relayed to B).
 *
 * The mailbox is homed on B (its first login is on B). Checked: through A a
 * client lists, selects, fetches a relayed message byte for byte, appends
 * and stores; a session on B and the proxied session on A see each other's
 * changes at once (IDLE); A's login answers carry the capabilities of the
 * session B runs; a wrong password through A gets the same NO as on B; A
 * never holds a file of the mailbox; COMPRESS=DEFLATE runs on B through
 * A's byte copy (imapflow turns it on by itself; a raw zlib client checks a
 * fetch byte for byte, IDLE news and the bytes on the wire); a graceful stop
 * of B, or of A, ends every proxied client with BYE — idle, in IDLE or
 * compressed — with B's side of each session ended and an APPEND answered OK
 * before A's stop in the mailbox; a B that stops answering (SIGSTOP) ends
 * the client with BYE through the keepalive, while a pause shorter than
 * PEER_LIMITS.proxyKeepaliveMs (set to KEEPALIVE_MS here) keeps it; a killed
 * B ends A's proxied client with BYE while A keeps serving others; with B
 * down the login is NO [UNAVAILABLE]; neither node logs the password, the
 * address or message content.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestMailbox, eventually, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { openImapWire } from "../support/imap-wire.ts";
import type { NodeProcessHandle } from "../support/node-process.ts";
import { newNodeSlot, startNodeSlot, type NodeSlot } from "../support/peer-nodes.ts";
import { withoutTraceHeaders } from "../mx/support/inbound-harness.ts";
import { filesUnder, imapClient, markedMessage, sendToMx } from "../support/mail-clients.ts";
import { appendMessage, quote, WireClient } from "../imap/harness.ts";

/** A's keepalive in this test: long enough for a loaded machine, short enough to wait for. */
const KEEPALIVE_MS = 3_000;

function existsCount(lines: string[]): number {
  return Number(lines.map((l) => /^\* (\d+) EXISTS$/.exec(l)?.[1]).find((n) => n !== undefined));
}

describe("IMAP sessions proxied to the home node over the peer link", () => {
  let edge: EdgeHandle;
  let alice: TestMailboxData;
  let mailboxId: string;
  let a: NodeSlot;
  let b: NodeSlot;

  const slot = (label: string): Promise<NodeSlot> => newNodeSlot(edge, label);

  const start = (node: NodeSlot): Promise<NodeProcessHandle> => startNodeSlot(edge, node, { SEALBOX_PEER_KEEPALIVE_MS: String(KEEPALIVE_MS) });

  const aPort = () => a.process!.imapPort;
  const bPort = () => b.process!.imapPort;

  /** A raw client logged in as alice on `port`; with `compressed`, after COMPRESS DEFLATE (RFC 4978). */
  const wireLogin = async (port: number, options: { compressed?: boolean } = {}): Promise<WireClient> => {
    const client = await WireClient.connect(port);
    expect(await client.readLine()).toMatch(/^\* OK /);
    expect((await client.command(`LOGIN ${alice.address} ${quote(alice.password)}`)).status).toBe("OK");
    if (options.compressed) {
      expect((await client.command("COMPRESS DEFLATE")).tagged).toMatch(/ OK /);
      client.compress();
    }
    return client;
  };

  /** Every line up to the close of the connection. */
  const linesUntilClosed = async (client: WireClient): Promise<string[]> => {
    const lines: string[] = [];
    for (let line = await client.readLine(); line !== null; line = await client.readLine()) lines.push(line);
    return lines;
  };

  const sessionLogs = (node: NodeSlot, msg: string) => node.process!.logs.filter((l) => l.msg === msg).length;

  beforeAll(async () => {
    edge = await startEdge();
    a = await slot("a");
    b = await slot("b");
    alice = await createTestMailbox(edge, "alice");
    await Promise.all([start(a), start(b)]);
    // The first login places the mailbox on B.
    const client = imapClient(bPort(), alice);
    await client.connect();
    await client.logout();
    const route = await fetch(`${edge.url}/v1/admin/directory/route`, {
      method: "POST",
      headers: { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ address: alice.address }),
    });
    const routed = (await route.json()) as { mailboxId: string; homeNode: string | null };
    expect(routed.homeNode).toBe(b.keys.nodeId);
    mailboxId = routed.mailboxId;
  });

  afterAll(async () => {
    await a?.process?.kill();
    await b?.process?.kill();
    await edge?.stop();
  });

  it("serves imapflow on A from the mailbox on B: list, fetch of relayed mail byte for byte, append, store", async () => {
    const marker = `m${randomBytes(6).toString("hex")}`;
    const raw = markedMessage(alice.address, "proxy", marker);
    expect(await sendToMx(a.mxPort, alice.address, raw)).toMatch(/^250 /);
    const client = imapClient(aPort(), alice);
    await client.connect();
    try {
      const folders = await client.list();
      expect(folders.map((f) => f.path)).toContain("INBOX");
      const lock = await client.getMailboxLock("INBOX");
      try {
        let found: { uid: number; source: Buffer } | undefined;
        await eventually(async () => {
          for await (const fetched of client.fetch("1:*", { uid: true, source: true })) {
            if (fetched.source?.includes(marker)) found = { uid: fetched.uid, source: fetched.source };
          }
          return found !== undefined;
        }, 10_000, "the relayed message through A");
        expect(withoutTraceHeaders(found!.source).equals(raw)).toBe(true);
        expect(await client.messageFlagsAdd(String(found!.uid), ["\\Flagged"], { uid: true })).toBe(true);
        const appended = Buffer.from(`Subject: appended ${marker}\r\n\r\nappended through A ${marker}\r\n`);
        const result = await client.append("INBOX", appended, ["\\Seen"]);
        expect(result && typeof result === "object" ? result.uid : undefined).toBeGreaterThan(found!.uid);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
    // B holds what A's client did.
    const direct = imapClient(bPort(), alice);
    await direct.connect();
    try {
      const lock = await direct.getMailboxLock("INBOX");
      try {
        const seen: { flags: string[]; source: string }[] = [];
        for await (const fetched of direct.fetch("1:*", { flags: true, source: true })) {
          if (fetched.source?.includes(marker)) seen.push({ flags: [...(fetched.flags ?? [])], source: fetched.source.toString("latin1") });
        }
        expect(seen).toHaveLength(2);
        expect(seen.find((m) => m.source.includes("confidential body"))?.flags).toContain("\\Flagged");
        const appended = seen.find((m) => m.source.startsWith("Subject: appended"));
        expect(appended?.source).toBe(`Subject: appended ${marker}\r\n\r\nappended through A ${marker}\r\n`);
        expect(appended?.flags).toContain("\\Seen");
      } finally {
        lock.release();
      }
    } finally {
      await direct.logout();
    }
  });

  it("answers LOGIN on A as B would, and A's IDLE sees mail appended on B at once; B sees A's STORE", async () => {
    const onB = await openImapWire(bPort());
    const onA = await openImapWire(aPort());
    try {
      const direct = await onB.command(`LOGIN ${alice.address} "${alice.password}"`);
      const proxied = await onA.command(`LOGIN ${alice.address} "${alice.password}"`);
      expect(proxied.status).toMatch(/^OK \[CAPABILITY IMAP4rev1 /);
      expect(proxied.status).toBe(direct.status);
      // Capabilities asked for after login are the proxied session's, the same as on B.
      expect((await onA.command("CAPABILITY")).lines).toEqual((await onB.command("CAPABILITY")).lines);
      const list = await onA.command('LIST "" "*"');
      expect(list.status).toMatch(/^OK/);
      expect(list.lines.some((l) => /^\* LIST \([^)]*\) "\/" INBOX$/.test(l))).toBe(true);
      const selectedA = await onA.command("SELECT INBOX");
      expect(selectedA.status).toMatch(/^OK \[READ-WRITE\]/);
      const before = existsCount(selectedA.lines);
      expect((await onB.command("SELECT INBOX")).status).toMatch(/^OK/);

      onA.send("i1 IDLE");
      expect(await onA.readLine()).toMatch(/^\+ /);
      const body = `Subject: via B\r\n\r\nappended on B\r\n`;
      const appended = await onB.command(`APPEND INBOX {${body.length}+}\r\n${body}`);
      expect(appended.status).toMatch(/^OK \[APPENDUID /);
      // RFC 2177: the proxied session on A is told while it idles.
      expect(await onA.readLine()).toBe(`* ${before + 1} EXISTS`);
      onA.send("DONE");
      for (let line = await onA.readLine(); !line.startsWith("i1 "); line = await onA.readLine());

      const fetched = await onA.command(`FETCH ${before + 1} BODY.PEEK[]`);
      expect(fetched.lines.join("\r\n")).toContain(`BODY[] {${body.length}}`);
      expect((await onA.command(`STORE ${before + 1} +FLAGS (\\Answered)`)).status).toMatch(/^OK/);
      // B's session learns of A's change with its next command (RFC 3501 §7.4.1 flag FETCH).
      const noop = await onB.command("NOOP");
      expect(noop.lines.some((l) => l.startsWith(`* ${before + 1} FETCH (`) && l.includes("\\Answered"))).toBe(true);

      const logout = await onA.command("LOGOUT");
      expect(logout.lines.some((l) => l.startsWith("* BYE"))).toBe(true);
      expect(logout.status).toMatch(/^OK/);
    } finally {
      onA.close();
      onB.close();
    }
  });

  it("refuses a wrong password through A with the same NO as B, and passes pipelined commands through", async () => {
    const onB = await openImapWire(bPort());
    const onA = await openImapWire(aPort());
    try {
      const direct = await onB.command(`LOGIN ${alice.address} "not-the-password"`);
      const proxied = await onA.command(`LOGIN ${alice.address} "not-the-password"`);
      expect(direct.status).toMatch(/^NO \[AUTHENTICATIONFAILED\]/);
      expect(proxied.status).toBe(direct.status);
      // A command pipelined right behind LOGIN reaches the home node's session.
      const token = Buffer.from(`\0${alice.address}\0${alice.password}`).toString("base64");
      onA.send(`p1 AUTHENTICATE PLAIN ${token}\r\np2 NAMESPACE`);
      expect(await onA.readLine()).toMatch(/^p1 OK \[CAPABILITY /);
      expect(await onA.readLine()).toMatch(/^\* NAMESPACE /);
      expect(await onA.readLine()).toMatch(/^p2 OK/);
    } finally {
      onA.close();
      onB.close();
    }
  });

  it("never puts a file of the mailbox on A", async () => {
    const files = await filesUnder(a.dataDir);
    expect(files.filter((file) => path.basename(file).includes(mailboxId))).toEqual([]);
    expect(a.process!.logs.some((l) => l.msg === "imap login proxied to the home node")).toBe(true);
  });

  it("runs COMPRESS=DEFLATE on B through A: a fetch byte for byte and B's append seen in IDLE, deflated on the wire", async () => {
    const marker = `z${randomBytes(6).toString("hex")}`;
    const body = `Subject: compressed ${marker}\r\n\r\n${"deflate me ".repeat(300)}${marker}\r\n`;
    const onB = await wireLogin(bPort());
    const onA = await wireLogin(aPort(), { compressed: true });
    try {
      const appended = await appendMessage(onB, "INBOX", body);
      const uid = /APPENDUID \d+ (\d+)/.exec(appended.tagged)?.[1];
      expect(uid).toBeDefined();
      const wire: Buffer[] = [];
      onA.socket.on("data", (chunk: Buffer) => wire.push(chunk));
      const selected = await onA.command("SELECT INBOX");
      expect(selected.status).toBe("OK");
      const exists = existsCount(selected.lines);
      const fetched = await onA.command(`UID FETCH ${uid} BODY.PEEK[]`);
      expect(fetched.lines.join("\r\n")).toContain(`BODY[] {${body.length}}\r\n${body})`);
      // The client's bytes were deflated: smaller than the message, and without its text.
      const received = Buffer.concat(wire);
      expect(received.length).toBeLessThan(body.length);
      expect(received.includes(marker)).toBe(false);

      onA.write("i1 IDLE\r\n");
      expect(await onA.readLine()).toMatch(/^\+ /);
      expect((await appendMessage(onB, "INBOX", `Subject: news ${marker}\r\n\r\nnews\r\n`)).status).toBe("OK");
      expect(await onA.readLine()).toBe(`* ${exists + 1} EXISTS`);
      onA.write("DONE\r\n");
      expect((await onA.readTagged("i1")).status).toBe("OK");
      const logout = await onA.command("LOGOUT");
      expect(logout.lines[0]).toMatch(/^\* BYE /);
    } finally {
      onA.close();
      onB.close();
    }
  });

  it("ends A's proxied clients with B's BYE when B shuts down: selected, in IDLE and compressed", async () => {
    const selected = await wireLogin(aPort());
    const idling = await wireLogin(aPort());
    const compressed = await wireLogin(aPort(), { compressed: true });
    try {
      for (const client of [selected, idling, compressed]) expect((await client.command("SELECT INBOX")).status).toBe("OK");
      idling.write("i1 IDLE\r\n");
      expect(await idling.readLine()).toMatch(/^\+ /);
      expect(await b.process!.stop()).toBe(0);
      for (const client of [selected, idling, compressed]) expect(await linesUntilClosed(client)).toEqual(["* BYE Server shutting down."]);
    } finally {
      for (const client of [selected, idling, compressed]) client.close();
      await b.process!.stop();
      await start(b);
    }
  });

  it("ends A's proxied clients with BYE when A shuts down; B ends its side and keeps what A's client appended", async () => {
    const marker = `s${randomBytes(6).toString("hex")}`;
    const selected = await wireLogin(aPort());
    const idling = await wireLogin(aPort());
    const compressed = await wireLogin(aPort(), { compressed: true });
    try {
      expect((await appendMessage(selected, "INBOX", `Subject: before stop ${marker}\r\n\r\nkept\r\n`)).tagged).toMatch(/ OK \[APPENDUID /);
      for (const client of [selected, idling, compressed]) expect((await client.command("SELECT INBOX")).status).toBe("OK");
      idling.write("i1 IDLE\r\n");
      expect(await idling.readLine()).toMatch(/^\+ /);
      expect(sessionLogs(b, "proxied imap session accepted")).toBeGreaterThanOrEqual(3);
      expect(await a.process!.stop()).toBe(0);
      // B said it, in each session's own stream (the compressed one deflated).
      for (const client of [selected, idling, compressed]) expect(await linesUntilClosed(client)).toEqual(["* BYE Server shutting down."]);
      await eventually(
        () => sessionLogs(b, "proxied imap session ended") === sessionLogs(b, "proxied imap session accepted"),
        10_000,
        "B to end every proxied session",
      );
    } finally {
      for (const client of [selected, idling, compressed]) client.close();
      await a.process!.stop();
      await start(a);
    }
    const direct = await wireLogin(bPort());
    try {
      expect((await direct.command("SELECT INBOX")).status).toBe("OK");
      expect((await direct.command(`SEARCH SUBJECT "${marker}"`)).lines[0]).toMatch(/^\* SEARCH \d+$/);
    } finally {
      direct.close();
    }
  });

  it("ends A's proxied client with BYE once B stops answering for the keepalive limit, and not before", async () => {
    const client = await wireLogin(aPort());
    const pid = b.process!.child.pid!;
    try {
      expect((await client.command("SELECT INBOX")).status).toBe("OK");
      // Silent for a tenth of the limit: the session goes on.
      process.kill(pid, "SIGSTOP");
      await new Promise((resolve) => setTimeout(resolve, KEEPALIVE_MS / 10));
      process.kill(pid, "SIGCONT");
      expect((await client.command("NOOP")).status).toBe("OK");
      // Silent for good: A notices while B is still stopped (TCP alone would wait for minutes).
      process.kill(pid, "SIGSTOP");
      expect(await linesUntilClosed(client)).toEqual([expect.stringMatching(/^\* BYE /)]);
    } finally {
      process.kill(pid, "SIGCONT");
      client.close();
    }
    // Resumed, B finds the link gone and ends its side.
    await eventually(
      () => sessionLogs(b, "proxied imap session ended") === sessionLogs(b, "proxied imap session accepted"),
      10_000,
      "B to end the session whose link A dropped",
    );
  });

  it("ends A's proxied client with BYE when B dies, keeps serving others, and answers NO [UNAVAILABLE] while B is down", async () => {
    const onA = await wireLogin(aPort());
    expect((await onA.command("SELECT INBOX")).status).toBe("OK");
    await b.process!.kill();
    expect(await linesUntilClosed(onA)).toEqual([expect.stringMatching(/^\* BYE /)]);
    onA.close();

    // A still serves a mailbox whose first login places it on A.
    const bob = await createTestMailbox(edge, "bob");
    const bobClient = imapClient(aPort(), bob);
    await bobClient.connect();
    expect((await bobClient.mailboxOpen("INBOX")).path).toBe("INBOX");
    await bobClient.logout();

    const again = await openImapWire(aPort());
    try {
      expect((await again.command(`LOGIN ${alice.address} "${alice.password}"`)).status).toMatch(/^NO \[UNAVAILABLE\]/);
      expect((await again.command("NOOP")).status).toMatch(/^OK/);
    } finally {
      again.close();
    }
    const files = await filesUnder(a.dataDir);
    expect(files.filter((file) => path.basename(file).includes(mailboxId))).toEqual([]);
  });

  it("never logs passwords, addresses or message content on either node", () => {
    for (const node of [a, b]) {
      const output = node.process!.output();
      expect(output).not.toContain(alice.password);
      expect(output).not.toContain(alice.address);
      expect(output).not.toContain("confidential body");
      expect(output).not.toContain("appended through A");
      expect(output).not.toContain(node.keys.secretKey);
    }
  });
});
