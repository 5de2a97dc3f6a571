/**
 * Inbound mail relayed to the mailbox's home node, with real processes: the
 * edge in workerd, two storage-node processes A and B, real SMTP (nodemailer)
 * into A's MX, real IMAP (imapflow) on B.
 *
 * The mailbox is homed on B (its first login is on B). Checked: mail sent to
 * A's MX reads back on B byte for byte below the trace headers, and an IDLE
 * session on B sees it; with B down A still answers 250, keeps only sealed
 * bytes on disk, and delivers exactly once when B is back; SIGKILL of A after
 * 250 while B is down loses nothing and doubles nothing; B's peer port
 * refuses a forged or replayed handshake.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { generateNodeKeyPair, handshakeHeaders, signHandshake, type HandshakeData } from "../../shared/tunnel/handshake.ts";
import { fromBase64 } from "../../shared/crypto/encoding.ts";
import { seal } from "../../shared/crypto/sealing.ts";
import type { RelayEntryData } from "../../shared/tunnel/messages.ts";
import { peerContext } from "../../shared/tunnel/peer-handshake.ts";
import { createLogger } from "../../storage-node/log.ts";
import { newDeliveryId } from "../../storage-node/mx/delivery.ts";
import { PeerDirectory } from "../../storage-node/peer/peer-directory.ts";
import { PeerPool } from "../../storage-node/peer/peer-pool.ts";
import { spoolSealContext } from "../../storage-node/spool/draining-store.ts";
import { createTestMailbox, eventually, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { openImapWire } from "../support/imap-wire.ts";
import type { NodeProcessHandle } from "../support/node-process.ts";
import { newNodeSlot, startNodeSlot, type NodeSlot } from "../support/peer-nodes.ts";
import { withoutTraceHeaders } from "../mx/support/inbound-harness.ts";
import { filesUnder, imapClient, markedMessage, sendToMx } from "../support/mail-clients.ts";

/** Every INBOX message on B whose body carries `marker`, as raw bytes. */
async function messagesWith(port: number, who: { address: string; password: string }, marker: string): Promise<Buffer[]> {
  const client = imapClient(port, who);
  await client.connect();
  try {
    const lock = await client.getMailboxLock("INBOX");
    try {
      const found: Buffer[] = [];
      for await (const fetched of client.fetch("1:*", { source: true })) {
        if (fetched.source && fetched.source.includes(marker)) found.push(fetched.source);
      }
      return found;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

function rawDial(port: number, handshake: HandshakeData): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, { headers: handshakeHeaders(handshake) });
    socket.on("unexpected-response", (_request, response) => {
      socket.terminate();
      resolve(response.statusCode ?? 0);
    });
    socket.on("open", () => {
      socket.terminate();
      resolve(101);
    });
    socket.on("error", () => resolve(0));
  });
}

