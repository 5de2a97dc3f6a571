/**
 * parseMessage beyond ENVELOPE/BODYSTRUCTURE: search text, threading keys,
 * base subject, sent date — and a property test that no input throws or
 * yields offsets outside the message.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Buffer } from "node:buffer";
import { parseMessage } from "../../storage-node/mime/parse.ts";
import { formatBodyStructure, formatEnvelope } from "../../storage-node/mime/imap-format.ts";
import { extractSection } from "../../storage-node/mime/sections.ts";
import type { MimePartData } from "../../storage-node/mime/types.ts";
import { goldenMessage } from "./golden-files.ts";

describe("parseMessage", () => {
  it("extracts decoded search text from text parts, HTML reduced", () => {
    const p = parseMessage(goldenMessage("04-alternative"));
    expect(p.bodyText).toContain("Café au lait soft break");
    expect(p.bodyText).toContain("Café au lait");
    expect(p.bodyText).not.toContain("var x");
    expect(p.bodyText).not.toContain("<p>");
  });

  it("decodes charsets and encoded words for search", () => {
    const koi = parseMessage(goldenMessage("15-ew-koi8r"));
    expect(koi.headerText).toContain("Привет мир");
    expect(koi.bodyText).toContain("Привет мир");
    expect(parseMessage(goldenMessage("16-ew-shiftjis")).bodyText).toContain("こんにちは世界");
    expect(parseMessage(goldenMessage("07-rfc822-attached")).bodyText).toContain("Inner body café");
  });

  it("gives threading keys, base subject and sent date", () => {
    const p = parseMessage(goldenMessage("53-threading"));
    expect(p.messageId).toBe("<child@example.com>");
    expect(p.inReplyTo).toBe("<parent@example.com>");
    expect(p.references).toEqual(["<root@example.com>", "<parent@example.com>"]);
    expect(p.baseSubject).toBe("topic");
    expect(p.sentDate).toBe(Date.UTC(1994, 1, 17, 9, 0, 0));
    const none = parseMessage(goldenMessage("39-missing-headers"));
    expect([none.messageId, none.inReplyTo, none.sentDate, none.baseSubject]).toEqual([null, null, null, ""]);
  });

  it("names attachments from RFC 2231 and RFC 2047 parameters", () => {
    const p = parseMessage(goldenMessage("20-rfc2231"));
    expect(p.tree.children.map((c) => c.filename)).toEqual(["very-long-filename.txt", "Übersicht.txt"]);
    expect(p.tree.children[1].charset).toBe("utf-8");
  });

  it("records top-level header fields raw and in order", () => {
    const p = parseMessage(goldenMessage("43-folded"));
    expect(p.headers.map((h) => h.name)).toEqual(["Date", "From", "To", "Subject", "Message-ID"]);
    expect(p.headers[3].value).toBe(" This is a folded\r\n   subject line\r\n\twith a tab");
  });
});

function walk(n: MimePartData, size: number): void {
  if (!(n.headerStart <= n.headerEnd && n.headerEnd === n.bodyStart && n.bodyStart <= n.bodyEnd && n.bodyEnd <= size)) {
    throw new Error(`bad offsets at ${n.path.join(".")}`);
  }
  for (const c of n.children) walk(c, size);
}

const pieces = [
  "\r\n",
  "\n",
  "--a\r\n",
  "--a--\r\n",
  "--b\r\n",
  "--b--\r\n",
  'Content-Type: multipart/mixed; boundary="a"\r\n',
  "Content-Type: multipart/alternative; boundary=b\r\n",
  "Content-Type: message/rfc822\r\n",
  "Content-Type: text/plain; charset*0*=utf-8''%C3; charset*1=x\r\n",
  "Content-Transfer-Encoding: base64\r\n",
  "Subject: =?utf-8?q?=C3=A9?= (x\r\n",
  "From: a <b@c>, :;, \"q\r\n",
  " folded\r\n",
  "body text ==ZZ\r\n",
  "\u00e9\u00ff\u0000",
];

describe("hostile structure (property)", () => {
  it("never throws and keeps every offset inside the message", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 60 }), (chunks) => {
        const raw = new Uint8Array(Buffer.from(chunks.join(""), "latin1"));
        const p = parseMessage(raw);
        walk(p.tree, raw.length);
        formatEnvelope(p.envelope);
        formatBodyStructure(p.bodyStructure, true);
        for (const part of [[1], [1, 1], [2, 1, 1]]) extractSection(raw, p.tree, { part, specifier: "" });
      }),
      { numRuns: 500 },
    );
  });
});
