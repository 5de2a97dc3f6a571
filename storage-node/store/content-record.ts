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
 * - Beside it, a small head record per content (ENVELOPE, BODYSTRUCTURE and
 *   the header fields) serves FETCH of those items and header SEARCH without
 *   inflating the text or parsing the MIME tree.
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

export interface HeadRecordData {
  envelope: EnvelopeData;
  bodyStructure: BodyStructureData;
  headers: HeaderFieldData[];
}

function frame(parts: Uint8Array[]): Uint8Array {
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

function unframe(bytes: Uint8Array, count: number, what: string): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Uint8Array[] = [];
  let o = 0;
  for (let i = 0; i < count; i++) {
    if (o + 4 > bytes.byteLength) throw new StoreError("corrupt", `${what} is truncated`);
    const n = view.getUint32(o, true);
    if (o + 4 + n > bytes.byteLength) throw new StoreError("corrupt", `${what} is truncated`);
    fields.push(bytes.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  if (o !== bytes.byteLength) throw new StoreError("corrupt", `${what} has trailing bytes`);
  return fields;
}

export function encodeContentRecord(r: ContentRecordData): Uint8Array {
  return frame([utf8.encode(JSON.stringify(r.parsed)), utf8.encode(r.headerText), utf8.encode(r.bodyText)]);
}

/** Splits a record; each field is decoded only when read. */
export function decodeContentRecord(bytes: Uint8Array): { parsed(): StoredParsed; headerText(): string; bodyText(): string } {
  const fields = unframe(bytes, 3, "content record");
  return {
    parsed: () => JSON.parse(utf8d.decode(fields[0])) as StoredParsed,
    headerText: () => utf8d.decode(fields[1]),
    bodyText: () => utf8d.decode(fields[2]),
  };
}

export function encodeHeadRecord(h: HeadRecordData): Uint8Array {
  return frame([utf8.encode(JSON.stringify({ envelope: h.envelope, bodyStructure: h.bodyStructure })), utf8.encode(JSON.stringify(h.headers))]);
}

/**
 * Splits a head record; each field is decoded only when first read, then kept
 * (the engine caches decoded heads, so the values are shared: never mutate them).
 */
export function decodeHeadRecord(bytes: Uint8Array): {
  fetchItems(): HeadFetchItems;
  /** fetchItems() as JSON text (parse with parseHeadFetchItems). */
  fetchItemsJson(): string;
  headers(): readonly HeaderFieldData[];
} {
  const fields = unframe(bytes, 2, "head record");
  let itemsJson: string | undefined;
  let headers: readonly HeaderFieldData[] | undefined;
  const fetchItemsJson = () => (itemsJson ??= utf8d.decode(fields[0]));
  return {
    fetchItems: () => parseHeadFetchItems(fetchItemsJson()),
    fetchItemsJson,
    headers: () => (headers ??= JSON.parse(utf8d.decode(fields[1])) as HeaderFieldData[]),
  };
}

export type HeadFetchItems = Pick<HeadRecordData, "envelope" | "bodyStructure">;

export function parseHeadFetchItems(json: string): HeadFetchItems {
  return JSON.parse(json) as HeadFetchItems;
}
