/**
 * Decoded header text for SEARCH, built from the MIME indexer's own field
 * decoders (`fieldText` unfolding, RFC 2047 `decodeEncodedWords`), so search
 * sees header values exactly as ENVELOPE shows them.
 *
 * Invariants:
 * - Never throws; undecodable input degrades to replacement characters.
 * - `headerSearchText` holds every top-level field once, "Name: value" per line.
 */

import { decodeEncodedWords } from "../mime/encoded-words.ts";
import { fieldText } from "../mime/header.ts";
import type { HeaderFieldData } from "../mime/types.ts";

/** Decoded values of every occurrence of `field` (case-insensitive name). */
export function headerValues(headers: readonly HeaderFieldData[], field: string): string[] {
  const k = field.toLowerCase();
  return headers.filter((h) => h.name.toLowerCase() === k).map((h) => decodeEncodedWords(fieldText(h.value)));
}

export function headerSearchText(headers: readonly HeaderFieldData[]): string {
  return headers.map((h) => `${h.name}: ${decodeEncodedWords(fieldText(h.value))}`).join("\n");
}
