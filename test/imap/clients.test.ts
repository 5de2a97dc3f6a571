/**
 * Real clients against the real server: imapflow (Node) and Python's imaplib
 * doing login, list, select, append, fetch, flag, move, expunge and idle.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ImapFlow } from "imapflow";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryStore } from "../../storage-node/store/memory-store.ts";
import { createSqliteStore } from "../../storage-node/store/sqlite-store.ts";
import type { MailStore } from "../../storage-node/store/types.ts";
import { message, startTestServer, type TestServer } from "./harness.ts";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

let server: TestServer;
let dataDir: string | null = null;

// The same client sessions run over the in-memory store and the encrypted SQLite store.
const STORES: [string, () => Promise<MailStore>][] = [
  ["memory store", async () => createMemoryStore()],
  [
    "SQLite store",
    async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), "sealbox-imap-clients-"));
      return createSqliteStore({ dataDir, workers: 1 });
    },
  ],
];

describe.each(STORES)("over the %s", (_name, makeStore) => {
  beforeEach(async () => {
    server = await startTestServer({ store: await makeStore() });
  });
  afterEach(async () => {
    await server.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    dataDir = null;
  });

  function imapflow(): ImapFlow {
    return new ImapFlow({
      host: "127.0.0.1",
      port: server.port,
      secure: false,
      doSTARTTLS: false,
      auth: { user: server.user.address, pass: server.user.password },
      logger: process.env.IMAPFLOW_DEBUG ? undefined : false,
    });
  }

  describe("imapflow", () => {
    it("logs in, lists, appends, fetches, flags, moves, expunges and idles", async () => {
      const client = imapflow();
      await client.connect();
      const folders = await client.list();
      expect(folders.map((folder) => folder.path)).toEqual(expect.arrayContaining(["INBOX", "Sent", "Trash"]));
      expect(folders.find((folder) => folder.path === "Sent")?.specialUse).toBe("\\Sent");

      const raw = message("from imapflow", "Body line.\r\n");
      const appended = await client.append("INBOX", raw, ["\\Flagged"]);
      expect(appended && appended.uid).toBe(1);

      const lock = await client.getMailboxLock("INBOX");
      try {
        const fetched = await client.fetchOne("1", { source: true, envelope: true, flags: true, bodyStructure: true, uid: true });
        expect(fetched && fetched.source?.toString()).toBe(raw);
        expect(fetched && fetched.envelope?.subject).toBe("from imapflow");
        expect(fetched && [...(fetched.flags ?? [])]).toEqual(["\\Flagged"]);
        expect(fetched && fetched.bodyStructure?.type).toBe("text/plain");

        await client.messageFlagsAdd("1", ["\\Seen"]);
        const flags = await client.fetchOne("1", { flags: true });
        expect(flags && [...(flags.flags ?? [])].sort()).toEqual(["\\Flagged", "\\Seen"]);

        const found = await client.search({ subject: "imapflow" });
        expect(found).toEqual([1]);

        // IDLE: another client appends; this one hears EXISTS.
        const exists = new Promise<number>((resolve) => client.once("exists", (data: { count: number }) => resolve(data.count)));
        const idle = client.idle();
        const other = imapflow();
        await other.connect();
        await other.append("INBOX", message("second"));
        await other.logout();
        expect(await exists).toBe(2);

        // The next command ends the IDLE (imapflow sends DONE first).
        const moved = await client.messageMove("2", "Trash");
        await idle;
        expect(moved && moved.uidMap?.get(2)).toBe(1);
        await client.messageDelete("1");
        expect(client.mailbox && client.mailbox.exists).toBe(0);
      } finally {
        lock.release();
      }
      const trash = await client.status("Trash", { messages: true });
      expect(trash && trash.messages).toBe(1);
      await client.logout();
    });

    it("sees the folder's keywords in FLAGS and PERMANENTFLAGS", async () => {
      const client = imapflow();
      await client.connect();
      await client.append("INBOX", message("keyword"), ["$Imapflow"]);
      const mailbox = await client.mailboxOpen("INBOX");
      expect([...mailbox.flags]).toContain("$Imapflow");
      expect([...(mailbox.permanentFlags ?? [])]).toEqual(expect.arrayContaining(["$Imapflow", "\\*"]));
      await client.logout();
    });
  });

  describe("Python imaplib", () => {
    it("runs a full session", async () => {
      const { stdout } = await run("python3", [path.join(here, "imaplib-session.py"), String(server.port), server.user.address, server.user.password], {
        timeout: 30_000,
      });
      const report = JSON.parse(stdout) as Record<string, unknown>;
      expect(report).toEqual({
        login: "OK",
        list_has_inbox: true,
        append: "OK",
        select_exists: "2",
        fetch_subject: "Subject: py one",
        fetch_body_equal: true,
        store_flags: true,
        search: "1 2",
        copy: "OK",
        move: "OK",
        expunge: ["2", "1"], // imaplib also collects the EXPUNGE sent by MOVE
        idle_exists: "1",
        logout: "BYE",
      });
    });
  });
});
