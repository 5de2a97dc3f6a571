/**
 * Resolves a `BODY[section]<partial>` / `BINARY[section]` request to bytes of
 * a stored message, for every store. Section geometry comes from the MIME
 * indexer's resolver (../mime/sections.ts, tested byte for byte against
 * Dovecot); this module only adds what the store contract says on top of it.
 *
 * Invariants:
 * - A plain section is answered as a byte range of the stored message, so a
 *   store can stream it; only HEADER.FIELDS[.NOT] and BINARY of an encoded
 *   part are produced in memory, and only from their own range, never from
 *   the whole message.
 * - `BODY[]` needs no MIME tree: the tree is asked for lazily.
 * - Store contract (types.ts): a part number that names no part is
 *   `not-found`; a specifier that does not apply to an existing part (MIME of
 *   the whole message, HEADER of a non-message part) and a BINARY part whose
 *   Content-Transfer-Encoding cannot be decoded (RFC 3516 §4.3) are `invalid`.
 * - `<partial>` is applied last, to the section as it would be returned.
 */

import { filterHeaderFields, findPart, locateSection } from "../mime/sections.ts";
import { decodeTransfer } from "../mime/transfer-encoding.ts";
import type { MimePartData } from "../mime/types.ts";
import { StoreError, type BodySectionRequest } from "./types.ts";

export type ResolvedSection = { kind: "range"; start: number; end: number } | { kind: "bytes"; bytes: Uint8Array };

export interface SectionSource {
  /** Length of the stored message. */
  size: number;
  /** The MIME tree stored at append time (asked for only when needed). */
  tree(): MimePartData;
  /** Bytes [start, end) of the stored message. */
  read(start: number, end: number): Uint8Array;
}

/** Encodings whose decoded form is the stored form: BINARY streams them as a range. */
const IDENTITY_ENCODINGS = new Set(["", "7bit", "8bit", "binary"]);

function isContainer(node: MimePartData): boolean {
  return node.kind === "multipart" || node.kind === "message" || node.contentType.toLowerCase().startsWith("multipart/");
}

/** Applies `<offset.length>` to a section of `size` bytes: returns [from, to) within it. */
export function partialWindow(size: number, partial: BodySectionRequest["partial"]): [number, number] {
  if (!partial) return [0, size];
  const from = Math.min(partial.offset, size);
  return [from, Math.min(size, from + partial.length)];
}

export function resolveSection(source: SectionSource, req: BodySectionRequest): ResolvedSection {
  if (req.part.some((n) => !Number.isInteger(n) || n < 1)) throw new StoreError("invalid", "bad part number");
  let whole: ResolvedSection;
  if (req.part.length === 0 && req.specifier === "") {
    // BODY[] and BINARY[] are always exactly the stored bytes.
    whole = { kind: "range", start: 0, end: source.size };
  } else {
    const tree = source.tree();
    const range = locateSection(tree, { part: req.part, specifier: req.specifier, fields: req.fields });
    if (!range) {
      if (!findPart(tree, req.part)) throw new StoreError("not-found", "no such body part");
      throw new StoreError("invalid", "section specifier does not apply to this part");
    }
    if (range.filter) {
      whole = { kind: "bytes", bytes: filterHeaderFields(source.read(range.start, range.end), range.filter.fields, range.filter.not) };
    } else {
      whole = { kind: "range", start: range.start, end: range.end };
      const node = req.binary && req.specifier === "" && req.part.length > 0 ? findPart(tree, req.part) : null;
      if (node && !isContainer(node) && !IDENTITY_ENCODINGS.has(node.encoding.toLowerCase())) {
        const decoded = decodeTransfer(source.read(range.start, range.end), node.encoding);
        if (!decoded) throw new StoreError("invalid", "unknown content-transfer-encoding");
        whole = { kind: "bytes", bytes: decoded };
      }
    }
  }
  if (whole.kind === "range") {
    const [from, to] = partialWindow(whole.end - whole.start, req.partial);
    return { kind: "range", start: whole.start + from, end: whole.start + to };
  }
  const [from, to] = partialWindow(whole.bytes.byteLength, req.partial);
  return { kind: "bytes", bytes: whole.bytes.subarray(from, to) };
}
