/**
 * RFC 5256 §2.1 base subject, used by SORT SUBJECT and THREAD ORDEREDSUBJECT /
 * REFERENCES.
 *
 * Invariants:
 * - Input is the raw Subject value (binary string); RFC 2047 words are decoded
 *   first (step 1). Output is Unicode text.
 * - Each removal step strictly shortens the string, so the loops end; every
 *   regular expression is anchored and free of nested quantifiers.
 */
import { decodeEncodedWords } from "./encoded-words.ts";
import { unfold } from "./header.ts";

const TRAILER = /(\s*\(fwd\))$|(\s+)$/i;
const BLOB = /^\[[^[\]]*\]\s*/;
const LEADER = /^(\[[^[\]]*\]\s*)*(re|fwd?)\s*(\[[^[\]]*\]\s*)?:\s*/i;

export function baseSubject(raw: string): string {
  // Step 1: decode, unfold, collapse whitespace runs to one space.
  let s = decodeEncodedWords(unfold(raw)).replace(/[ \t]+/g, " ").trim();
  for (;;) {
    // Step 2: remove subj-trailers.
    let m = TRAILER.exec(s);
    while (m && m[0].length > 0) {
      s = s.slice(0, s.length - m[0].length);
      m = TRAILER.exec(s);
    }
    // Steps 3–5: remove subj-leaders and subj-blobs while something remains.
    for (;;) {
      const before = s;
      const lead = LEADER.exec(s);
      if (lead && lead[0].length > 0) s = s.slice(lead[0].length);
      const blob = BLOB.exec(s);
      if (blob && blob[0].length < s.length) s = s.slice(blob[0].length);
      if (s === before) break;
    }
    // Step 6: "[fwd: ... ]" wrapper.
    if (/^\[fwd:/i.test(s) && s.endsWith("]")) {
      s = s.slice(5, -1).trim();
      continue;
    }
    return s;
  }
}
