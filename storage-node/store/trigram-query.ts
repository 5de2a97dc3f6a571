/**
 * Builds the FTS5 query that narrows a TEXT/BODY search to candidates.
 *
 * Invariants:
 * - The index is FTS5 with the trigram tokenizer and detail=none: it knows
 *   which documents hold a trigram, not where. A document that contains the
 *   needle (case-insensitively) holds every trigram of it, so an AND of any of
 *   its trigrams names a superset of the matches; the caller scans only those.
 * - Substring semantics "anywhere in a word" come from the scan, never from
 *   the index: no prefix or token matching.
 * - A needle shorter than three characters has no trigram: null (scan all).
 */

import { STORE_FTS_QUERY_TRIGRAMS } from "../limits.ts";

export function trigramQuery(needle: string): string | null {
  const chars = [...needle];
  if (chars.length < 3) return null;
  const all: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) {
    const t = chars.slice(i, i + 3).join("");
    const k = t.toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    all.push(t);
  }
  // A long needle: evenly spaced trigrams, first and last included, narrow as well.
  const picked =
    all.length <= STORE_FTS_QUERY_TRIGRAMS
      ? all
      : Array.from({ length: STORE_FTS_QUERY_TRIGRAMS }, (_, i) => all[Math.round((i * (all.length - 1)) / (STORE_FTS_QUERY_TRIGRAMS - 1))]);
  return picked.map((t) => `"${t.replace(/"/g, '""')}"`).join(" AND ");
}
