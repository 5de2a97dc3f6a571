/**
 * Wire transcripts of the session core: greeting, CAPABILITY, LOGIN,
 * AUTHENTICATE, SELECT, APPEND, FETCH, STORE, SEARCH, EXPUNGE, LOGOUT, and
 * what a second session of the same mailbox sees.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendMessage, connectClient, message, quote, startTestServer, type TestServer } from "./harness.ts";

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

describe("not authenticated", () => {
  it("greets with capabilities and answers CAPABILITY", async () => {
    const client = await connectClient(server, { login: false });
    const result = await client.command("CAPABILITY");
    expect(result.status).toBe("OK");
    expect(result.lines[0]).toMatch(/^\* CAPABILITY IMAP4rev1 .*AUTH=PLAIN/);
    expect(result.lines[0]).not.toContain("STARTTLS"); // no certificate configured
    client.close();
  });

  it("refuses a wrong password and an unknown user alike", async () => {
    const client = await connectClient(server, { login: false });
    const wrong = await client.command(`LOGIN ${server.user.address} "not-the-password"`);
    const unknown = await client.command(`LOGIN nobody@example.test "whatever"`);
    expect(wrong.tagged).toMatch(/^A1 NO \[AUTHENTICATIONFAILED\] Authentication failed\.$/);
    expect(unknown.tagged).toBe(wrong.tagged.replace("A1", "A2"));
    client.close();
  });

  it("logs in with LOGIN and reports capabilities in the OK", async () => {
    const client = await connectClient(server, { login: false });
    const result = await client.command(`LOGIN ${server.user.address} ${quote(server.user.password)}`);
    expect(result.tagged).toMatch(/^A1 OK \[CAPABILITY IMAP4rev1 .*\] Logged in\.$/);
    const again = await client.command(`LOGIN ${server.user.address} ${quote(server.user.password)}`);
    expect(again.status).toBe("BAD");
    client.close();
  });

  it("logs in with AUTHENTICATE PLAIN, with and without an initial response", async () => {
    const plain = Buffer.from(`\0${server.user.address}\0${server.user.password}`).toString("base64");
    const first = await connectClient(server, { login: false });
    expect((await first.command(`AUTHENTICATE PLAIN ${plain}`)).status).toBe("OK");
    first.close();
    const second = await connectClient(server, { login: false });
    second.write("B1 AUTHENTICATE PLAIN\r\n");
    expect(await second.readLine()).toBe("+ ");
    second.write(`${plain}\r\n`);
    expect((await second.readTagged("B1")).status).toBe("OK");
    second.close();
    const third = await connectClient(server, { login: false });
    third.write("C1 AUTHENTICATE PLAIN\r\n");
    await third.readLine();
    third.write("*\r\n");
    expect((await third.readTagged("C1")).status).toBe("BAD");
    const bad = Buffer.from(`\0${server.user.address}\0wrong`).toString("base64");
    expect((await third.command(`AUTHENTICATE PLAIN ${bad}`)).tagged).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
    third.close();
  });

  it("refuses mailbox commands before login", async () => {
    const client = await connectClient(server, { login: false });
    expect((await client.command("SELECT INBOX")).status).toBe("BAD");
    expect((await client.command("NOOP")).status).toBe("OK");
    client.close();
  });

  it("says BYE on LOGOUT and closes", async () => {
    const client = await connectClient(server, { login: false });
    const result = await client.command("LOGOUT");
    expect(result.lines).toEqual(["* BYE Logging out."]);
    expect(result.status).toBe("OK");
    expect(await client.readLine()).toBeNull();
  });
});

describe("selected state", () => {
  it("SELECT reports all untagged data", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("one"));
    const result = await client.command("SELECT INBOX");
    expect(result.tagged).toMatch(/^A\d+ OK \[READ-WRITE\] SELECT completed\.$/);
    expect(result.lines).toContain("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
    expect(result.lines).toContain("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.");
    expect(result.lines).toContain("* 1 EXISTS");
    expect(result.lines).toContain("* 1 RECENT");
    expect(result.lines.some((line) => /^\* OK \[UIDVALIDITY \d+\]/.test(line))).toBe(true);
    expect(result.lines).toContain("* OK [UIDNEXT 2] Predicted next UID.");
    expect(result.lines).toContain("* OK [UNSEEN 1] First unseen.");
    const examine = await client.command("EXAMINE INBOX");
    expect(examine.lines[0]).toBe("* OK [CLOSED] Previous mailbox closed.");
    expect(examine.tagged).toMatch(/OK \[READ-ONLY\]/);
    expect((await client.command("SELECT nosuch")).tagged).toMatch(/NO \[NONEXISTENT\]/);
    expect((await client.command("FETCH 1 FLAGS")).status).toBe("BAD"); // deselected by the failed SELECT
    client.close();
  });

  it("APPEND returns APPENDUID and FETCH returns the exact bytes", async () => {
    const client = await connectClient(server);
    const raw = message("exact", "Line one\r\nLine two\r\n");
    const append = await appendMessage(client, "INBOX", raw, "\\Flagged");
    expect(append.tagged).toMatch(/^A\d+ OK \[APPENDUID \d+ 1\] APPEND completed\.$/);
    await client.command("SELECT INBOX");
    const fetch = await client.command("FETCH 1 (UID FLAGS RFC822.SIZE BODY.PEEK[])");
    expect(fetch.lines).toEqual([`* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent) RFC822.SIZE ${raw.length} BODY[] {${raw.length}}\r\n${raw})`]);
    const header = await client.command("UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])");
    expect(header.lines).toEqual(["* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: exact\r\n\r\n)"]);
    const partial = await client.command("FETCH 1 (BODY.PEEK[TEXT]<5.3>)");
    expect(partial.lines).toEqual(["* 1 FETCH (BODY[TEXT]<5> {3}\r\none)"]);
    client.close();
  });

  it("FETCH BODY[] sets \\Seen and reports the flags; BODY.PEEK does not", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("seen"));
    await client.command("SELECT INBOX");
    const peek = await client.command("FETCH 1 BODY.PEEK[TEXT]");
    expect(peek.lines[0]).not.toContain("FLAGS");
    const fetch = await client.command("FETCH 1 BODY[TEXT]");
    // The new flags come first, as Dovecot sends them.
    expect(fetch.lines[0]).toMatch(/^\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) BODY\[TEXT\] \{8\}\r\nHello\.\r\n\)$/);
    const again = await client.command("FETCH 1 FLAGS");
    expect(again.lines).toEqual(["* 1 FETCH (FLAGS (\\Seen \\Recent))"]);
    client.close();
  });

  it("STORE answers with FETCH FLAGS, .SILENT does not", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("a"));
    await appendMessage(client, "INBOX", message("b"));
    await client.command("SELECT INBOX");
    const store = await client.command("STORE 1:2 +FLAGS (\\Flagged $Work)");
    expect(store.lines).toEqual([
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)",
      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted.",
      "* 1 FETCH (FLAGS (\\Flagged \\Recent $Work))",
      "* 2 FETCH (FLAGS (\\Flagged \\Recent $Work))",
    ]);
    const silent = await client.command("UID STORE 2 -FLAGS.SILENT ($Work)");
    expect(silent.lines).toEqual([]);
    const check = await client.command("FETCH 1:* FLAGS");
    expect(check.lines).toEqual(["* 1 FETCH (FLAGS (\\Flagged \\Recent $Work))", "* 2 FETCH (FLAGS (\\Flagged \\Recent))"]);
    expect((await client.command("STORE 3 +FLAGS (\\Seen)")).status).toBe("BAD");
    client.close();
  });

  it("SEARCH with flags, headers, OR/NOT, UID and sequence sets", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("apple pie"));
    await appendMessage(client, "INBOX", message("banana split"), "\\Seen");
    await appendMessage(client, "INBOX", message("cherry apple"), "\\Flagged");
    await client.command("SELECT INBOX");
    expect((await client.command("SEARCH SUBJECT apple")).lines).toEqual(["* SEARCH 1 3"]);
    expect((await client.command("SEARCH UNSEEN")).lines).toEqual(["* SEARCH 1 3"]);
    expect((await client.command("SEARCH OR SEEN FLAGGED")).lines).toEqual(["* SEARCH 2 3"]);
    expect((await client.command("SEARCH NOT (SUBJECT apple)")).lines).toEqual(["* SEARCH 2"]);
    expect((await client.command("UID SEARCH 2:*")).lines).toEqual(["* SEARCH 2 3"]);
    expect((await client.command("SEARCH CHARSET UTF-8 FROM bob")).lines).toEqual(["* SEARCH 1 2 3"]);
    expect((await client.command("SEARCH CHARSET KOI8-R FROM bob")).tagged).toMatch(/NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    expect((await client.command("SEARCH FROBNICATE")).status).toBe("BAD");
    expect((await client.command("SEARCH RETURN (MIN MAX COUNT) SUBJECT apple")).lines).toEqual([
      expect.stringMatching(/^\* ESEARCH \(TAG "A\d+"\) MIN 1 MAX 3 COUNT 2$/),
    ]);
    expect((await client.command("UID SEARCH RETURN () ALL")).lines).toEqual([expect.stringMatching(/^\* ESEARCH \(TAG "A\d+"\) UID ALL 1:3$/)]);
    client.close();
  });

  it("CHECK and NOOP report pending changes; CHECK needs a selected mailbox", async () => {
    const client = await connectClient(server);
    expect((await client.command("CHECK")).status).toBe("BAD");
    await client.command("SELECT INBOX");
    const other = await connectClient(server);
    await appendMessage(other, "INBOX", message("checked"));
    expect((await client.command("CHECK")).lines).toEqual(["* 1 EXISTS", "* 1 RECENT"]);
    other.close();
    client.close();
  });

  it("EXPUNGE removes \\Deleted messages with numbered EXPUNGE responses", async () => {
    const client = await connectClient(server);
    for (const subject of ["a", "b", "c", "d"]) await appendMessage(client, "INBOX", message(subject));
    await client.command("SELECT INBOX");
    await client.command("STORE 2,4 +FLAGS.SILENT (\\Deleted)");
    const expunge = await client.command("EXPUNGE");
    expect(expunge.lines).toEqual(["* 4 EXPUNGE", "* 2 EXPUNGE", "* 2 RECENT"]);
    expect((await client.command("FETCH 1:* UID")).lines).toEqual(["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]);
    await client.command("STORE 1 +FLAGS.SILENT (\\Deleted)");
    expect((await client.command("UID EXPUNGE 3")).lines).toEqual([]);
    expect((await client.command("UID EXPUNGE 1")).lines).toEqual(["* 1 EXPUNGE", "* 1 RECENT"]);
    client.close();
  });
});

describe("a second session", () => {
  it("sees appends, flag changes and expunges at its next command, expunges deferred past FETCH", async () => {
    const first = await connectClient(server);
    const second = await connectClient(server);
    await appendMessage(first, "INBOX", message("one"));
    await appendMessage(first, "INBOX", message("two"));
    await first.command("SELECT INBOX");
    await second.command("SELECT INBOX");
    await appendMessage(first, "INBOX", message("three"));
    expect((await second.command("NOOP")).lines).toEqual(["* 3 EXISTS"]);
    await first.command("STORE 1 +FLAGS.SILENT (\\Seen)");
    expect((await second.command("NOOP")).lines).toEqual(["* 1 FETCH (UID 1 FLAGS (\\Seen))"]);
    await first.command("STORE 2 +FLAGS.SILENT (\\Deleted)");
    await first.command("EXPUNGE");
    // RFC 3501 §7.4.1: no EXPUNGE while responding to FETCH; the message keeps its number.
    const fetch = await second.command("FETCH 3 UID");
    expect(fetch.lines).toEqual(["* 3 FETCH (UID 3)"]);
    expect((await second.command("NOOP")).lines).toEqual(["* 2 EXPUNGE"]);
    expect((await second.command("FETCH 2 UID")).lines).toEqual(["* 2 FETCH (UID 3)"]);
    first.close();
    second.close();
  });

  it("gets updates at once while in IDLE", async () => {
    const first = await connectClient(server);
    const second = await connectClient(server);
    await appendMessage(first, "INBOX", message("one"));
    await second.command("SELECT INBOX");
    second.write("I1 IDLE\r\n");
    expect(await second.readLine()).toBe("+ idling");
    await appendMessage(first, "INBOX", message("two"));
    expect(await second.readLine()).toBe("* 2 EXISTS");
    expect(await second.readLine()).toBe("* 2 RECENT");
    await first.command("SELECT INBOX");
    await first.command("STORE 1 +FLAGS.SILENT (\\Deleted)");
    expect(await second.readLine()).toBe("* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))");
    await first.command("EXPUNGE");
    expect(await second.readLine()).toBe("* 1 EXPUNGE");
    second.write("DONE\r\n");
    expect((await second.readTagged("I1")).status).toBe("OK");
    first.close();
    second.close();
  });
});

describe("pipelining", () => {
  it("answers every pipelined command in order and still reaches commands that wait for the client", async () => {
    const client = await connectClient(server);
    const body = message("piped");
    // NOOPs batched with an IDLE behind them: the "+" must still arrive.
    client.write("P1 NOOP\r\nP2 SELECT INBOX\r\nP3 IDLE\r\n");
    expect((await client.readTagged("P1")).status).toBe("OK");
    expect((await client.readTagged("P2")).status).toBe("OK");
    expect(await client.readLine()).toMatch(/^\+ /);
    client.write("DONE\r\n");
    expect((await client.readTagged("P3")).status).toBe("OK");
    // A synchronizing literal behind a pipelined command: its continuation must still arrive.
    client.write(`P4 NOOP\r\nP5 APPEND INBOX {${body.length}}\r\n`);
    expect((await client.readTagged("P4")).status).toBe("OK");
    expect(await client.readLine()).toMatch(/^\+ /);
    client.write(`${body}\r\n`);
    expect((await client.readTagged("P5")).tagged).toMatch(/^P5 OK \[APPENDUID \d+ 1\]/);
    // Many small commands in one packet, answered in order.
    client.write(Array.from({ length: 30 }, (_, i) => `Q${i} FETCH 1 (UID)\r\n`).join(""));
    for (let i = 0; i < 30; i++) expect((await client.readTagged(`Q${i}`)).lines).toEqual(["* 1 FETCH (UID 1)"]);
    client.close();
  });
});
