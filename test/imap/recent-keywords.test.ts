/**
 * \Recent (RFC 3501 §2.3.2) and per-folder keyword lists in FLAGS /
 * PERMANENTFLAGS (RFC 3501 §7.2.6, §7.1) as wire transcripts, with what a
 * second session sees. Run against the memory store and the encrypted SQLite
 * store (whose claims are persisted in the mailbox file).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_MAX_FLAGS_PER_MESSAGE, STORE_MAX_KEYWORDS_PER_FOLDER } from "../../storage-node/limits.ts";
import { createMemoryStore } from "../../storage-node/store/memory-store.ts";
import { createSqliteStore } from "../../storage-node/store/sqlite-store.ts";
import type { MailStore } from "../../storage-node/store/types.ts";
import { appendMessage, connectClient, message, startTestServer, type TestServer, type WireClient } from "./harness.ts";

const dataDir = mkdtempSync(join(tmpdir(), "sealbox-recent-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const SYSTEM = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

const STORES: [string, () => MailStore][] = [
  ["memory", () => createMemoryStore()],
  ["sqlite", () => createSqliteStore({ dataDir: mkdtempSync(join(dataDir, "s-")), workers: 1 })],
];

function recentOf(lines: string[]): number | null {
  const line = lines.find((l) => /^\* \d+ RECENT$/.test(l));
  return line === undefined ? null : Number(line.split(" ")[1]);
}

describe.each(STORES)("\\Recent and keywords (%s store)", (_name, makeStore) => {
  let server: TestServer;
  const clients: WireClient[] = [];
  const connect = async (): Promise<WireClient> => {
    const client = await connectClient(server);
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    server = await startTestServer({ store: makeStore() });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server.close();
  });

  describe("\\Recent", () => {
    it("belongs to the first session that selects; the next one, and a reconnect, see none", async () => {
      const a = await connect();
      await appendMessage(a, "INBOX", message("one"));
      await appendMessage(a, "INBOX", message("two"), "\\Seen");
      expect((await a.command("STATUS INBOX (MESSAGES RECENT)")).lines).toEqual(["* STATUS INBOX (MESSAGES 2 RECENT 2)"]);
      const select = await a.command("SELECT INBOX");
      expect(select.lines).toContain("* 2 EXISTS");
      expect(select.lines).toContain("* 2 RECENT");
      expect(select.lines.indexOf("* 2 RECENT")).toBe(select.lines.indexOf("* 2 EXISTS") + 1);
      expect((await a.command("FETCH 1:* (FLAGS)")).lines).toEqual(["* 1 FETCH (FLAGS (\\Recent))", "* 2 FETCH (FLAGS (\\Seen \\Recent))"]);
      expect((await a.command("SEARCH RECENT")).lines).toEqual(["* SEARCH 1 2"]);
      expect((await a.command("SEARCH NEW")).lines).toEqual(["* SEARCH 1"]);
      expect((await a.command("SEARCH OLD")).lines).toEqual(["* SEARCH"]);
      expect((await a.command("STATUS INBOX (RECENT)")).lines).toEqual(["* STATUS INBOX (RECENT 0)"]);

      const b = await connect();
      const second = await b.command("SELECT INBOX");
      expect(recentOf(second.lines)).toBe(0);
      expect((await b.command("FETCH 1:* (FLAGS)")).lines).toEqual(["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS (\\Seen))"]);
      expect((await b.command("SEARCH RECENT")).lines).toEqual(["* SEARCH"]);
      expect((await b.command("SEARCH OLD")).lines).toEqual(["* SEARCH 1 2"]);

      // The claimer keeps its \Recent for the whole selection, also across a STORE that replaces flags.
      expect((await a.command("STORE 1 FLAGS (\\Seen)")).lines).toEqual(["* 1 FETCH (FLAGS (\\Seen \\Recent))"]);
      expect((await b.command("NOOP")).lines).toEqual(["* 1 FETCH (UID 1 FLAGS (\\Seen))"]);
      expect((await a.command("SEARCH NEW")).lines).toEqual(["* SEARCH"]);

      a.close();
      const again = await connect();
      expect(recentOf((await again.command("SELECT INBOX")).lines)).toBe(0);
    });

    it("EXAMINE looks without claiming", async () => {
      const a = await connect();
      await appendMessage(a, "INBOX", message("one"));
      const examine = await a.command("EXAMINE INBOX");
      expect(recentOf(examine.lines)).toBe(1);
      expect((await a.command("FETCH 1 (FLAGS)")).lines).toEqual(["* 1 FETCH (FLAGS (\\Recent))"]);
      expect((await a.command("STATUS INBOX (RECENT)")).lines).toEqual(["* STATUS INBOX (RECENT 1)"]);
      const b = await connect();
      expect(recentOf((await b.command("SELECT INBOX")).lines)).toBe(1);
      expect((await a.command("STATUS INBOX (RECENT)")).lines).toEqual(["* STATUS INBOX (RECENT 0)"]);
    });

    it("new mail is recent for the first selected session told about it; RECENT follows EXISTS", async () => {
      const a = await connect();
      const b = await connect();
      const sender = await connect();
      await a.command("SELECT INBOX");
      await b.command("SELECT INBOX");
      a.write("I1 IDLE\r\n");
      expect(await a.readLine()).toBe("+ idling");
      await appendMessage(sender, "INBOX", message("new"));
      expect(await a.readLine()).toBe("* 1 EXISTS");
      expect(await a.readLine()).toBe("* 1 RECENT");
      a.write("DONE\r\n");
      expect((await a.readTagged("I1")).status).toBe("OK");
      // b learns of the message after a claimed it: EXISTS only, its RECENT count is unchanged.
      expect((await b.command("NOOP")).lines).toEqual(["* 1 EXISTS"]);
      expect((await b.command("FETCH 1 (FLAGS)")).lines).toEqual(["* 1 FETCH (FLAGS ())"]);
      // The session's own APPEND and COPY into the selected folder are recent for it too.
      const own = await appendMessage(a, "INBOX", message("own"));
      expect(own.lines).toEqual(["* 2 EXISTS", "* 2 RECENT"]);
      expect((await a.command("COPY 1 INBOX")).lines).toEqual(["* 3 EXISTS", "* 3 RECENT"]);
      // Expunging a recent message lowers the count, reported after the EXPUNGE.
      await a.command("STORE 1 +FLAGS.SILENT (\\Deleted)");
      expect((await a.command("EXPUNGE")).lines).toEqual(["* 1 EXPUNGE", "* 2 RECENT"]);
      expect((await b.command("NOOP")).lines).toEqual(["* 1 EXPUNGE", "* 2 EXISTS"]);
    });

    it("concurrent SELECTs never share a recent message", async () => {
      const writer = await connect();
      for (let i = 0; i < 5; i++) await appendMessage(writer, "INBOX", message(`m${i}`));
      const sessions = await Promise.all(Array.from({ length: 4 }, () => connect()));
      const selects = await Promise.all(sessions.map((s) => s.command("SELECT INBOX")));
      const counts = selects.map((r) => recentOf(r.lines) ?? -1);
      expect(counts.reduce((x, y) => x + y, 0)).toBe(5);
      const recentSets = await Promise.all(sessions.map(async (s) => (await s.command("SEARCH RECENT")).lines[0].split(" ").slice(2)));
      const all = recentSets.flat();
      expect(new Set(all).size).toBe(all.length);
      expect(all.sort()).toEqual(["1", "2", "3", "4", "5"]);
    });

    it("cannot be stored or appended by a client (RFC 3501 §9: not a settable flag)", async () => {
      const a = await connect();
      await appendMessage(a, "INBOX", message("one"));
      await a.command("SELECT INBOX");
      const store = await a.command("STORE 1 +FLAGS (\\Recent)");
      expect(store.status).toBe("BAD");
      expect(store.lines).toEqual([]);
      const append = await appendMessage(a, "INBOX", message("two"), "\\Recent");
      expect(append.status).toBe("BAD");
      expect((await a.command("STATUS INBOX (MESSAGES)")).lines).toEqual(["* STATUS INBOX (MESSAGES 1)"]);
    });

    it("is absent under IMAP4rev2, which claims nothing (RFC 9051 §6.3.2)", async () => {
      const rev2 = await connect();
      await appendMessage(rev2, "INBOX", message("one"));
      await rev2.command("ENABLE IMAP4rev2");
      const select = await rev2.command("SELECT INBOX");
      expect(recentOf(select.lines)).toBeNull();
      expect((await rev2.command("FETCH 1 (FLAGS)")).lines).toEqual(["* 1 FETCH (FLAGS ())"]);
      const sender = await connect();
      await appendMessage(sender, "INBOX", message("two"));
      expect((await rev2.command("NOOP")).lines).toEqual(["* 2 EXISTS"]);
      const rev1 = await connect();
      expect(recentOf((await rev1.command("SELECT INBOX")).lines)).toBe(2);
    });
  });

  describe("keyword lists", () => {
    it("SELECT and EXAMINE list the folder's keywords; a new one is announced before it is used", async () => {
      const a = await connect();
      await appendMessage(a, "INBOX", message("one"), "$Work");
      await appendMessage(a, "INBOX", message("two"));
      const select = await a.command("SELECT INBOX");
      expect(select.lines.slice(0, 2)).toEqual([`* FLAGS (${SYSTEM} $Work)`, `* OK [PERMANENTFLAGS (${SYSTEM} $Work \\*)] Flags permitted.`]);
      const b = await connect();
      const examine = await b.command("EXAMINE INBOX");
      expect(examine.lines.slice(0, 2)).toEqual([`* FLAGS (${SYSTEM} $Work)`, "* OK [PERMANENTFLAGS ()] Read-only mailbox."]);

      const store = await a.command("STORE 2 +FLAGS ($Later)");
      expect(store.lines).toEqual([
        `* FLAGS (${SYSTEM} $Work $Later)`,
        `* OK [PERMANENTFLAGS (${SYSTEM} $Work $Later \\*)] Flags permitted.`,
        "* 2 FETCH (FLAGS (\\Recent $Later))",
      ]);
      // A known keyword in another spelling is not new.
      expect((await a.command("STORE 1 +FLAGS ($later)")).lines).toEqual(["* 1 FETCH (FLAGS (\\Recent $Work $later))"]);
      expect((await a.command("STORE 1 +FLAGS.SILENT ($Quiet)")).lines).toEqual([
        `* FLAGS (${SYSTEM} $Work $Later $Quiet)`,
        `* OK [PERMANENTFLAGS (${SYSTEM} $Work $Later $Quiet \\*)] Flags permitted.`,
      ]);
      // The second (read-only) session hears the list before the flag updates that use it.
      expect((await b.command("NOOP")).lines).toEqual([
        `* FLAGS (${SYSTEM} $Work $Later $Quiet)`,
        "* OK [PERMANENTFLAGS ()] Read-only mailbox.",
        "* 1 FETCH (UID 1 FLAGS ($Work $later $Quiet))",
        "* 2 FETCH (UID 2 FLAGS ($Later))",
      ]);
      // Removing a keyword from every message keeps it in the list.
      await a.command("STORE 1:* -FLAGS.SILENT ($Quiet)");
      const reselect = await a.command("SELECT INBOX");
      expect(reselect.lines).toContain(`* FLAGS (${SYSTEM} $Work $Later $Quiet)`);
    });

    it("a FETCH announces a keyword another session set before any NOOP", async () => {
      const a = await connect();
      const b = await connect();
      await appendMessage(a, "INBOX", message("one"));
      await a.command("SELECT INBOX");
      await b.command("SELECT INBOX");
      await b.command("STORE 1 +FLAGS.SILENT (Urgent)");
      const fetch = await a.command("FETCH 1 (FLAGS)");
      expect(fetch.lines.slice(0, 3)).toEqual([
        `* FLAGS (${SYSTEM} Urgent)`,
        `* OK [PERMANENTFLAGS (${SYSTEM} Urgent \\*)] Flags permitted.`,
        "* 1 FETCH (FLAGS (\\Recent Urgent))",
      ]);
      // Already announced: the sync after the FETCH does not repeat it.
      expect(fetch.lines.filter((line) => line.startsWith("* FLAGS"))).toHaveLength(1);
    });

    it("APPEND and COPY into a selected folder announce new keywords before EXISTS", async () => {
      const a = await connect();
      const other = await connect();
      await a.command("CREATE Other");
      await a.command("SELECT INBOX");
      await appendMessage(other, "Other", message("there"), "$FromOther");
      const appended = await appendMessage(other, "INBOX", message("new"), "$Fresh");
      expect(appended.status).toBe("OK");
      expect((await a.command("NOOP")).lines).toEqual([
        `* FLAGS (${SYSTEM} $Fresh)`,
        `* OK [PERMANENTFLAGS (${SYSTEM} $Fresh \\*)] Flags permitted.`,
        "* 1 EXISTS",
        "* 1 RECENT",
      ]);
      await other.command("SELECT Other");
      expect((await other.command("COPY 1 INBOX")).status).toBe("OK");
      expect((await a.command("NOOP")).lines).toEqual([
        `* FLAGS (${SYSTEM} $Fresh $FromOther)`,
        `* OK [PERMANENTFLAGS (${SYSTEM} $Fresh $FromOther \\*)] Flags permitted.`,
        "* 2 EXISTS",
        "* 2 RECENT",
      ]);
    });

    it("refuses a keyword beyond STORE_MAX_KEYWORDS_PER_FOLDER with NO [LIMIT] and stops offering \\*", async () => {
      const a = await connect();
      await appendMessage(a, "INBOX", message("one"));
      await appendMessage(a, "INBOX", message("two"));
      await a.command("SELECT INBOX");
      const names = Array.from({ length: STORE_MAX_KEYWORDS_PER_FOLDER }, (_, i) => `k${i}`);
      for (let i = 0; i < names.length; i += STORE_MAX_FLAGS_PER_MESSAGE) {
        expect((await a.command(`STORE 1 FLAGS.SILENT (${names.slice(i, i + STORE_MAX_FLAGS_PER_MESSAGE).join(" ")})`)).status).toBe("OK");
      }
      const full = (await a.command("SELECT INBOX")).lines.filter((line) => !line.includes("[CLOSED]"));
      expect(full[0]).toBe(`* FLAGS (${SYSTEM} ${names.join(" ")})`);
      expect(full[1]).toBe(`* OK [PERMANENTFLAGS (${SYSTEM} ${names.join(" ")})] Flags permitted.`);
      const refused = await a.command("STORE 2 +FLAGS (one-more)");
      expect(refused.tagged).toMatch(/^A\d+ NO \[LIMIT\] /);
      expect(refused.lines).toEqual([]);
      const append = await appendMessage(a, "INBOX", message("three"), "one-more");
      expect(append.tagged).toMatch(/^A\d+ NO \[LIMIT\] /);
      expect((await a.command("FETCH 2 (FLAGS)")).lines).toEqual(["* 2 FETCH (FLAGS ())"]);
      expect((await a.command("STATUS INBOX (MESSAGES)")).lines).toEqual(["* STATUS INBOX (MESSAGES 2)"]);
      // Defined keywords still work.
      expect((await a.command("STORE 2 +FLAGS (K0)")).lines).toEqual(["* 2 FETCH (FLAGS (K0))"]);
    });

    it("refuses keywords that are not atoms", async () => {
      const a = await connect();
      await appendMessage(a, "INBOX", message("one"));
      await a.command("SELECT INBOX");
      for (const bad of ['"$quoted"', "$a]b", "(nested)", "$pct%"]) {
        expect((await a.command(`STORE 1 +FLAGS (${bad})`)).status, bad).toBe("BAD");
      }
      // Not a system flag and not a keyword (RFC 3501 §9 `flag`): BAD, as Dovecot answers.
      expect((await a.command("STORE 1 +FLAGS (\\Bogus)")).tagged).toMatch(/^\S+ BAD Unknown system flag \\Bogus/);
      expect((await a.command("FETCH 1 (FLAGS)")).lines).toEqual(["* 1 FETCH (FLAGS (\\Recent))"]);
    });
  });
});
