/**
 * The acceptance step for mailboxes homed on another node (no SMTP, no
 * sockets: the peer link is a function here; relay.test.ts runs it for real).
 * Checked on a real encrypted spool file: an acknowledged relay leaves nothing
 * behind here; an unacknowledged one becomes a relay job committed with the
 * delivery's webhook job; the relayed bytes are the sealed message (this node
 * never keeps or sends plaintext for the mailbox); an unplaced mailbox is
 * placed first; a placement failure is temporary; the route's quota applies.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { toBase64 } from "../../shared/crypto/encoding.ts";
import { generateSealingKeyPair, openSealed } from "../../shared/crypto/sealing.ts";
import type { AliasRouteData } from "../../shared/tunnel/records.ts";
import { createLogger } from "../../storage-node/log.ts";
import { Deliverer, DeliveryError, newDeliveryId, type DeliveryPeersOptions } from "../../storage-node/mx/delivery.ts";
import { DrainingStore, spoolSealContext } from "../../storage-node/spool/draining-store.ts";
import { SpoolDatabase, type SealedEntryData } from "../../storage-node/spool/spool-database.ts";
import { createMemoryStore } from "../../storage-node/store/memory-store.ts";

const keys = generateSealingKeyPair();
const remoteRoute: AliasRouteData = {
  address: "a@b.example",
  aliasId: "alias1",
  mailboxId: "mbx1",
  homeNode: "node-b",
  imap: true,
  quotaBytes: null,
  sealingPublicKey: toBase64(keys.publicKey),
  forwardTo: [],
  webhooks: [{ id: "wh1", url: "https://hook.example/in", signingKey: toBase64(new Uint8Array(32)) }],
};

async function setup(peers: Partial<DeliveryPeersOptions> & Pick<DeliveryPeersOptions, "relay">) {
  const spool = SpoolDatabase.open({ dir: await mkdtemp(path.join(tmpdir(), "sealbox-relay-deliver-")), key: new Uint8Array(randomBytes(32)) });
  const store = new DrainingStore({ base: createMemoryStore(), spool, logger: createLogger("silent") });
  const queued: { relay?: boolean }[] = [];
  const deliverer = new Deliverer({
    spool,
    store,
    onQueued: (kinds) => queued.push(kinds),
    peers: { nodeId: "node-a", place: () => Promise.reject(new Error("not expected")), ...peers },
  });
  return { spool, deliverer, queued };
}

const message = (raw: Buffer, route: AliasRouteData = remoteRoute) => ({
  deliveryId: newDeliveryId(),
  raw,
  envelope: { mailFrom: "x@y.example", rcptTo: [route.address], remoteAddress: "127.0.0.1", helo: "y", secure: false },
  authResults: "{}",
  receivedAt: new Date(),
  routes: [route],
});

describe("delivery to a mailbox homed on another node", () => {
  it("relays the sealed message and keeps nothing of it once the home node acknowledged", async () => {
    const sent: { homeNode: string; entry: SealedEntryData }[] = [];
    const { spool, deliverer } = await setup({
      relay: async (homeNode, entry) => {
        sent.push({ homeNode, entry });
        return true;
      },
    });
    const raw = Buffer.from("Subject: relayed\r\n\r\nrelayed body\r\n");
    const m = message(raw);
    expect(await deliverer.deliver(m)).toMatchObject({ sealed: 0, relayed: 1, webhooks: 1 });
    expect(sent).toHaveLength(1);
    expect(sent[0].homeNode).toBe("node-b");
    expect(sent[0].entry.id).toBe(`${m.deliveryId}.0`);
    expect(Buffer.from(sent[0].entry.sealed).includes("relayed body")).toBe(false);
    expect(Buffer.from(openSealed(keys.secretKey, sent[0].entry.sealed, spoolSealContext(sent[0].entry.id))).equals(raw)).toBe(true);
    expect(spool.countSealed()).toBe(0);
    expect(spool.countJobs("webhook")).toBe(1);
    spool.close();
  });

  it("queues a relay job with the webhook job when the home node does not acknowledge", async () => {
    const { spool, deliverer, queued } = await setup({ relay: async () => false });
    const raw = Buffer.from("Subject: queued\r\n\r\nqueued body\r\n");
    expect(await deliverer.deliver(message(raw))).toMatchObject({ sealed: 1, relayed: 0, webhooks: 1 });
    const [job] = spool.dueRelays(Date.now(), 10, new Set());
    expect(job.relayTo).toBe("node-b");
    expect(Buffer.from(openSealed(keys.secretKey, job.sealed, spoolSealContext(job.id))).equals(raw)).toBe(true);
    // Not drainable here: the mailbox lives on node-b.
    expect(spool.sealedBatch("mbx1", 10)).toEqual([]);
    expect(spool.countJobs("webhook")).toBe(1);
    expect(queued).toEqual([{ forward: false, webhook: true, relay: true }]);
    spool.close();
  });

  it("a relay that throws is queued too", async () => {
    const { spool, deliverer } = await setup({ relay: () => Promise.reject(new Error("socket gone")) });
    expect(await deliverer.deliver(message(Buffer.from("Subject: x\r\n\r\nx\r\n")))).toMatchObject({ sealed: 1, relayed: 0 });
    expect(spool.countRelays()).toBe(1);
    spool.close();
  });

  it("places an unplaced mailbox first: spooled here when placed here, relayed when placed elsewhere", async () => {
    const unplaced = { ...remoteRoute, homeNode: null, webhooks: [] };
    const here = await setup({ relay: async () => true, place: async () => "node-a" });
    expect(await here.deliverer.deliver(message(Buffer.from("Subject: here\r\n\r\nx\r\n"), unplaced))).toMatchObject({ sealed: 1, relayed: 0 });
    expect(here.spool.sealedBatch("mbx1", 10)).toHaveLength(1);
    here.spool.close();
    const elsewhere = await setup({ relay: async () => true, place: async () => "node-c" });
    expect(await elsewhere.deliverer.deliver(message(Buffer.from("Subject: there\r\n\r\nx\r\n"), unplaced))).toMatchObject({ sealed: 0, relayed: 1 });
    elsewhere.spool.close();
  });

  it("answers temporary when the mailbox cannot be placed, and keeps nothing", async () => {
    const { spool, deliverer } = await setup({ relay: async () => true, place: () => Promise.reject(new Error("edge down")) });
    await expect(deliverer.deliver(message(Buffer.from("Subject: x\r\n\r\nx\r\n"), { ...remoteRoute, homeNode: null }))).rejects.toEqual(
      new DeliveryError("temporary", "the mailbox could not be placed"),
    );
    expect(spool.countSealed()).toBe(0);
    expect(spool.countJobs("webhook")).toBe(0);
    spool.close();
  });

  it("applies the route's quota, counting what still waits here for the home node", async () => {
    const { spool, deliverer } = await setup({ relay: async () => false });
    const raw = Buffer.from("Subject: q\r\n\r\n" + "x".repeat(100) + "\r\n");
    const route = { ...remoteRoute, quotaBytes: raw.length * 2, webhooks: [] };
    await deliverer.deliver(message(raw, route));
    await deliverer.deliver(message(raw, route));
    await expect(deliverer.deliver(message(raw, route))).rejects.toEqual(new DeliveryError("over-quota", "mailbox over quota"));
    expect(spool.countRelays()).toBe(2);
    spool.close();
  });
});
