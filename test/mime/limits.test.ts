/**
 * The MIME indexer's limits, each at its edge, and hostile input: header
 * floods, deep and cyclic nesting. Assertions are on the resulting structure,
 * never on time.
 */
import { describe, expect, it } from "vitest";
import { Buffer } from "node:buffer";
import { parseMessage } from "../../storage-node/mime/parse.ts";
import { formatBodyStructure } from "../../storage-node/mime/imap-format.ts";
import type { MimePartData } from "../../storage-node/mime/types.ts";
import {
  MIME_MAX_ADDRESSES,
  MIME_MAX_DEPTH,
  MIME_MAX_HEADER_BYTES,
  MIME_MAX_HEADER_FIELD_BYTES,
  MIME_MAX_HEADER_FIELDS,
  MIME_MAX_PARAMETERS,
  MIME_MAX_PARTS,
} from "../../storage-node/limits.ts";

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));

function depth(n: MimePartData): number {
  let d = 0;
  for (const c of n.children) d = Math.max(d, depth(c));
  return d + (n.kind === "multipart" ? 1 : 0);
}

function countNodes(n: MimePartData): number {
  return 1 + n.children.reduce((s, c) => s + countNodes(c), 0);
}

function nestedMultiparts(levels: number, sameBoundary = false): string {
  let body = "Content-Type: text/plain\r\n\r\nbottom\r\n";
  for (let i = levels; i >= 1; i--) {
    const b = sameBoundary ? "x" : `b${i}`;
    body = `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\n${body}--${b}--\r\n`;
  }
  return body;
}

function checkOffsets(n: MimePartData, size: number): void {
  expect(n.headerStart).toBeLessThanOrEqual(n.headerEnd);
  expect(n.headerEnd).toBe(n.bodyStart);
  expect(n.bodyStart).toBeLessThanOrEqual(n.bodyEnd);
  expect(n.bodyEnd).toBeLessThanOrEqual(size);
  for (const c of n.children) {
    expect(c.headerStart).toBeGreaterThanOrEqual(n.bodyStart);
    expect(c.bodyEnd).toBeLessThanOrEqual(n.kind === "message" ? n.bodyEnd : size);
    checkOffsets(c, size);
  }
}

