/**
 * Turns a parsed `BODY[section]` / `BINARY[section]` request into a plan over
 * the raw message bytes, using the MIME tree computed at append time.
 *
 * Invariants:
 * - Every plan is a byte range of the stored message, optionally filtered
 *   (HEADER.FIELDS) or transfer-decoded (BINARY); partial ranges are applied last.
 * - A plain range is streamed by the store in chunks; only filtered or decoded
 *   sections (header fields, BINARY) are produced in memory.
 * - Part numbers follow RFC 3501 §6.4.5: a non-multipart message has part 1 (its
 *   body); the parts of an encapsulated message/rfc822 are numbered under it.
 */

import { decodeTransfer } from "../mime/transfer-encoding.ts";
import type { MimePartData } from "../mime/types.ts";
import { StoreError, type BodySectionRequest } from "./types.ts";

export type SectionPlan =
  | { kind: "range"; start: number; end: number }
  | { kind: "header-fields"; start: number; end: number; fields: string[]; not: boolean }
  | { kind: "decode"; start: number; end: number; encoding: string };

function isMultipart(n: MimePartData): boolean {
  return n.contentType.toLowerCase().startsWith("multipart/");
}

function isMessage(n: MimePartData): boolean {
  const t = n.contentType.toLowerCase();
  return t === "message/rfc822" || t === "message/global";
}

/** The embedded message of a message/rfc822 part (its first child), if indexed. */
function embedded(n: MimePartData): MimePartData | null {
  return isMessage(n) && n.children.length > 0 ? n.children[0] : null;
}

function findPart(root: MimePartData, path: number[]): MimePartData | null {
  // `container` is the message or multipart whose parts the next number indexes.
  let container: MimePartData | null = root;
  let node = root;
  for (const n of path) {
    if (!container) return null;
    const parts: MimePartData[] = isMultipart(container) ? container.children : [container];
    const next = parts[n - 1];
    if (!next) return null;
    node = next;
    container = isMultipart(node) ? node : embedded(node);
  }
  return node;
}

/** `size` is the stored message length (BODY[] is always exactly those bytes). */
export function planSection(tree: MimePartData, size: number, req: BodySectionRequest): SectionPlan {
  const notFound = (): never => {
    throw new StoreError("not-found", "no such body part");
  };
  if (req.part.some((n) => !Number.isInteger(n) || n < 1)) throw new StoreError("invalid", "bad part number");
  let plan: SectionPlan;
  const node = req.part.length === 0 ? tree : (findPart(tree, req.part) ?? notFound());
  // For HEADER/TEXT on a part number the target is the encapsulated message.
  const msgNode = req.part.length === 0 ? tree : embedded(node);
  switch (req.specifier) {
    case "":
      if (req.part.length === 0) plan = { kind: "range", start: 0, end: size };
      else plan = { kind: "range", start: node.bodyStart, end: node.bodyEnd };
      if (req.binary && req.part.length > 0) {
        const enc = node.encoding.toLowerCase();
        if (enc === "base64" || enc === "quoted-printable") plan = { kind: "decode", start: plan.start, end: plan.end, encoding: enc };
      }
      break;
    case "MIME":
      if (req.part.length === 0) throw new StoreError("invalid", "MIME needs a part number");
      plan = { kind: "range", start: node.headerStart, end: node.bodyStart };
      break;
    case "HEADER":
      if (!msgNode) throw new StoreError("invalid", "HEADER of a part that is not a message");
      plan = { kind: "range", start: msgNode.headerStart, end: msgNode.bodyStart };
      break;
    case "TEXT":
      if (!msgNode) throw new StoreError("invalid", "TEXT of a part that is not a message");
      plan = { kind: "range", start: msgNode.bodyStart, end: msgNode.bodyEnd };
      break;
    case "HEADER.FIELDS":
    case "HEADER.FIELDS.NOT":
      if (!msgNode) throw new StoreError("invalid", "HEADER.FIELDS of a part that is not a message");
      plan = {
        kind: "header-fields",
        start: msgNode.headerStart,
        end: msgNode.bodyStart,
        fields: (req.fields ?? []).map((f) => f.toLowerCase()),
        not: req.specifier === "HEADER.FIELDS.NOT",
      };
      break;
  }
  return plan;
}

/** Header lines whose field names are (or, with `not`, are not) in `fields`, plus the blank line. */
export function filterHeaderFields(header: Uint8Array, fields: string[], not: boolean): Uint8Array {
  const want = new Set(fields);
  const out: Uint8Array[] = [];
  let keep = false;
  let pos = 0;
  while (pos < header.length) {
    let nl = header.indexOf(0x0a, pos);
    nl = nl < 0 ? header.length : nl + 1;
    const line = header.subarray(pos, nl);
    const first = line[0];
    const blank = line.length <= 2 && (line[0] === 0x0a || (line[0] === 0x0d && (line.length === 1 || line[1] === 0x0a)));
    if (blank) break;
    if (first !== 0x20 && first !== 0x09) {
      const colon = line.indexOf(0x3a);
      const name = colon > 0 ? Buffer.from(line.subarray(0, colon)).toString("latin1").trim().toLowerCase() : "";
      keep = name !== "" && want.has(name) !== not;
    }
    if (keep) out.push(line);
    pos = nl;
  }
  out.push(new Uint8Array([0x0d, 0x0a]));
  return Buffer.concat(out);
}

/** Content-transfer decoding for BINARY (RFC 3516); unknown encodings are returned as stored. */
export function decodeSection(body: Uint8Array, encoding: string): Uint8Array {
  return decodeTransfer(body, encoding) ?? body;
}

/** Applies `<offset.length>` to a section of `size` bytes: returns [from, to) within it. */
export function partialWindow(size: number, partial: BodySectionRequest["partial"]): [number, number] {
  if (!partial) return [0, size];
  const from = Math.min(partial.offset, size);
  return [from, Math.min(size, from + partial.length)];
}
