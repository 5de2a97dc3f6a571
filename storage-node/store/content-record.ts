/**
 * The per-content record the SQLite store keeps beside the message bytes:
 * the indexer's structured output (ENVELOPE, BODYSTRUCTURE, MIME tree, header
 * fields) and the decoded header and body text that SEARCH scans.
 *
 * Invariants:
 * - One record is compressed as one deflate stream (one codec per row): one
 *   compression call per append instead of one per field.
 * - Framing is length-prefixed (u32 little-endian), so text may contain any
 *   character; a record that does not frame exactly is `corrupt`.
 */

import type { BodyStructureData, EnvelopeData, HeaderFieldData, MimePartData } from "../mime/types.ts";
import { StoreError } from "./types.ts";

export interface StoredParsed {
  envelope: EnvelopeData;
  bodyStructure: BodyStructureData;
  tree: MimePartData;
  headers: HeaderFieldData[];
}

export interface ContentRecordData {
  parsed: StoredParsed;
  headerText: string;
  bodyText: string;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export function encodeContentRecord(r: ContentRecordData): Uint8Array {
  const parts = [utf8.encode(JSON.stringify(r.parsed)), utf8.encode(r.headerText), utf8.encode(r.bodyText)];
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.byteLength, 0));
  const view = new DataView(out.buffer);
  let o = 0;
  for (const p of parts) {
    view.setUint32(o, p.byteLength, true);
    out.set(p, o + 4);
    o += 4 + p.byteLength;
  }
  return out;
}

/** Splits a record; each field is decoded only when read. */
export function decodeContentRecord(bytes: Uint8Array): { parsed(): StoredParsed; headerText(): string; bodyText(): string } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Uint8Array[] = [];
  let o = 0;
  for (let i = 0; i < 3; i++) {
    if (o + 4 > bytes.byteLength) throw new StoreError("corrupt", "content record is truncated");
    const n = view.getUint32(o, true);
    if (o + 4 + n > bytes.byteLength) throw new StoreError("corrupt", "content record is truncated");
    fields.push(bytes.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  if (o !== bytes.byteLength) throw new StoreError("corrupt", "content record has trailing bytes");
  return {
    parsed: () => JSON.parse(utf8d.decode(fields[0])) as StoredParsed,
    headerText: () => utf8d.decode(fields[1]),
    bodyText: () => utf8d.decode(fields[2]),
  };
}
