/**
 * Every SEARCH key of RFC 3501 §6.4.4 (plus RFC 5032 OLDER/YOUNGER) on the
 * wire, against a small mailbox with known dates, sizes, flags and headers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, startTestServer, type TestServer, type WireClient } from "./harness.ts";

let server: TestServer;
let client: WireClient;

function mail(options: { subject: string; date: string; to?: string; cc?: string; bcc?: string; body?: string; extra?: string }): string {
  return [
    "From: Carol <carol@example.test>",
    `To: ${options.to ?? "dave@example.test"}`,
    options.cc ? `Cc: ${options.cc}` : "",
    options.bcc ? `Bcc: ${options.bcc}` : "",
    `Subject: ${options.subject}`,
    `Date: ${options.date}`,
    options.extra ?? "",
  ]
    .filter((line) => line !== "")
    .join("\r\n")
    .concat("\r\n\r\n", options.body ?? "Body.\r\n");
}

async function append(text: string, flags: string, internalDate: string): Promise<void> {
  const tag = client.nextTag();
  client.write(`${tag} APPEND INBOX (${flags}) "${internalDate}" {${Buffer.byteLength(text)}+}\r\n${text}\r\n`);
  const result = await client.readTagged(tag);
  if (result.status !== "OK") throw new Error(result.tagged);
}

async function search(criteria: string): Promise<string> {
  const result = await client.command(`SEARCH ${criteria}`);
  expect(result.status, `${criteria}: ${result.tagged}`).toBe("OK");
  return result.lines.find((line) => line.startsWith("* SEARCH"))!.slice("* SEARCH".length).trim();
}

beforeAll(async () => {
  server = await startTestServer();
  client = await connectClient(server);
  await append(mail({ subject: "alpha report", date: "Mon, 05 Jan 2026 08:00:00 +0000", cc: "erin@example.test", body: "quarterly numbers\r\n" }), "\\Seen \\Answered", "05-Jan-2026 09:00:00 +0000");
  // Another session selects INBOX now: message 1 is its \Recent, so only 2 and 3 are ours (RFC 3501 §2.3.2).
  const earlier = await connectClient(server);
  await earlier.command("SELECT INBOX");
  earlier.close();
  await append(mail({ subject: "beta", date: "Tue, 10 Feb 2026 08:00:00 +0000", bcc: "frank@example.test", body: "x".repeat(3000), extra: "X-Priority: 1" }), "\\Flagged $Todo", "10-Feb-2026 09:00:00 +0000");
  await append(mail({ subject: "gamma draft", date: "Sun, 15 Mar 2026 08:00:00 +0000", to: "grace@example.test" }), "\\Draft \\Deleted", "15-Mar-2026 09:00:00 +0000");
  await client.command("SELECT INBOX");
});
afterAll(async () => {
  client.close();
  await server.close();
});

describe("SEARCH keys", () => {
  it.each([
    ["ALL", "1 2 3"],
    ["ANSWERED", "1"],
    ["UNANSWERED", "2 3"],
    ["DELETED", "3"],
    ["UNDELETED", "1 2"],
    ["DRAFT", "3"],
    ["UNDRAFT", "1 2"],
    ["FLAGGED", "2"],
    ["UNFLAGGED", "1 3"],
    ["SEEN", "1"],
    ["UNSEEN", "2 3"],
    ["KEYWORD $Todo", "2"],
    ["UNKEYWORD $Todo", "1 3"],
    ["NEW", "2 3"],
    ["OLD", "1"],
    ["RECENT", "2 3"],
    ["NOT RECENT", "1"],
    ["OR RECENT SEEN", "1 2 3"],
    ["FROM carol", "1 2 3"],
    ["TO grace", "3"],
    ["CC erin", "1"],
    ["BCC frank", "2"],
    ["SUBJECT draft", "3"],
    ["HEADER X-Priority 1", "2"],
    ['HEADER X-Priority ""', "2"],
    ["BODY quarterly", "1"],
    ["TEXT quarterly", "1"],
    ["TEXT alpha", "1"],
    ["BEFORE 10-Feb-2026", "1"],
    ["ON 10-Feb-2026", "2"],
    ["SINCE 10-Feb-2026", "2 3"],
    ["SENTBEFORE 10-Feb-2026", "1"],
    ["SENTON 15-Mar-2026", "3"],
    ["SENTSINCE 10-Feb-2026", "2 3"],
    ["LARGER 1000", "2"],
    ["SMALLER 1000", "1 3"],
    ["UID 2:*", "2 3"],
    ["2,3", "2 3"],
    ["1:* NOT 2", "1 3"],
    ["OR ANSWERED DRAFT", "1 3"],
    ["OR (SEEN FLAGGED) (DELETED DRAFT)", "3"],
    ["NOT OR SEEN FLAGGED", "3"],
    ["OLDER 1", "1 2 3"],
    ["YOUNGER 1", ""],
    ['SUBJECT "ALPHA REPORT"', "1"],
  ])("%s", async (criteria, expected) => {
    expect(await search(criteria)).toBe(expected);
  });

  it("refuses malformed keys and dates", async () => {
    for (const bad of ["BEFORE 2026-02-10", "LARGER x", "OR SEEN", "NOT", "HEADER", "UID x", "(SEEN"]) {
      expect((await client.command(`SEARCH ${bad}`)).status, bad).toBe("BAD");
    }
  });
});
