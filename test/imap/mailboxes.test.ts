/**
 * Folder commands on the wire: CREATE, DELETE, RENAME, SUBSCRIBE, LIST (with
 * LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), LSUB, STATUS, modified UTF-7 and
 * UTF8=ACCEPT names — and what a second session sees.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendMessage, connectClient, message, startTestServer, type TestServer } from "./harness.ts";

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

function listNames(lines: string[]): string[] {
  return lines.filter((line) => line.startsWith("* LIST")).map((line) => line.replace(/^\* LIST \([^)]*\) "\/" /, ""));
}

describe("CREATE / DELETE / RENAME", () => {
  it("creates nested folders, refuses duplicates, and another session lists them", async () => {
    const client = await connectClient(server);
    expect((await client.command("CREATE Projects/2026")).status).toBe("OK");
    expect((await client.command("CREATE Projects/2026")).tagged).toMatch(/NO \[ALREADYEXISTS\]/);
    expect((await client.command("CREATE inbox")).tagged).toMatch(/NO \[ALREADYEXISTS\]/);
    const other = await connectClient(server);
    const list = await other.command('LIST "" "Projects*"');
    expect(list.lines).toEqual(expect.arrayContaining([expect.stringMatching(/^\* LIST \(.*\\HasChildren.*\) "\/" Projects$/), '* LIST (\\HasNoChildren) "/" Projects/2026']));
    const percent = await other.command('LIST "" "%"');
    expect(listNames(percent.lines)).toContain("Projects");
    expect(listNames(percent.lines)).not.toContain("Projects/2026");
    client.close();
    other.close();
  });

  it("renames with children and refuses to delete INBOX", async () => {
    const client = await connectClient(server);
    await client.command("CREATE Work/Old");
    expect((await client.command("RENAME Work Job")).status).toBe("OK");
    const list = await client.command('LIST "" "*"');
    expect(listNames(list.lines)).toEqual(expect.arrayContaining(["Job", "Job/Old"]));
    expect(listNames(list.lines)).not.toContain("Work");
    expect((await client.command("DELETE INBOX")).status).toBe("NO");
    expect((await client.command("DELETE Job/Old")).status).toBe("OK");
    expect((await client.command("DELETE Nope")).tagged).toMatch(/NO \[NONEXISTENT\]/);
    client.close();
  });

  it("RENAME INBOX moves its messages into a new folder", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("keep"));
    expect((await client.command("RENAME INBOX Saved")).status).toBe("OK");
    const status = await client.command("STATUS Saved (MESSAGES)");
    expect(status.lines).toEqual(["* STATUS Saved (MESSAGES 1)"]);
    expect((await client.command("STATUS INBOX (MESSAGES)")).lines).toEqual(["* STATUS INBOX (MESSAGES 0)"]);
    client.close();
  });

  it("creates a special-use folder (CREATE-SPECIAL-USE) and lists it by SPECIAL-USE", async () => {
    const client = await connectClient(server);
    expect((await client.command("CREATE Receipts (USE (\\Archive))")).status).toBe("OK");
    expect((await client.command("CREATE Bad (USE (\\Frobnicate))")).tagged).toMatch(/NO \[USEATTR\]/);
    const list = await client.command('LIST (SPECIAL-USE) "" "*"');
    expect(list.lines.every((line) => /\\(Sent|Drafts|Trash|Junk|Archive|All|Flagged)/.test(line))).toBe(true);
    expect(listNames(list.lines)).toContain("Receipts");
    client.close();
  });
});

describe("names on the wire", () => {
  it("encodes and decodes modified UTF-7, and uses UTF-8 after ENABLE UTF8=ACCEPT", async () => {
    const client = await connectClient(server);
    expect((await client.command("CREATE &AMk-t&AOk-")).status).toBe("OK"); // "Été"
    expect(listNames((await client.command('LIST "" "&AMk-t*"')).lines)).toEqual(["&AMk-t&AOk-"]);
    expect((await client.command("CREATE &Jjo-&Jjo-")).status).toBe("BAD"); // two adjacent shifts: not canonical
    expect((await client.command("CREATE &AGE-")).status).toBe("BAD"); // "a" must not be encoded
    expect((await client.command("ENABLE UTF8=ACCEPT")).lines).toEqual(["* ENABLED UTF8=ACCEPT"]);
    expect(listNames((await client.command('LIST "" "*t*"')).lines)).toContain('"Été"');
    expect((await client.command('CREATE "Über"')).status).toBe("OK");
    expect((await client.command('STATUS "Über" (MESSAGES)')).lines).toEqual(['* STATUS "Über" (MESSAGES 0)']);
    client.close();
  });

  it('answers LIST "" "" with the delimiter', async () => {
    const client = await connectClient(server);
    expect((await client.command('LIST "" ""')).lines).toEqual(['* LIST (\\Noselect) "/" ""']);
    client.close();
  });
});

describe("SUBSCRIBE / LSUB / LIST-EXTENDED / LIST-STATUS / STATUS", () => {
  it("tracks subscriptions", async () => {
    const client = await connectClient(server);
    await client.command("CREATE Lists/rust");
    await client.command("CREATE Lists/go");
    // New folders start subscribed; keep only Lists/rust.
    for (const name of ["Lists", "Lists/go", "Lists/rust"]) await client.command(`UNSUBSCRIBE ${name}`);
    expect((await client.command("SUBSCRIBE Lists/rust")).status).toBe("OK");
    expect((await client.command('LSUB "" "Lists/*"')).lines).toEqual(['* LSUB () "/" Lists/rust']);
    const extended = await client.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Lists*"');
    expect(extended.lines).toContain('* LIST (\\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))');
    expect(extended.lines).toContain('* LIST (\\HasNoChildren \\Subscribed) "/" Lists/rust');
    expect(listNames(extended.lines)).not.toContain("Lists/go");
    await client.command("UNSUBSCRIBE Lists/rust");
    expect((await client.command('LSUB "" "*"')).lines.filter((line) => line.includes("Lists"))).toEqual([]);
    client.close();
  });

  it("returns STATUS inline with LIST-STATUS and alone with STATUS", async () => {
    const client = await connectClient(server);
    await appendMessage(client, "INBOX", message("s1"));
    await appendMessage(client, "INBOX", message("s2"), "\\Seen");
    const list = await client.command('LIST "" "INBOX" RETURN (STATUS (MESSAGES UNSEEN))');
    expect(list.lines).toEqual([expect.stringMatching(/^\* LIST \(\\HasNoChildren\) "\/" INBOX$/), "* STATUS INBOX (MESSAGES 2 UNSEEN 1)"]);
    const status = await client.command("STATUS inbox (MESSAGES UIDNEXT UNSEEN RECENT DELETED)");
    expect(status.lines).toEqual(["* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UNSEEN 1 RECENT 2 DELETED 0)"]);
    expect((await client.command("STATUS INBOX (BOGUS)")).status).toBe("BAD");
    expect((await client.command("STATUS Missing (MESSAGES)")).tagged).toMatch(/NO \[NONEXISTENT\]/);
    client.close();
  });
});

describe("parents of nested folders", () => {
  it("are real folders: created with the child, not deletable while it exists", async () => {
    const client = await connectClient(server);
    await client.command("CREATE Outer/Inner");
    expect((await client.command('LIST "" "Outer"')).lines).toEqual(['* LIST (\\HasChildren) "/" Outer']);
    expect((await client.command("DELETE Outer")).tagged).toMatch(/NO \[CANNOT\]/);
    expect((await client.command("DELETE Outer/Inner")).status).toBe("OK");
    expect((await client.command('LIST "" "Outer"')).lines).toEqual(['* LIST (\\HasNoChildren) "/" Outer']);
    client.close();
  });
});
