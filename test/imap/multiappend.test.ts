/**
 * MULTIAPPEND is all or nothing (RFC 3502 §6.3.11) as another session sees it:
 * while the messages of one APPEND arrive, a second session in IDLE or issuing
 * NOOP sees none of them; a failure leaves nothing behind (UIDNEXT unchanged);
 * a success shows all of them at once. Run over both stores.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryStore } from "../../storage-node/store/memory-store.ts";
import { createSqliteStore } from "../../storage-node/store/sqlite-store.ts";
import type { MailStore } from "../../storage-node/store/types.ts";
import { connectClient, message, startTestServer, type TestServer, type WireClient } from "./harness.ts";

let server: TestServer;
let dataDir: string | null = null;

const STORES: [string, () => Promise<MailStore>][] = [
  ["memory store", async () => createMemoryStore()],
  [
    "SQLite store",
    async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), "sealbox-imap-multiappend-"));
      return createSqliteStore({ dataDir, workers: 1 });
    },
  ],
];

/** Starts a MULTIAPPEND with synchronizing literals; resolves once the server asks for the literal after `sent`. */
async function sendUntilNextLiteral(client: WireClient, text: string): Promise<void> {
  client.write(text);
  expect(await client.readLine()).toMatch(/^\+/);
}

describe.each(STORES)("MULTIAPPEND over the %s", (_name, makeStore) => {
  beforeEach(async () => {
    server = await startTestServer({ store: await makeStore(), limits: { maxMessageBytes: 4096 } });
  });
  afterEach(async () => {
    await server.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    dataDir = null;
  });

  it("shows no message of a failing MULTIAPPEND to an IDLE or NOOP session, and keeps none", async () => {
    const writer = await connectClient(server);
    const idler = await connectClient(server);
    const poller = await connectClient(server);
    await idler.command("SELECT INBOX");
    await poller.command("SELECT INBOX");
    idler.write("I1 IDLE\r\n");
    expect(await idler.readLine()).toMatch(/^\+ /);

    const one = message("one");
    const two = message("two");
    await sendUntilNextLiteral(writer, `M1 APPEND INBOX (\\Seen) {${one.length}}\r\n`);
    // The "+" for the second literal comes only after the first message went to the store.
    await sendUntilNextLiteral(writer, `${one} {${two.length}}\r\n`);
    expect((await poller.command("NOOP")).lines).toEqual([]);
    await sendUntilNextLiteral(writer, `${two} () {${one.length}}\r\n`);
    expect((await poller.command("NOOP")).lines).toEqual([]);
    // The third message is over APPENDLIMIT: refused before its literal, the whole command fails.
    writer.write(`${one} {5000}\r\n`);
    expect(await writer.readLine()).toBe("M1 NO [TOOBIG] Message exceeds the APPENDLIMIT.");

    expect((await poller.command("NOOP")).lines).toEqual([]);
    idler.write("DONE\r\n");
    expect(await idler.readLine()).toBe("I1 OK IDLE completed.");
    expect((await writer.command("STATUS INBOX (MESSAGES UIDNEXT)")).lines).toEqual(["* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"]);

    // A MULTIAPPEND that completes shows all its messages in one update.
    idler.write("I2 IDLE\r\n");
    expect(await idler.readLine()).toMatch(/^\+ /);
    await sendUntilNextLiteral(writer, `M2 APPEND INBOX {${one.length}}\r\n`);
    await sendUntilNextLiteral(writer, `${one} {${two.length}}\r\n`);
    expect((await poller.command("NOOP")).lines).toEqual([]);
    writer.write(`${two}\r\n`);
    expect(await writer.readLine()).toMatch(/^M2 OK \[APPENDUID \d+ 1:2\] APPEND completed\.$/);
    expect(await idler.readLine()).toBe("* 2 EXISTS");
    expect(await idler.readLine()).toMatch(/^\* [02] RECENT$/);
    expect((await poller.command("NOOP")).lines.filter((line) => !line.endsWith(" RECENT"))).toEqual(["* 2 EXISTS"]);
    idler.write("DONE\r\n");
    expect(await idler.readLine()).toBe("I2 OK IDLE completed.");
    writer.close();
    idler.close();
    poller.close();
  });

  it("keeps nothing when a later message has a bad literal or syntax after the first was read", async () => {
    const writer = await connectClient(server);
    const one = message("one");
    await sendUntilNextLiteral(writer, `B1 APPEND INBOX {${one.length}}\r\n`);
    writer.write(`${one} (\\Seen\r\n`);
    expect(await writer.readLine()).toMatch(/^B1 BAD /);
    expect((await writer.command("STATUS INBOX (MESSAGES UIDNEXT)")).lines).toEqual(["* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"]);
    writer.close();
  });
});
