/**
 * Durability of `250` on a real node process: SIGKILL at random points during
 * a stream of deliveries, restart, and every acknowledged message is in the
 * mailbox exactly once (read over IMAP, which drains the sealed spool), and
 * at its forward and webhook targets exactly once per delivery id (the
 * Received id at the sink, the Idempotency-Key at the webhook). Then:
 * with the mailbox open, an IDLE session sees new mail within a second; and
 * no file under the data directory holds any message's plaintext.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ImapFlow } from "imapflow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestMailbox, eventually, registerTestNode, type TestMailboxData } from "../support/api.ts";
import { freePort, startEdge, type EdgeHandle } from "../support/edge.ts";
import { startNodeProcess, type NodeProcessHandle } from "../support/node-process.ts";
import { newSpoolKey } from "./support/inbound-harness.ts";
import { SmtpWire } from "./support/smtp-wire.ts";
import { startReceiver, startSink, type Receiver, type Sink } from "./support/targets.ts";
import { filesUnder } from "../support/mail-clients.ts";

/** A real IMAP client logged in as the test mailbox (self-signed STARTTLS accepted). */
function imapClient(port: number, who: { address: string; password: string }): ImapFlow {
  return new ImapFlow({ host: "127.0.0.1", port, secure: false, auth: { user: who.address, pass: who.password }, logger: false, tls: { rejectUnauthorized: false } });
}

function message(to: string, marker: string): string {
  return (
    `From: <sender@elsewhere.example>\r\nTo: <${to}>\r\nSubject: crash ${marker}\r\nMessage-ID: <${marker}@elsewhere.example>\r\n\r\n` +
    `secret body ${marker}\r\n`
  );
}

/** Sends messages one after another on one connection until it dies; returns markers that got 250. */
async function sendUntilDead(port: number, to: string, prefix: string, acked: Set<string>, attempted: Set<string>): Promise<void> {
  let wire: SmtpWire;
  try {
    wire = await SmtpWire.open(port);
  } catch {
    return;
  }
  try {
    await wire.command("EHLO crash.example");
    for (let i = 0; ; i++) {
      const marker = `${prefix}x${i}x${randomBytes(4).toString("hex")}`;
      await wire.command("MAIL FROM:<sender@elsewhere.example>");
      await wire.command(`RCPT TO:<${to}>`);
      const go = await wire.command("DATA");
      if (go.code !== 354) return;
      attempted.add(marker);
      wire.write(message(to, marker) + ".\r\n");
      const reply = await wire.reply();
      if (reply.code === 250) acked.add(marker);
    }
  } catch {
    // The node died mid-conversation: whatever had no 250 is the sender's to retry.
  } finally {
    wire.close();
  }
}

