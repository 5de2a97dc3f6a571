/**
 * Message commands on the wire: COPY/MOVE with COPYUID, MULTIAPPEND,
 * TRYCREATE, APPENDLIMIT (TOOBIG before "+"), LITERAL+, literal8 (BINARY),
 * CLOSE/UNSELECT, and the second session's view of MOVE.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendMessage, connectClient, message, startTestServer, type TestServer } from "./harness.ts";

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer({ limits: { maxMessageBytes: 4096 } });
});
afterEach(async () => {
  await server.close();
});

describe("COPY and MOVE", () => {
  it("COPY answers COPYUID; a missing destination is TRYCREATE", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("a"));
    await appendMessage(client, "INBOX", message("b"));
    await client.command("CREATE Keep");
    await client.command("SELECT INBOX");
    const copy = await client.command("COPY 1:2 Keep");
    expect(copy.tagged).toMatch(/^A\d+ OK \[COPYUID \d+ 1:2 1:2\] COPY completed\.$/);
    expect((await client.command("COPY 1 Nowhere")).tagged).toMatch(/NO \[TRYCREATE\]/);
    expect((await client.command("STATUS Keep (MESSAGES)")).lines).toEqual(["* STATUS Keep (MESSAGES 2)"]);
    client.close();
  });

  it("MOVE sends COPYUID untagged then EXPUNGE; another session sees the EXPUNGE", async () => {
    const client = await connectClient(server);
    const other = await connectClient(server);
    for (const subject of ["a", "b", "c"]) await appendMessage(client, "INBOX", message(subject));
    await client.command("SELECT INBOX");
    await other.command("SELECT INBOX");
    const move = await client.command("UID MOVE 2 Trash");
    expect(move.lines).toEqual([expect.stringMatching(/^\* OK \[COPYUID \d+ 2 1\] Moved\.$/), "* 2 EXPUNGE", "* 2 RECENT"]);
    expect(move.status).toBe("OK");
    expect((await other.command("NOOP")).lines).toEqual(["* 2 EXPUNGE"]);
    expect((await client.command("STATUS Trash (MESSAGES)")).lines).toEqual(["* STATUS Trash (MESSAGES 1)"]);
    client.close();
    other.close();
  });
});

describe("APPEND", () => {
  it("MULTIAPPEND appends all messages with one APPENDUID", async () => {
    const client = await connectClient(server);
    const one = message("m1");
    const two = message("m2");
    client.write(`M1 APPEND INBOX (\\Seen) {${one.length}+}\r\n${one} "01-Jan-2026 10:00:00 +0100" {${two.length}+}\r\n${two}\r\n`);
    const result = await client.readTagged("M1");
    expect(result.tagged).toMatch(/^M1 OK \[APPENDUID \d+ 1:2\] APPEND completed\.$/);
    await client.command("SELECT INBOX");
    const fetch = await client.command("FETCH 1:2 (FLAGS INTERNALDATE)");
    expect(fetch.lines[0]).toMatch(/^\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) INTERNALDATE "/);
    expect(fetch.lines[1]).toBe('* 2 FETCH (FLAGS (\\Recent) INTERNALDATE "01-Jan-2026 09:00:00 +0000")');
    client.close();
  });

  it("refuses a message over APPENDLIMIT before the continuation, and one byte under passes", async () => {
    const client = await connectClient(server);
    client.write("T1 APPEND INBOX {4097}\r\n");
    expect(await client.readLine()).toBe("T1 NO [TOOBIG] Message exceeds the APPENDLIMIT.");
    const exact = message("x", "y".repeat(4096 - message("x", "").length));
    expect(exact.length).toBe(4096);
    expect((await appendMessage(client, "INBOX", exact)).status).toBe("OK");
    // A non-synchronizing literal over the limit: its bytes are skipped, the session goes on.
    const big = "z".repeat(4097);
    client.write(`T2 APPEND INBOX {4097+}\r\n${big}\r\nT3 NOOP\r\n`);
    expect((await client.readTagged("T2")).tagged).toMatch(/^T2 NO \[TOOBIG\]/);
    expect((await client.readTagged("T3")).status).toBe("OK");
    client.close();
  });

  it("answers TRYCREATE before accepting the literal, and rejects a bad date", async () => {
    const client = await connectClient(server);
    client.write("T1 APPEND Missing {10}\r\n");
    expect(await client.readLine()).toBe("T1 NO [TRYCREATE] No such mailbox.");
    client.write('T2 APPEND INBOX "31-Foo-2026 00:00:00 +0000" {10}\r\n');
    expect((await client.readLine())?.startsWith("T2 BAD")).toBe(true);
    expect((await client.command("NOOP")).status).toBe("OK");
    client.close();
  });

  it("answers TRYCREATE after the literal when another session deleted the selected folder", async () => {
    const client = await connectClient(server);
    const other = await connectClient(server);
    await client.command("CREATE Box");
    await client.command("SELECT Box");
    await other.command("DELETE Box");
    const appended = await appendMessage(client, "Box", message("late"));
    expect(appended.tagged).toMatch(/^A\d+ NO \[TRYCREATE\] No such mailbox\.$/);
    expect((await other.command("LIST \"\" Box")).lines).toEqual([]);
    client.close();
    other.close();
  });

  it("refuses an unknown system flag with BAD before the literal, in APPEND and STORE", async () => {
    const client = await connectClient(server);
    client.write("F1 APPEND INBOX (\\Seen \\Bogus) {10}\r\n");
    expect(await client.readLine()).toBe("F1 BAD Unknown system flag \\Bogus: only \\Answered \\Flagged \\Deleted \\Seen \\Draft may start with \\.");
    await appendMessage(client, "INBOX", message("a"));
    await client.command("SELECT INBOX");
    const store = await client.command("STORE 1 +FLAGS (\\Foo)");
    expect(store.tagged).toMatch(/^A\d+ BAD Unknown system flag \\Foo: only /);
    // System flags pass in any case.
    const ok = await client.command("STORE 1 +FLAGS (\\SEEN \\flagged)");
    expect(ok.lines).toEqual(["* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent))"]);
    client.close();
  });

  it("answers a store refusal with a clear text, never the store's own message", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("a"));
    await client.command("SELECT INBOX");
    const tooLong = await client.command(`STORE 1 +FLAGS (${"k".repeat(129)})`);
    expect(tooLong.tagged).toMatch(/^A\d+ NO \[CANNOT\] Refused: a name, flag, keyword or message is malformed or over a limit\.$/);
    client.close();
  });

  it("refuses a date-time naming a day the month does not have, and accepts 29-Feb of a leap year", async () => {
    const client = await connectClient(server);
    client.write('D1 APPEND INBOX "31-Feb-2026 10:00:00 +0000" {10}\r\n');
    expect(await client.readLine()).toBe('D1 BAD Invalid date-time: expected "dd-Mon-yyyy hh:mm:ss +zzzz" naming a day that exists.');
    client.write('D2 APPEND INBOX "29-Feb-2026 10:00:00 +0000" {10}\r\n');
    expect((await client.readLine())?.startsWith("D2 BAD Invalid date-time")).toBe(true);
    const body = message("leap");
    client.write(`D3 APPEND INBOX "29-Feb-2028 10:00:00 +0000" {${body.length}+}\r\n${body}\r\n`);
    expect((await client.readTagged("D3")).status).toBe("OK");
    client.write(`D4 APPEND INBOX "30-Apr-2026 23:59:59 -0100" {${body.length}+}\r\n${body}\r\n`);
    expect((await client.readTagged("D4")).status).toBe("OK");
    await client.command("SELECT INBOX");
    expect((await client.command("FETCH 1:2 (INTERNALDATE)")).lines).toEqual([
      '* 1 FETCH (INTERNALDATE "29-Feb-2028 10:00:00 +0000")',
      '* 2 FETCH (INTERNALDATE "01-May-2026 00:59:59 +0000")',
    ]);
    client.close();
  });

  it("accepts literal8 (BINARY) and fetches BINARY sections decoded", async () => {
    const client = await connectClient(server);
    const body = message("bin", "aGVsbG8gd29ybGQ=\r\n", "MIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n");
    client.write(`B1 APPEND INBOX ~{${body.length}+}\r\n${body}\r\n`);
    expect((await client.readTagged("B1")).status).toBe("OK");
    await client.command("SELECT INBOX");
    const fetch = await client.command("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])");
    expect(fetch.lines).toEqual(["* 1 FETCH (BINARY[1] ~{11}\r\nhello world BINARY.SIZE[1] 11)"]);
    client.close();
  });
});

describe("BINARY of an undecodable part", () => {
  it("answers NO [UNKNOWN-CTE] and keeps the session usable", async () => {
    const client = await connectClient(server);
    const body = message("odd", "some bytes\r\n", "MIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-frobnicated\r\n");
    await appendMessage(client, "INBOX", body);
    await client.command("SELECT INBOX");
    expect((await client.command("FETCH 1 BINARY.PEEK[1]")).tagged).toMatch(/NO \[UNKNOWN-CTE\]/);
    expect((await client.command("FETCH 1 BODY.PEEK[1]")).lines).toEqual(["* 1 FETCH (BODY[1] {12}\r\nsome bytes\r\n)"]);
    client.close();
  });
});

describe("CLOSE and UNSELECT", () => {
  it("CLOSE expunges silently, UNSELECT does not", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("a"), "\\Deleted");
    await appendMessage(client, "INBOX", message("b"), "\\Deleted");
    await client.command("SELECT INBOX");
    const unselect = await client.command("UNSELECT");
    expect(unselect.lines).toEqual([]);
    expect((await client.command("STATUS INBOX (MESSAGES)")).lines).toEqual(["* STATUS INBOX (MESSAGES 2)"]);
    await client.command("EXAMINE INBOX");
    await client.command("CLOSE"); // read-only: no expunge
    expect((await client.command("STATUS INBOX (MESSAGES)")).lines).toEqual(["* STATUS INBOX (MESSAGES 2)"]);
    await client.command("SELECT INBOX");
    const close = await client.command("CLOSE");
    expect(close.lines).toEqual([]);
    expect((await client.command("STATUS INBOX (MESSAGES)")).lines).toEqual(["* STATUS INBOX (MESSAGES 0)"]);
    expect((await client.command("FETCH 1 FLAGS")).status).toBe("BAD");
    client.close();
  });
});
