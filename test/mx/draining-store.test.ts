/**
 * The spool drain decorator on a real spool file and the in-memory store:
 * drained once, in order, with the spool id as dedupe key; crash between the
 * append and the delete leaves no duplicate; damaged entries stay put without
 * blocking others; secrets live only while the mailbox is open; destroy()
 * clears the mailbox's spool.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { generateSealingKeyPair, seal } from "../../shared/crypto/sealing.ts";
import { createLogger } from "../../storage-node/log.ts";
import { DrainingStore, spoolSealContext } from "../../storage-node/spool/draining-store.ts";
import { SpoolDatabase } from "../../storage-node/spool/spool-database.ts";
import { createMemoryStore } from "../../storage-node/store/memory-store.ts";
import { inboxMessages } from "./support/inbound-harness.ts";

const logger = createLogger("silent");

describe("draining store", () => {
  let spool: SpoolDatabase;
  let store: DrainingStore;
  const keys = generateSealingKeyPair();
  const mailboxId = `mbx${randomBytes(6).toString("hex")}`;
  const key = new Uint8Array(randomBytes(32));

  beforeEach(async () => {
    spool = SpoolDatabase.open({ dir: await mkdtemp(path.join(tmpdir(), "sealbox-drain-")), key: new Uint8Array(randomBytes(32)) });
    store = new DrainingStore({ base: createMemoryStore(), spool, logger });
  });

  async function spoolMessage(id: string, text: string, damage = false): Promise<void> {
    const body = Buffer.from(`Subject: ${text}\r\n\r\n${text}\r\n`);
    const sealed = seal(keys.publicKey, body, spoolSealContext(id));
    if (damage) sealed[sealed.length - 1] ^= 1;
    await spool.write({ sealed: [{ id, mailboxId, aliasId: "alias1", receivedAt: new Date(), size: body.length, sealed }] });
  }

  const remember = () => store.rememberSecret(mailboxId, "alias1", keys.secretKey.slice());
  const subjects = async () => {
    const mailbox = await store.open({ id: mailboxId, key, create: true });
    try {
      return (await inboxMessages(mailbox)).map((m) => /^Subject: (.*)\r$/m.exec(m.toString())?.[1]);
    } finally {
      await mailbox.close();
    }
  };

  it("drains in order, once, and removes what it drained", async () => {
    await spoolMessage("001.0", "one");
    await spoolMessage("002.0", "two");
    await spoolMessage("003.0", "three");
    remember();
    const mailbox = await store.open({ id: mailboxId, key, create: true });
    expect((await inboxMessages(mailbox)).map((m) => m.toString().split("\r\n")[0])).toEqual(["Subject: one", "Subject: two", "Subject: three"]);
    expect(spool.countSealed()).toBe(0);
    await mailbox.close();
  });

  it("does not duplicate an entry whose append landed before a crash", async () => {
    await spoolMessage("010.0", "landed");
    // As if an earlier drain appended it and died before deleting the entry.
    const first = await store.open({ id: mailboxId, key, create: true });
    await first.append("INBOX", Buffer.from("Subject: landed\r\n\r\nlanded\r\n"), { dedupeKey: "010.0" });
    await first.close();
    remember();
    expect(await subjects()).toEqual(["landed"]);
    expect(spool.countSealed()).toBe(0);
  });

  it("leaves damaged entries in place and drains the rest", async () => {
    await spoolMessage("020.0", "good");
    await spoolMessage("021.0", "bad", true);
    await spoolMessage("022.0", "also good");
    remember();
    expect(await subjects()).toEqual(["good", "also good"]);
    expect(spool.countSealed()).toBe(1);
  });

  it("drains nothing without the secret, and forgets it when the last handle closes", async () => {
    await spoolMessage("030.0", "waits");
    expect(await subjects()).toEqual([]);
    expect(spool.countSealed()).toBe(1);
    remember();
    const a = await store.open({ id: mailboxId, key, create: true });
    const b = await store.open({ id: mailboxId, key });
    expect(store.openMailbox(mailboxId)).not.toBeNull();
    await a.close();
    expect(store.openMailbox(mailboxId)).not.toBeNull();
    await b.close();
    expect(store.openMailbox(mailboxId)).toBeNull();
    await spoolMessage("031.0", "after close");
    expect(await subjects()).toEqual(["waits"]);
    expect(spool.countSealed()).toBe(1);
  });

  it("destroy() also clears the mailbox's spool", async () => {
    await spoolMessage("040.0", "orphan");
    await (await store.open({ id: mailboxId, key, create: true })).close();
    await store.destroy(mailboxId);
    expect(spool.countSealed()).toBe(0);
  });
});