describe("MIME limits", () => {
  it("parses exactly MIME_MAX_DEPTH nested multiparts; one more level stays opaque", () => {
    const atLimit = parseMessage(enc(nestedMultiparts(MIME_MAX_DEPTH)));
    expect(depth(atLimit.tree)).toBe(MIME_MAX_DEPTH);
    const over = parseMessage(enc(nestedMultiparts(MIME_MAX_DEPTH + 1)));
    expect(depth(over.tree)).toBe(MIME_MAX_DEPTH);
    checkOffsets(over.tree, over.size);
  });

  it("keeps at most MIME_MAX_PARTS parts, the last one intact", () => {
    const parts = (n: number): string =>
      'Content-Type: multipart/mixed; boundary="p"\r\n\r\n' + Array.from({ length: n }, (_, i) => `--p\r\n\r\npart ${i}\r\n`).join("") + "--p--\r\n";
    const atLimit = parseMessage(enc(parts(MIME_MAX_PARTS - 1)));
    expect(countNodes(atLimit.tree)).toBe(MIME_MAX_PARTS);
    const raw = enc(parts(MIME_MAX_PARTS + 50));
    const over = parseMessage(raw);
    expect(countNodes(over.tree)).toBe(MIME_MAX_PARTS);
    const last = over.tree.children[over.tree.children.length - 1];
    expect(Buffer.from(raw.subarray(last.bodyStart, last.bodyEnd)).toString()).toBe(`part ${MIME_MAX_PARTS - 2}`);
    checkOffsets(over.tree, over.size);
  });

  it("interprets at most MIME_MAX_HEADER_FIELDS fields", () => {
    const fields = (n: number): string => Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n`).join("");
    expect(parseMessage(enc(fields(MIME_MAX_HEADER_FIELDS) + "\r\nbody")).headers.length).toBe(MIME_MAX_HEADER_FIELDS);
    const over = parseMessage(enc(fields(MIME_MAX_HEADER_FIELDS) + "Subject: late\r\n\r\nbody"));
    expect(over.headers.length).toBe(MIME_MAX_HEADER_FIELDS);
    expect(over.envelope.subject).toBeNull();
    expect(over.tree.bodyStart).toBe(over.size - 4);
  });

  it("cuts a field value at MIME_MAX_HEADER_FIELD_BYTES", () => {
    const exact = parseMessage(enc(`Subject:${"a".repeat(MIME_MAX_HEADER_FIELD_BYTES)}\r\n\r\n`));
    expect(exact.headers[0].value.length).toBe(MIME_MAX_HEADER_FIELD_BYTES);
    const over = parseMessage(enc(`Subject:${"a".repeat(MIME_MAX_HEADER_FIELD_BYTES + 1)}\r\n\r\n`));
    expect(over.headers[0].value.length).toBe(MIME_MAX_HEADER_FIELD_BYTES);
  });

  it("interprets at most MIME_MAX_HEADER_BYTES of one header", () => {
    const value = "v".repeat(MIME_MAX_HEADER_FIELD_BYTES);
    const fit = Math.floor(MIME_MAX_HEADER_BYTES / value.length);
    const header = Array.from({ length: fit + 3 }, (_, i) => `X-Big${i}:${value}\r\n`).join("");
    const parsed = parseMessage(enc(`${header}\r\nbody`));
    expect(parsed.headers.length).toBe(fit);
    expect(parsed.headers.reduce((s, f) => s + f.value.length, 0)).toBeLessThanOrEqual(MIME_MAX_HEADER_BYTES);
  });

  it("keeps at most MIME_MAX_PARAMETERS parameters", () => {
    const params = (n: number): string => Array.from({ length: n }, (_, i) => `; p${i}=v`).join("");
    expect(parseMessage(enc(`Content-Type: text/plain${params(MIME_MAX_PARAMETERS)}\r\n\r\n`)).bodyStructure.parameters).toHaveLength(MIME_MAX_PARAMETERS);
    expect(parseMessage(enc(`Content-Type: text/plain${params(MIME_MAX_PARAMETERS + 5)}\r\n\r\n`)).bodyStructure.parameters).toHaveLength(MIME_MAX_PARAMETERS);
  });

  it("keeps at most MIME_MAX_ADDRESSES addresses per field", () => {
    const list = (n: number): string => Array.from({ length: n }, (_, i) => `u${i}@example.com`).join(", ");
    expect(parseMessage(enc(`To: ${list(MIME_MAX_ADDRESSES)}\r\n\r\n`)).envelope.to).toHaveLength(MIME_MAX_ADDRESSES);
    expect(parseMessage(enc(`To: ${list(MIME_MAX_ADDRESSES + 1)}\r\nTo: extra@example.com\r\n\r\n`)).envelope.to).toHaveLength(MIME_MAX_ADDRESSES);
  });
});

describe("hostile input stays bounded", () => {
  it("survives a 10 MB flood of header fields", () => {
    const line = "X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    const raw = enc(`Subject: flood\r\n${line.repeat(Math.ceil((10 * 1024 * 1024) / line.length))}\r\nbody\r\n`);
    const parsed = parseMessage(raw);
    expect(parsed.headers.length).toBe(MIME_MAX_HEADER_FIELDS);
    expect(parsed.envelope.subject).toBe("flood");
    expect(parsed.bodyStructure.size).toBe(6);
  });

  it("survives a single 10 MB folded header field and a 10 MB header without an end", () => {
    const folded = parseMessage(enc(`Subject: x${"\r\n y".repeat(3 * 1024 * 1024)}\r\n\r\nb`));
    expect(folded.headers[0].value.length).toBe(MIME_MAX_HEADER_FIELD_BYTES);
    const endless = parseMessage(enc("A".repeat(10 * 1024 * 1024)));
    expect(endless.headers).toHaveLength(0);
    expect(endless.tree.bodyStart).toBe(endless.size);
  });

  it("bounds 20 000 levels of distinct nested multiparts", () => {
    const parsed = parseMessage(enc(nestedMultiparts(20_000)));
    expect(depth(parsed.tree)).toBe(MIME_MAX_DEPTH);
    checkOffsets(parsed.tree, parsed.size);
    expect(formatBodyStructure(parsed.bodyStructure, true).length).toBeGreaterThan(0);
  });

  it("bounds the same boundary nested inside itself", () => {
    const parsed = parseMessage(enc(nestedMultiparts(5_000, true)));
    expect(depth(parsed.tree)).toBeLessThanOrEqual(MIME_MAX_DEPTH);
    expect(countNodes(parsed.tree)).toBeLessThanOrEqual(MIME_MAX_PARTS);
    checkOffsets(parsed.tree, parsed.size);
  });

  it("bounds 100 000 nested message/rfc822 headers", () => {
    const parsed = parseMessage(enc("Content-Type: message/rfc822\r\n\r\n".repeat(100_000) + "end\r\n"));
    let levels = 0;
    for (let n = parsed.tree; n.children.length > 0; n = n.children[0]) levels++;
    expect(levels).toBe(MIME_MAX_DEPTH);
    checkOffsets(parsed.tree, parsed.size);
  });

  it("bounds a flood of boundary lines", () => {
    const parsed = parseMessage(enc('Content-Type: multipart/mixed; boundary="f"\r\n\r\n' + "--f\r\n".repeat(2_000_000)));
    expect(countNodes(parsed.tree)).toBe(MIME_MAX_PARTS);
    checkOffsets(parsed.tree, parsed.size);
  });
});