describe("250 survives kill -9", () => {
  let edge: EdgeHandle;
  let keys: { nodeId: string; secretKey: string };
  let dataDir: string;
  let spoolKey: string;
  let mxPort: number;
  let node: NodeProcessHandle | null = null;
  let alice: TestMailboxData;
  let sink: Sink;
  let receiver: Receiver;

  const start = async () => {
    node = await startNodeProcess({
      edgeUrl: edge.url,
      nodeId: keys.nodeId,
      secretKey: keys.secretKey,
      dataDir,
      env: {
        SEALBOX_SPOOL_KEY: spoolKey,
        SEALBOX_MX_PORT: String(mxPort),
        SEALBOX_DNS_SERVERS: "127.0.0.1:9",
        SEALBOX_STATIC_ROUTES: `*=127.0.0.1:${sink.port}`,
        SEALBOX_ALLOW_PRIVATE_WEBHOOKS: "true",
        SEALBOX_OUTBOUND_RETRY_BASE_MS: "200",
        SEALBOX_WEBHOOK_RETRY_BASE_MS: "200",
        SEALBOX_LOG_LEVEL: "info",
      },
    });
    return node;
  };

  beforeAll(async () => {
    edge = await startEdge();
    keys = await registerTestNode(edge);
    dataDir = await mkdtemp(path.join(tmpdir(), "sealbox-crash-"));
    spoolKey = newSpoolKey();
    mxPort = await freePort();
    alice = await createTestMailbox(edge, "alice");
    sink = await startSink();
    receiver = await startReceiver();
    const [local, domain] = alice.address.split("@");
    await alice.api.request("PATCH", `/v1/domains/${domain}/aliases/${local}`, { forwardTo: ["crash@far.example"], webhooks: [{ url: receiver.url }] });
  });

  afterAll(async () => {
    await node?.kill();
    await sink?.close();
    await receiver?.close();
    await edge?.stop();
  });

  const acked = new Set<string>();
  const attempted = new Set<string>();

  it("keeps every acknowledged message, exactly once, across random SIGKILLs", async () => {
    for (let round = 0; round < 4; round++) {
      const running = await start();
      const senders = [0, 1].map((s) => sendUntilDead(mxPort, alice.address, `r${round}s${s}`, acked, attempted));
      const ackedBefore = acked.size;
      // Kill at a random point once a few messages of this round went through.
      await eventually(() => acked.size >= ackedBefore + 3 + Math.floor(Math.random() * 20), 60_000, "deliveries");
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 30)));
      await running.kill();
      await Promise.all(senders);
    }
    expect(acked.size).toBeGreaterThan(12);

    const running = await start();
    const client = imapClient(running.imapPort, alice);
    await client.connect();
    try {
      const lock = await client.getMailboxLock("INBOX");
      const seen = new Map<string, number>();
      try {
        for await (const msg of client.fetch("1:*", { source: true })) {
          const marker = /^Subject: crash (\S+)/m.exec(msg.source?.toString("utf8") ?? "")?.[1] ?? "";
          seen.set(marker, (seen.get(marker) ?? 0) + 1);
        }
      } finally {
        lock.release();
      }
      for (const marker of acked) expect(seen.get(marker), marker).toBe(1);
      for (const [marker, count] of seen) {
        expect(attempted.has(marker)).toBe(true);
        expect(count).toBe(1);
      }
    } finally {
      await client.logout();
    }

    // Forward and webhook targets: every acknowledged message arrives, once per delivery id.
    const markerOf = (text: string) => /^Subject: crash (\S+)/m.exec(text)?.[1] ?? "";
    const forwarded = () => {
      const ids = new Map<string, Set<string>>();
      for (const m of sink.received) {
        const text = m.raw.toString("latin1");
        const id = /^\tby [^\r\n]* id ([0-9a-z]+);/m.exec(text)?.[1] ?? "";
        const marker = markerOf(text);
        if (!ids.has(marker)) ids.set(marker, new Set());
        ids.get(marker)!.add(id);
      }
      return ids;
    };
    const hooked = () => {
      const ids = new Map<string, Set<string>>();
      for (const r of receiver.requests) {
        if (r.status !== 200) continue;
        const payload = JSON.parse(r.body.toString("utf8")) as { message: { subject: string } };
        const marker = payload.message.subject.replace(/^crash /, "");
        if (!ids.has(marker)) ids.set(marker, new Set());
        ids.get(marker)!.add(String(r.headers["idempotency-key"]));
      }
      return ids;
    };
    await eventually(() => [...acked].every((m) => forwarded().has(m) && hooked().has(m)), 30_000, "forwards and webhooks");
    for (const marker of acked) {
      expect(forwarded().get(marker)?.size, marker).toBe(1);
      expect(hooked().get(marker)?.size, marker).toBe(1);
    }
    for (const marker of forwarded().keys()) expect(attempted.has(marker)).toBe(true);
  });

  it("shows new mail to an IDLE session within a second of the 250", async () => {
    const running = node!;
    const client = imapClient(running.imapPort, alice);
    await client.connect();
    try {
      const lock = await client.getMailboxLock("INBOX");
      try {
        const before = client.mailbox ? client.mailbox.exists : 0;
        let exists = before;
        client.on("exists", (data: { count: number }) => (exists = data.count));
        const idle = client.idle();
        const wire = await SmtpWire.open(mxPort);
        try {
          await wire.command("EHLO idle.example");
          await wire.command("MAIL FROM:<sender@elsewhere.example>");
          await wire.command(`RCPT TO:<${alice.address}>`);
          await wire.command("DATA");
          wire.write(message(alice.address, "idle") + ".\r\n");
          expect((await wire.reply()).code).toBe(250);
        } finally {
          wire.close();
        }
        await eventually(() => exists === before + 1, 1_000, "EXISTS in IDLE");
        void idle;
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  });

  it("leaves no plaintext of any message under the data directory", async () => {
    // Mail for an offline mailbox: the node holds it only sealed.
    const bob = await createTestMailbox(edge, "bob");
    // Jobs that cannot complete, so the queues still hold bob's mail when the disk is scanned.
    const deadPort = await freePort();
    const [local, domain] = bob.address.split("@");
    await bob.api.request("PATCH", `/v1/domains/${domain}/aliases/${local}`, {
      forwardTo: ["stuck@far.example"],
      webhooks: [{ url: `http://127.0.0.1:${deadPort}/hook` }],
    });
    const markers: string[] = [];
    const wire = await SmtpWire.open(mxPort);
    try {
      await wire.command("EHLO rest.example");
      for (let i = 0; i < 5; i++) {
        const marker = `atrest${randomBytes(8).toString("hex")}`;
        markers.push(marker);
        await wire.command("MAIL FROM:<sender@elsewhere.example>");
        await wire.command(`RCPT TO:<${bob.address}>`);
        await wire.command("DATA");
        wire.write(message(bob.address, marker) + ".\r\n");
        expect((await wire.reply()).code).toBe(250);
      }
    } finally {
      wire.close();
    }
    // Kill, so nothing gets a chance to tidy up first.
    await node!.kill();
    const files = await filesUnder(dataDir);
    expect(files.some((f) => f.includes(`${path.sep}spool${path.sep}`))).toBe(true);
    let scanned = 0;
    for (const file of files) {
      if ((await stat(file)).size === 0) continue;
      const bytes = await readFile(file);
      scanned += bytes.length;
      for (const marker of [...markers, ...acked]) {
        expect(bytes.includes(Buffer.from(marker)), `${path.relative(dataDir, file)} holds plaintext`).toBe(false);
      }
    }
    expect(scanned).toBeGreaterThan(0);
    // Still there, sealed: the next open drains it.
    const running = await start();
    const client = imapClient(running.imapPort, bob);
    await client.connect();
    try {
      const status = await client.status("INBOX", { messages: true });
      expect(status === false ? null : status.messages).toBe(5);
    } finally {
      await client.logout();
    }
  });
});
