/**
 * Extensions on the wire: ID, ENABLE, NAMESPACE, CONDSTORE, QRESYNC,
 * ESEARCH/SEARCHRES, SORT, THREAD, QUOTA, the XREGEX search key, and the
 * RFC 5032 OLDER/YOUNGER keys.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendMessage, connectClient, message, startTestServer, type TestServer, type WireClient } from "./harness.ts";

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer();
  server.auth.users.get(server.user.address)!.quotaBytes = 1024 * 1024;
});
afterEach(async () => {
  await server.close();
});

describe("ID, ENABLE, NAMESPACE", () => {
  it("answers ID, NAMESPACE and ENABLE", async () => {
    const client = await connectClient(server);
    expect((await client.command('ID ("name" "test" "version" NIL)')).lines).toEqual(['* ID ("name" "Sealbox" "vendor" "Sealbox")']);
    expect((await client.command("ID NIL")).status).toBe("OK");
    expect((await client.command("NAMESPACE")).lines).toEqual(['* NAMESPACE (("" "/")) NIL NIL']);
    expect((await client.command("ENABLE CONDSTORE X-UNKNOWN")).lines).toEqual(["* ENABLED CONDSTORE"]);
    expect((await client.command("ENABLE CONDSTORE")).lines).toEqual(["* ENABLED"]);
    client.close();
  });
});

describe("CONDSTORE (RFC 7162)", () => {
  it("reports HIGHESTMODSEQ, MODSEQ, CHANGEDSINCE and UNCHANGEDSINCE/MODIFIED", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("a"));
    await appendMessage(client, "INBOX", message("b"));
    const select = await client.command("SELECT INBOX (CONDSTORE)");
    const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(select.lines.join("\n"))?.[1]);
    expect(highest).toBeGreaterThan(0);
    const store = await client.command("STORE 1 +FLAGS (\\Seen)");
    const modseq = Number(/MODSEQ \((\d+)\)/.exec(store.lines[0])?.[1]);
    expect(store.lines[0]).toBe(`* 1 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (${modseq}))`);
    expect(modseq).toBeGreaterThan(highest);
    const changed = await client.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`);
    expect(changed.lines).toEqual([`* 1 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (${modseq}))`]);
    const conditional = await client.command(`STORE 1:2 (UNCHANGEDSINCE ${highest}) +FLAGS (\\Flagged)`);
    expect(conditional.tagged).toMatch(/OK \[MODIFIED 1\]/);
    expect(conditional.lines).toEqual([expect.stringMatching(/^\* 2 FETCH \(FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)$/)]);
    const search = await client.command(`SEARCH MODSEQ ${modseq}`);
    expect(search.lines[0]).toMatch(/^\* SEARCH 1 2 \(MODSEQ \d+\)$/);
    expect((await client.command("STATUS INBOX (HIGHESTMODSEQ)")).lines[0]).toMatch(/^\* STATUS INBOX \(HIGHESTMODSEQ \d+\)$/);
    client.close();
  });
});

describe("QRESYNC (RFC 7162 §3.2)", () => {
  it("resynchronises on SELECT with VANISHED (EARLIER) and uses VANISHED for expunges", async () => {
    const client = await connectClient(server);
    for (const subject of ["a", "b", "c"]) await appendMessage(client, "INBOX", message(subject));
    await client.command("ENABLE QRESYNC");
    const select = await client.command("SELECT INBOX");
    const uidValidity = Number(/UIDVALIDITY (\d+)/.exec(select.lines.join("\n"))?.[1]);
    const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(select.lines.join("\n"))?.[1]);
    await client.command("STORE 2 +FLAGS.SILENT (\\Deleted)");
    const expunge = await client.command("EXPUNGE");
    // The expunged message was \Recent here, so the lower RECENT count follows (as Dovecot does).
    expect(expunge.lines).toEqual(["* VANISHED 2", "* 2 RECENT"]);
    expect((await client.command("STORE 2 +FLAGS.SILENT (\\Seen)")).status).toBe("OK"); // UID 3 is now number 2
    await client.command("UNSELECT");
    const resync = await client.command(`SELECT INBOX (QRESYNC (${uidValidity} ${modseq} 1:3))`);
    expect(resync.lines).toContain("* VANISHED (EARLIER) 2");
    expect(resync.lines).toContainEqual(expect.stringMatching(/^\* 2 FETCH \(UID 3 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/));
    const fetch = await client.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    expect(fetch.lines[0]).toBe("* VANISHED (EARLIER) 2");
    client.close();
  });
});

describe("ESEARCH and SEARCHRES", () => {
  it("saves a result with RETURN (SAVE) and uses it as $", async () => {
    const client = await connectClient(server);
    for (const subject of ["red", "green", "red again"]) await appendMessage(client, "INBOX", message(subject));
    await client.command("SELECT INBOX");
    expect((await client.command("UID SEARCH RETURN (SAVE) SUBJECT red")).lines).toEqual([]);
    expect((await client.command("FETCH $ (UID)")).lines).toEqual(["* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)"]);
    expect((await client.command("SEARCH $ SUBJECT again")).lines).toEqual(["* SEARCH 3"]);
    expect((await client.command("SEARCH RETURN (COUNT) NOT $")).lines).toEqual([expect.stringMatching(/ COUNT 1$/)]);
    await client.command("SELECT INBOX"); // RFC 5182 §2.1: a new SELECT forgets the saved result
    expect((await client.command("FETCH $ (UID)")).lines).toEqual([]);
    client.close();
  });
});

describe("SORT and THREAD (RFC 5256)", () => {
  it("sorts by subject and size, and threads by references and subject", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("banana", "short\r\n"));
    await appendMessage(client, "INBOX", message("Re: apple", "a longer body here\r\n", "In-Reply-To: <apple@example.test>\r\nReferences: <apple@example.test>\r\n"));
    await appendMessage(client, "INBOX", message("apple", "mid body\r\n"));
    await client.command("SELECT INBOX");
    expect((await client.command("SORT (SUBJECT) UTF-8 ALL")).lines).toEqual(["* SORT 2 3 1"]);
    expect((await client.command("SORT (REVERSE SIZE) UTF-8 ALL")).lines).toEqual(["* SORT 2 3 1"]);
    expect((await client.command("UID SORT (ARRIVAL) UTF-8 SUBJECT apple")).lines).toEqual(["* SORT 2 3"]);
    expect((await client.command("SORT (FROBNICATE) UTF-8 ALL")).status).toBe("BAD");
    expect((await client.command("THREAD ORDEREDSUBJECT UTF-8 ALL")).lines).toEqual(["* THREAD (1)(2 3)"]);
    expect((await client.command("THREAD REFERENCES UTF-8 ALL")).lines).toEqual(["* THREAD (1)(3 2)"]);
    client.close();
  });
});

describe("QUOTA (RFC 9208)", () => {
  it("reports the storage quota root and refuses SETQUOTA", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("q", "x".repeat(2000)));
    const root = await client.command("GETQUOTAROOT INBOX");
    expect(root.lines).toEqual(['* QUOTAROOT INBOX ""', '* QUOTA "" (STORAGE 3 1024)']);
    expect((await client.command('GETQUOTA ""')).lines).toEqual(['* QUOTA "" (STORAGE 3 1024)']);
    expect((await client.command('SETQUOTA "" (STORAGE 1)')).tagged).toMatch(/NO \[NOPERM\]/);
    client.close();
  });

  it("answers OVERQUOTA when an APPEND does not fit", async () => {
    server.auth.users.get(server.user.address)!.quotaBytes = 500;
    const client = await connectClient(server);
    const result = await appendMessage(client, "INBOX", message("big", "x".repeat(600)));
    expect(result.tagged).toMatch(/NO \[OVERQUOTA\]/);
    expect((await client.command("NOOP")).status).toBe("OK");
    client.close();
  });
});

describe("HIGHESTMODSEQ in the tagged OK under QRESYNC (RFC 7162 §3.2.10)", () => {
  async function setup(): Promise<{ client: WireClient; other: WireClient; uidValidity: number }> {
    const client = await connectClient(server);
    const other = await connectClient(server);
    for (const subject of ["a", "b", "c", "d"]) await appendMessage(client, "INBOX", message(subject));
    await client.command("ENABLE QRESYNC");
    const select = await client.command("SELECT INBOX");
    const uidValidity = Number(/UIDVALIDITY (\d+)/.exec(select.lines.join("\n"))?.[1]);
    await other.command("SELECT INBOX");
    return { client, other, uidValidity };
  }
  const highest = async (c: WireClient): Promise<number> =>
    Number(/HIGHESTMODSEQ (\d+)/.exec((await c.command("STATUS INBOX (HIGHESTMODSEQ)")).lines[0])?.[1]);

  it("EXPUNGE and UID EXPUNGE report it only after the changes of other sessions went out", async () => {
    const { client, other } = await setup();
    // Changes this session has not been told about when its UID EXPUNGE starts.
    await other.command("STORE 1 +FLAGS (\\Flagged)");
    await other.command("UID STORE 2 +FLAGS.SILENT (\\Deleted)");
    const uidExpunge = await client.command("UID EXPUNGE 2");
    // (RECENT counts are not the subject here.)
    expect(uidExpunge.lines.filter((line) => !line.endsWith(" RECENT"))).toEqual(["* VANISHED 2", expect.stringMatching(/^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)$/)]);
    const reported = Number(/^\S+ OK \[HIGHESTMODSEQ (\d+)\] UID EXPUNGE completed\.$/.exec(uidExpunge.tagged)?.[1]);
    expect(reported).toBe(await highest(other));
    // Another session expunges; this session's EXPUNGE reports that first, then the value.
    await other.command("UID STORE 3 +FLAGS.SILENT (\\Deleted)");
    await other.command("UID EXPUNGE 3");
    const expunge = await client.command("EXPUNGE");
    expect(expunge.lines.filter((line) => !line.endsWith(" RECENT"))).toEqual(["* VANISHED 3"]);
    expect(expunge.tagged).toMatch(new RegExp(`^\\S+ OK \\[HIGHESTMODSEQ ${await highest(other)}\\] EXPUNGE completed\\.$`));
    // Without QRESYNC there is no code (CONDSTORE alone does not ask for it).
    await other.command("ENABLE CONDSTORE");
    expect((await other.command("EXPUNGE")).tagged).toMatch(/^\S+ OK EXPUNGE completed\.$/);
    client.close();
    other.close();
  });

  it("CLOSE reports the value from before its own expunge and before expunges not yet sent", async () => {
    const { client, other, uidValidity } = await setup();
    const before = await highest(other);
    // Expunged elsewhere while this session runs FETCH: held back (RFC 3501 §7.4.1).
    await other.command("UID STORE 1 +FLAGS.SILENT (\\Deleted)");
    const afterFlag = await highest(other);
    await other.command("UID EXPUNGE 1");
    const fetch = await client.command("FETCH 1:* (UID)");
    expect(fetch.lines.some((line) => line.startsWith("* VANISHED"))).toBe(false);
    // STORE by number holds the expunge back too; UID STORE would send it.
    await client.command("STORE 4 +FLAGS.SILENT (\\Deleted)");
    const close = await client.command("CLOSE");
    const reported = Number(/^\S+ OK \[HIGHESTMODSEQ (\d+)\] CLOSE completed\.$/.exec(close.tagged)?.[1]);
    expect(reported).toBeGreaterThanOrEqual(before);
    expect(reported).toBeLessThanOrEqual(afterFlag);
    // Resynchronizing from it tells the client about both expunges it was never sent.
    const resync = await client.command(`SELECT INBOX (QRESYNC (${uidValidity} ${reported} 1:4))`);
    expect(resync.lines).toContain("* VANISHED (EARLIER) 1,4");
    client.close();
    other.close();
  });
});

describe("MULTIAPPEND atomicity (RFC 3502)", () => {
  it("writes nothing and uses no UID when a later message is over quota", async () => {
    server.auth.users.get(server.user.address)!.quotaBytes = 1000;
    const client = await connectClient(server);
    const one = message("fits", "a".repeat(300));
    const two = message("does not fit", "b".repeat(700));
    client.write(`M1 APPEND INBOX {${one.length}+}\r\n${one} {${two.length}+}\r\n${two}\r\n`);
    expect((await client.readTagged("M1")).tagged).toMatch(/^M1 NO \[OVERQUOTA\]/);
    expect((await client.command("STATUS INBOX (MESSAGES UIDNEXT)")).lines).toEqual(["* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"]);
    expect((await appendMessage(client, "INBOX", one)).tagged).toMatch(/OK \[APPENDUID \d+ 1\]/);
    client.close();
  });
});

describe("XREGEX search extension", () => {
  it("matches body, text and header fields with flags, and refuses bad patterns", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("Invoice 2026-001", "Total: 42 EUR\r\n"));
    await appendMessage(client, "INBOX", message("hello", "no numbers here\r\n"));
    await client.command("SELECT INBOX");
    expect((await client.command('SEARCH XREGEX BODY "[0-9]+ EUR"')).lines).toEqual(["* SEARCH 1"]);
    expect((await client.command('SEARCH XREGEX HEADER Subject "/^invoice \\\\d{4}/i"')).lines).toEqual(["* SEARCH 1"]);
    expect((await client.command('SEARCH XREGEX TEXT "/HELLO/i"')).lines).toEqual(["* SEARCH 2"]);
    expect((await client.command('SEARCH NOT XREGEX BODY "EUR"')).lines).toEqual(["* SEARCH 2"]);
    expect((await client.command('SEARCH XREGEX BODY "(a"')).status).not.toBe("OK");
    expect((await client.command(`SEARCH XREGEX BODY "${"a".repeat(257)}"`)).tagged).toMatch(/BAD Regular expression too long/);
    client.close();
  });
});

describe("IMAP4rev2 (RFC 9051)", () => {
  it("switches SELECT, SEARCH and names to rev2 behaviour after ENABLE IMAP4rev2", async () => {
    const client = await connectClient(server);
    expect((await client.command("CAPABILITY")).lines[0]).toContain(" IMAP4rev2 ");
    expect((await client.command("ENABLE IMAP4rev2")).lines).toEqual(["* ENABLED IMAP4rev2"]);
    expect((await client.command('CREATE "Brief/Über"')).status).toBe("OK");
    await appendMessage(client, "INBOX", message("rev2"));
    const select = await client.command("SELECT inbox");
    expect(select.lines).toContain('* LIST () "/" "INBOX"');
    expect(select.lines.some((line) => /RECENT|UNSEEN/.test(line))).toBe(false);
    const search = await client.command("SEARCH ALL", "R1");
    expect(search.lines).toEqual(['* ESEARCH (TAG "R1") ALL 1']);
    expect((await client.command('LIST "" "Brief/*"')).lines).toEqual(['* LIST (\\HasNoChildren) "/" "Brief/Über"']);
    client.close();
  });

  it("accepts APPEND with the UTF8 (literal8) form once UTF-8 is enabled", async () => {
    const client = await connectClient(server);
    await client.command("ENABLE UTF8=ACCEPT");
    const raw = message("utf8 append", "Grüße\r\n");
    const bytes = Buffer.from(raw);
    client.write(Buffer.concat([Buffer.from(`U1 APPEND INBOX UTF8 (~{${bytes.length}+}\r\n`), bytes, Buffer.from(")\r\n")]));
    expect((await client.readTagged("U1")).tagged).toMatch(/^U1 OK \[APPENDUID \d+ 1\]/);
    client.close();
  });
});
