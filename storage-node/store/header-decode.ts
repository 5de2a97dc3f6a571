/**
 * Header values as search text: unfolded and RFC 2047-decoded by the MIME
 * indexer's decoder (raw 8-bit taken as UTF-8, else windows-1252).
 *
 * Invariant: never throws; undecodable input degrades to replacement characters.
 */

import { decodeEncodedWords } from "../mime/encoded-words.ts";
import { unfold } from "../mime/header.ts";
import type { HeaderFieldData } from "../mime/types.ts";

export function decodeHeaderValue(raw: string): string {
  return decodeEncodedWords(unfold(raw).trim());
}

export function headerValues(headers: readonly HeaderFieldData[], field: string): string[] {
  const k = field.toLowerCase();
  return headers.filter((h) => h.name.toLowerCase() === k).map((h) => decodeHeaderValue(h.value));
}

export function headerSearchText(headers: readonly HeaderFieldData[]): string {
  return headers.map((h) => `${h.name}: ${decodeHeaderValue(h.value)}`).join("\n");
}
