/**
 * The acceptance step alone (no SMTP): what becomes durable where. A mailbox
 * handle that fails under a direct insert (its session just closed it) sends
 * the message to the sealed spool instead; over quota stays over quota.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { toBase64 } from "../../shared/crypto/encoding.ts";
import { generateSealingKeyPair, openSealed } from "../../shared/crypto/sealing.ts";
import type { AliasRouteData } from "../../shared/tunnel/records.ts";
import { Deliverer, DeliveryError, newDeliveryId } from "../../storage-node/mx/delivery.ts";
import { spoolSealContext, type DrainingStore } from "../../storage-node/spool/draining-store.ts";
import { SpoolDatabase } from "../../storage-node/spool/spool-database.ts";
import { StoreError, type Mailbox } from "../../storage-node/store/types.ts";

const keys = generateSealingKeyPair();
const route: AliasRouteData = {
  address: "a@b.example",
  aliasId: "alias1",
  mailboxId: "mbx1",
  homeNode: null,
  imap: true,
  quotaBytes: null,
  sealingPublicKey: toBase64(keys.publicKey),
  forwardTo: [],
  webhooks: [],
};

/** A store stand-in whose one open mailbox fails every append with `kind`. */
function storeWithFailingMailbox(kind: StoreError["kind"]): DrainingStore {
  const mailbox = {
    append: () => Promise.reject(new StoreError(kind, "closed")),
    quota: () => Promise.resolve({ usedBytes: 0, limitBytes: null, messages: 0 }),
  } as unknown as Mailbox;
  return { openMailbox: () => mailbox } as unknown as DrainingStore;
}

async function spool(): Promise<SpoolDatabase> {
  return SpoolDatabase.open({ dir: await mkdtemp(path.join(tmpdir(), "sealbox-deliver-")), key: new Uint8Array(randomBytes(32)) });
}

const message = (raw: Buffer) => ({
  deliveryId: newDeliveryId(),
  raw,
  envelope: { mailFrom: "x@y.example", rcptTo: ["a@b.example"], remoteAddress: "127.0.0.1", helo: "y", secure: false },
  authResults: "{}",
  receivedAt: new Date(),
  routes: [route],
});

describe("deliverer", () => {
  it("falls back to the sealed spool when the open mailbox fails the insert", async () => {
    const db = await spool();
    const deliverer = new Deliverer({ spool: db, store: storeWithFailingMailbox("temporary"), onQueued: () => undefined });
    const raw = Buffer.from("Subject: fallback\r\n\r\nbody\r\n");
    const m = message(raw);
    expect(await deliverer.deliver(m)).toMatchObject({ sealed: 1, direct: 0 });
    const [entry] = db.sealedBatch("mbx1", 10);
    expect(Buffer.from(openSealed(keys.secretKey, entry.sealed, spoolSealContext(entry.id))).equals(raw)).toBe(true);
    db.close();
  });

  it("reports over quota from the open mailbox as over quota", async () => {
    const db = await spool();
    const deliverer = new Deliverer({ spool: db, store: storeWithFailingMailbox("over-quota"), onQueued: () => undefined });
    await expect(deliverer.deliver(message(Buffer.from("Subject: big\r\n\r\nbody\r\n")))).rejects.toEqual(new DeliveryError("over-quota", "mailbox over quota"));
    expect(db.countSealed()).toBe(0);
    db.close();
  });
});