describe("mail relayed to the home node over the peer link", () => {
  let edge: EdgeHandle;
  let alice: TestMailboxData;
  let a: NodeSlot;
  let b: NodeSlot;

  const slot = (label: string): Promise<NodeSlot> => newNodeSlot(edge, label);

  const start = (node: NodeSlot): Promise<NodeProcessHandle> => startNodeSlot(edge, node, { SEALBOX_RELAY_RETRY_BASE_MS: "200" });

  const relayedCount = (node: NodeSlot) => node.process?.logs.filter((l) => l.msg === "queued mail relayed to its home node").length ?? 0;

  beforeAll(async () => {
    edge = await startEdge();
    a = await slot("a");
    b = await slot("b");
    alice = await createTestMailbox(edge, "alice");
    await Promise.all([start(a), start(b)]);
    // The first login places the mailbox on B.
    const client = imapClient(b.process!.imapPort, alice);
    await client.connect();
    await client.logout();
  });

  afterAll(async () => {
    await a?.process?.kill();
    await b?.process?.kill();
    await edge?.stop();
  });

  it("delivers mail sent to A into the mailbox on B, byte for byte, and B's IDLE session sees it", async () => {
    const idle = await openImapWire(b.process!.imapPort);
    const marker = `m${randomBytes(6).toString("hex")}`;
    const raw = markedMessage(alice.address, "relay", marker);
    try {
      expect((await idle.command(`LOGIN ${alice.address} "${alice.password}"`)).status).toMatch(/^OK/);
      const selected = await idle.command("SELECT INBOX");
      const before = Number(selected.lines.map((l) => /^\* (\d+) EXISTS$/.exec(l)?.[1]).find((n) => n !== undefined));
      idle.send("i1 IDLE");
      expect(await idle.readLine()).toMatch(/^\+ /);
      expect(await sendToMx(a.mxPort, alice.address, raw)).toMatch(/^250 /);
      // RFC 2177: the new message is announced while the client idles.
      expect(await idle.readLine()).toBe(`* ${before + 1} EXISTS`);
      idle.send("DONE");
      for (let line = await idle.readLine(); !line.startsWith("i1 "); line = await idle.readLine());
    } finally {
      idle.close();
    }
    const found = await messagesWith(b.process!.imapPort, alice, marker);
    expect(found).toHaveLength(1);
    expect(found[0].toString("latin1")).toMatch(/^Received: from [^\r\n]*\r\n\s+by localhost \(Sealbox\)/m);
    expect(withoutTraceHeaders(found[0]).equals(raw)).toBe(true);
    // Relayed at once, not through the queue.
    expect(relayedCount(a)).toBe(0);
    expect(a.process!.logs.some((l) => l.msg === "home node not reachable; relay queued")).toBe(false);
  });

  it("answers 250 with B down, keeps only sealed bytes, and delivers exactly once when B is back", async () => {
    await b.process!.stop();
    const marker = `q${randomBytes(6).toString("hex")}`;
    expect(await sendToMx(a.mxPort, alice.address, markedMessage(alice.address, "relay", marker))).toMatch(/^250 /);
    await eventually(() => a.process!.logs.some((l) => l.msg === "home node not reachable; relay queued"), 10_000, "the relay to be queued");
    for (const file of await filesUnder(a.dataDir)) {
      const bytes = await readFile(file);
      expect(bytes.includes(marker), `plaintext in ${path.relative(a.dataDir, file)}`).toBe(false);
      expect(bytes.includes("confidential body"), `plaintext in ${path.relative(a.dataDir, file)}`).toBe(false);
    }
    await start(b);
    await eventually(() => relayedCount(a) >= 1, 60_000, "A to relay the queued mail");
    expect(await messagesWith(b.process!.imapPort, alice, marker)).toHaveLength(1);
  });

  it("keeps a 250'd message across SIGKILL of A while B is down, and delivers it once", async () => {
    await b.process!.stop();
    const marker = `k${randomBytes(6).toString("hex")}`;
    expect(await sendToMx(a.mxPort, alice.address, markedMessage(alice.address, "relay", marker))).toMatch(/^250 /);
    await a.process!.kill();
    await start(b);
    await start(a);
    await eventually(() => relayedCount(a) >= 1, 60_000, "the restarted A to relay the queued mail");
    const found = await messagesWith(b.process!.imapPort, alice, marker);
    expect(found).toHaveLength(1);
    expect(withoutTraceHeaders(found[0]).equals(markedMessage(alice.address, "relay", marker))).toBe(true);
  });

  it("refuses a forged or replayed peer handshake on B's peer port", async () => {
    const port = b.peerPort;
    const target = peerContext(b.keys.nodeId);
    const forger = generateNodeKeyPair();
    expect(await rawDial(port, signHandshake(a.keys.nodeId, forger.secretKey, Date.now(), target))).toBe(401);
    expect(await rawDial(port, signHandshake("node_unregistered", forger.secretKey, Date.now(), target))).toBe(401);
    expect(await rawDial(port, signHandshake(a.keys.nodeId, a.keys.secretKey, Date.now() - 10 * 60_000, target))).toBe(401);
    const good = signHandshake(a.keys.nodeId, a.keys.secretKey, Date.now(), target);
    expect(await rawDial(port, good)).toBe(101);
    expect(await rawDial(port, good)).toBe(401);
  });

  it("places a mailbox nobody has logged in to on the node that receives its first mail, where the first login drains it", async () => {
    const bob = await createTestMailbox(edge, "bob");
    const marker = `p${randomBytes(6).toString("hex")}`;
    expect(await sendToMx(b.mxPort, bob.address, markedMessage(bob.address, "relay", marker))).toMatch(/^250 /);
    // The edge now names B as the home node, whichever node asks.
    const response = await fetch(`${edge.url}/v1/admin/directory/route`, {
      method: "POST",
      headers: { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ address: bob.address }),
    });
    expect(((await response.json()) as { homeNode: string | null }).homeNode).toBe(b.keys.nodeId);
    // Mail for it arriving at A is relayed to B as well.
    const second = `${marker}x`;
    expect(await sendToMx(a.mxPort, bob.address, markedMessage(bob.address, "relay", second))).toMatch(/^250 /);
    expect(await messagesWith(b.process!.imapPort, bob, marker)).toHaveLength(2);
  });

  it("absorbs a relay repeated after a lost acknowledgement, before and after the drain", async () => {
    const route = (await (
      await fetch(`${edge.url}/v1/admin/directory/route`, {
        method: "POST",
        headers: { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ address: alice.address }),
      })
    ).json()) as { aliasId: string; mailboxId: string; sealingPublicKey: string };
    const marker = `r${randomBytes(6).toString("hex")}`;
    const raw = markedMessage(alice.address, "relay", marker);
    const id = `${newDeliveryId()}.0`;
    const entry: RelayEntryData = {
      id,
      mailboxId: route.mailboxId,
      aliasId: route.aliasId,
      receivedAt: Date.now(),
      size: raw.length,
      sealed: Buffer.from(seal(fromBase64(route.sealingPublicKey), raw, spoolSealContext(id))).toString("base64"),
    };
    // This test process dials B as node A would (A's key; B checks it at the real edge).
    const pool = new PeerPool({
      nodeId: a.keys.nodeId,
      nodeSecretKey: a.keys.secretKey,
      directory: new PeerDirectory(async () => ({ nodeId: b.keys.nodeId, publicKey: b.keys.publicKey, peerUrl: `ws://127.0.0.1:${b.peerPort}` })),
      logger: createLogger("silent"),
    });
    try {
      expect(await pool.call(b.keys.nodeId, "spool.relay", entry, 10_000)).toEqual({ ok: true, value: { stored: true } });
      expect(await pool.call(b.keys.nodeId, "spool.relay", entry, 10_000)).toEqual({ ok: true, value: { stored: true } });
      expect(await messagesWith(b.process!.imapPort, alice, marker)).toHaveLength(1);
      // Once more after the drain removed it from B's spool: the mailbox's dedupe key absorbs it.
      expect(await pool.call(b.keys.nodeId, "spool.relay", entry, 10_000)).toEqual({ ok: true, value: { stored: true } });
      const found = await messagesWith(b.process!.imapPort, alice, marker);
      expect(found).toHaveLength(1);
      expect(withoutTraceHeaders(found[0]).equals(raw)).toBe(true);
      // Malformed sealed bytes are refused, not stored.
      expect(await pool.call(b.keys.nodeId, "spool.relay", { ...entry, id: `${id}x`, sealed: "not base64!" }, 10_000)).toMatchObject({
        ok: false,
        error: { code: "invalid-params" },
      });
    } finally {
      await pool.close();
    }
  });

  it("never logs message content, addresses or keys", () => {
    for (const node of [a, b]) {
      const output = node.process!.output();
      expect(output).not.toContain("confidential body");
      expect(output).not.toContain(alice.address);
      expect(output).not.toContain(alice.password);
      expect(output).not.toContain(node.spoolKey);
      expect(output).not.toContain(node.keys.secretKey);
    }
  });
});
