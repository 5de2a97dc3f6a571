/**
 * Section resolution (RFC 3501 §6.4.5, RFC 3516) beyond the golden corpus:
 * message/rfc822 subtleties, nonexistent parts, BINARY decoding.
 */
import { describe, expect, it } from "vitest";
import { Buffer } from "node:buffer";
import { parseMessage } from "../../storage-node/mime/parse.ts";
import { extractBinarySection, extractSection, findPart, locateSection, type SectionOptions } from "../../storage-node/mime/sections.ts";

const msg = [
  "Subject: outer",
  'Content-Type: multipart/mixed; boundary="b"',
  "",
  "--b",
  "Content-Type: text/plain",
  "Content-Transfer-Encoding: base64",
  "",
  "aGVsbG8=",
  "--b",
  "Content-Type: message/rfc822",
  "",
  "Subject: inner",
  'Content-Type: multipart/alternative; boundary="c"',
  "",
  "--c",
  "Content-Type: text/plain",
  "",
  "inner one",
  "--c",
  "Content-Type: text/html",
  "",
  "<b>inner two</b>",
  "--c--",
  "--b",
  "Content-Type: message/rfc822",
  "",
  "Subject: single",
  "",
  "single body",
  "--b--",
  "",
].join("\r\n");
const raw = new Uint8Array(Buffer.from(msg, "latin1"));
const tree = parseMessage(raw).tree;
const get = (spec: SectionOptions): string => Buffer.from(extractSection(raw, tree, spec)).toString("latin1");

describe("sections", () => {
  it("addresses body parts of multiparts and encapsulated messages", () => {
    expect(get({ part: [1], specifier: "" })).toBe("aGVsbG8=");
    expect(get({ part: [2, 1], specifier: "" })).toBe("inner one");
    expect(get({ part: [2, 2], specifier: "MIME" })).toBe("Content-Type: text/html\r\n\r\n");
    expect(get({ part: [3, 1], specifier: "" })).toBe("single body");
  });

  it("gives HEADER and TEXT of an encapsulated message, MIME of its container", () => {
    expect(get({ part: [2], specifier: "HEADER" })).toBe('Subject: inner\r\nContent-Type: multipart/alternative; boundary="c"\r\n\r\n');
    expect(get({ part: [2], specifier: "MIME" })).toBe("Content-Type: message/rfc822\r\n\r\n");
    expect(get({ part: [3], specifier: "TEXT" })).toBe("single body");
    expect(get({ part: [2], specifier: "" })).toMatch(/^Subject: inner\r\n.*--c--\r\n$/s);
    expect(get({ part: [3], specifier: "HEADER.FIELDS", fields: ["subject"] })).toBe("Subject: single\r\n\r\n");
    expect(get({ part: [3], specifier: "HEADER.FIELDS.NOT", fields: ["SUBJECT"] })).toBe("\r\n");
  });

  it("answers empty for parts that do not exist and for HEADER of a non-message part", () => {
    expect(locateSection(tree, { part: [4], specifier: "" })).toBeNull();
    expect(locateSection(tree, { part: [1, 2], specifier: "" })).toBeNull();
    expect(locateSection(tree, { part: [0], specifier: "" })).toBeNull();
    expect(get({ part: [1], specifier: "HEADER" })).toBe("");
    expect(get({ part: [2, 3], specifier: "" })).toBe("");
    expect(get({ part: [], specifier: "MIME" })).toBe("");
  });

  it("treats part 1 of a non-multipart message as its body", () => {
    const single = new Uint8Array(Buffer.from("Subject: s\r\n\r\nbody\r\n", "latin1"));
    const t = parseMessage(single).tree;
    expect(Buffer.from(extractSection(single, t, { part: [1], specifier: "" })).toString()).toBe("body\r\n");
    expect(findPart(t, [1, 1])).toBe(t);
    expect(findPart(t, [2])).toBeNull();
  });

  it("top-level HEADER, TEXT and whole message", () => {
    expect(get({ part: [], specifier: "HEADER" })).toBe('Subject: outer\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n');
    expect(get({ part: [], specifier: "" })).toBe(msg);
    expect(get({ part: [], specifier: "TEXT" })).toBe(msg.slice(msg.indexOf("\r\n\r\n") + 4));
  });

  it("decodes BINARY sections and reports unknown encodings", () => {
    const b = extractBinarySection(raw, tree, [1]);
    expect(b.ok && Buffer.from(b.bytes).toString()).toBe("hello");
    const u = new Uint8Array(Buffer.from("Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n", "latin1"));
    expect(extractBinarySection(u, parseMessage(u).tree, [1])).toEqual({ ok: false, reason: "unknown-cte" });
    const missing = extractBinarySection(raw, tree, [7]);
    expect(missing.ok && missing.bytes.length).toBe(0);
  });
});
