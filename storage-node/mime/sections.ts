/**
 * IMAP body sections (RFC 3501 §6.4.5 BODY[section], RFC 3516 BINARY[section])
 * resolved against the MIME tree that `parseMessage` stored.
 *
 * Invariants:
 * - Pure: `locateSection` needs only the tree and returns a byte range of the
 *   stored message (or null: a part that does not exist, which IMAP answers
 *   with an empty string). Only HEADER.FIELDS[.NOT] and BINARY need the bytes
 *   of that range, never the whole message.
 * - Part numbers follow RFC 3501: in a multipart, n is the n-th body part; a
 *   non-multipart part (and the top-level message) has only part 1, itself; a
 *   message/rfc822 part entered by a further number is its encapsulated
 *   message, and its HEADER/TEXT are that message's header and body.
 * - MIME is the part's own MIME header; for part 1 of a non-multipart
 *   message that is the message header (as Dovecot answers).
 * - HEADER.FIELDS output keeps the fields' raw bytes in message order and ends
 *   with an empty line (CRLF) when the header ended with one, or when its
 *   last field was kept.
 */
import type { MimePartData } from "./types.ts";
import { isBlankLine, lineEndAfter } from "./header.ts";
import { decodeTransfer } from "./transfer-encoding.ts";

export type SectionSpecifier = "" | "HEADER" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT" | "TEXT" | "MIME";

export interface SectionOptions {
  /** Part path, e.g. [1, 2]; [] for the whole message. */
  part: number[];
  specifier: SectionSpecifier;
  /** Field names for HEADER.FIELDS and HEADER.FIELDS.NOT. */
  fields?: string[];
}

export interface SectionRangeData {
  start: number;
  end: number;
  /** Set for HEADER.FIELDS[.NOT]: the range is a header to be filtered. */
  filter?: { fields: string[]; not: boolean };
}

function isMessage(n: MimePartData): boolean {
  return n.kind === "message" || (n.kind === undefined && n.contentType === "message/rfc822" && n.children.length === 1);
}

function isMultipart(n: MimePartData): boolean {
  return n.kind === "multipart" || (n.kind === undefined && n.contentType.startsWith("multipart/"));
}

/** The node a part path names, or null when it does not exist. */
export function findPart(tree: MimePartData, part: number[]): MimePartData | null {
  let node: MimePartData = tree;
  for (let i = 0; i < part.length; i++) {
    const n = part[i];
    if (!Number.isInteger(n) || n < 1) return null;
    if (isMultipart(node)) {
      const child = node.children[n - 1];
      if (!child) return null;
      node = child;
    } else if (n !== 1) {
      return null;
    }
    // A further number addresses the inside of an encapsulated message.
    if (i + 1 < part.length && isMessage(node)) node = node.children[0];
  }
  return node;
}

/** Byte range of a section, or null for a part that does not exist. */
export function locateSection(tree: MimePartData, spec: SectionOptions): SectionRangeData | null {
  const node = findPart(tree, spec.part);
  if (!node) return null;
  const top = spec.part.length === 0;
  switch (spec.specifier) {
    case "":
      return top ? { start: tree.headerStart, end: tree.bodyEnd } : { start: node.bodyStart, end: node.bodyEnd };
    case "MIME":
      return top ? null : { start: node.headerStart, end: node.headerEnd };
    case "HEADER":
    case "HEADER.FIELDS":
    case "HEADER.FIELDS.NOT":
    case "TEXT": {
      const msg = top ? tree : isMessage(node) ? node.children[0] : null;
      if (!msg) return null;
      if (spec.specifier === "TEXT") return { start: msg.bodyStart, end: msg.bodyEnd };
      const range: SectionRangeData = { start: msg.headerStart, end: msg.headerEnd };
      if (spec.specifier !== "HEADER") range.filter = { fields: spec.fields ?? [], not: spec.specifier === "HEADER.FIELDS.NOT" };
      return range;
    }
  }
}

const CRLF = new Uint8Array([0x0d, 0x0a]);

/**
 * Keeps (or, with `not`, drops) the header fields named in `fields`, case-
 * insensitively; `header` is the raw header bytes of the section range.
 */
export function filterHeaderFields(header: Uint8Array, fields: string[], not: boolean): Uint8Array {
  const wanted = new Set(fields.map((f) => f.toLowerCase()));
  const chunks: Uint8Array[] = [];
  let total = 0;
  let pos = 0;
  let keep = false;
  let blank = false;
  while (pos < header.length) {
    const lineEnd = lineEndAfter(header, pos, header.length);
    if (isBlankLine(header, pos, lineEnd)) {
      blank = true;
      break;
    }
    const first = header[pos];
    if (first !== 0x20 && first !== 0x09) {
      const colon = header.indexOf(0x3a, pos);
      if (colon < 0 || colon >= lineEnd) keep = false;
      else {
        let nameEnd = colon;
        while (nameEnd > pos && (header[nameEnd - 1] === 0x20 || header[nameEnd - 1] === 0x09)) nameEnd--;
        const name = String.fromCharCode(...header.subarray(pos, Math.min(nameEnd, pos + 200))).toLowerCase();
        keep = wanted.has(name) !== not;
      }
    }
    if (keep) {
      chunks.push(header.subarray(pos, lineEnd));
      total += lineEnd - pos;
      // A last line without a line break still ends the field.
      if (header[lineEnd - 1] !== 0x0a) {
        chunks.push(CRLF);
        total += 2;
      }
    }
    pos = lineEnd;
  }
  // The empty line that ends a header is kept. A header cut off without one
  // gets it only when its last field was kept (Dovecot's answer, matched so
  // that clients see one behaviour).
  if (blank || (keep && header.length > 0)) {
    chunks.push(CRLF);
    total += 2;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Section bytes from the stored message (BODY[section] without <partial>). */
export function extractSection(raw: Uint8Array, tree: MimePartData, spec: SectionOptions): Uint8Array {
  const range = locateSection(tree, spec);
  if (!range) return new Uint8Array(0);
  const bytes = raw.subarray(range.start, range.end);
  return range.filter ? filterHeaderFields(bytes, range.filter.fields, range.filter.not) : bytes;
}

export type BinarySectionData = { ok: true; bytes: Uint8Array } | { ok: false; reason: "unknown-cte" };

/**
 * BINARY[part] (RFC 3516 §4.2): the part body with its Content-Transfer-
 * Encoding removed; an encoding we cannot decode is reported so the IMAP layer
 * answers NO [UNKNOWN-CTE]. A missing part is empty. Multipart and message
 * parts are returned as stored (their encoding is an identity).
 */
export function extractBinarySection(raw: Uint8Array, tree: MimePartData, part: number[]): BinarySectionData {
  const node = findPart(tree, part);
  if (!node) return { ok: true, bytes: new Uint8Array(0) };
  const body = part.length === 0 ? raw.subarray(tree.headerStart, tree.bodyEnd) : raw.subarray(node.bodyStart, node.bodyEnd);
  if (part.length === 0 || isMultipart(node) || isMessage(node)) return { ok: true, bytes: body };
  const decoded = decodeTransfer(body, node.encoding);
  return decoded ? { ok: true, bytes: decoded } : { ok: false, reason: "unknown-cte" };
}
