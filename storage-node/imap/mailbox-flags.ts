/**
 * The FLAGS and PERMANENTFLAGS announcement of a selected folder (RFC 3501
 * §7.2.6, §7.1 PERMANENTFLAGS), sent by SELECT/EXAMINE and again whenever the
 * folder's keyword list grows.
 *
 * Invariants:
 * - FLAGS lists the system flags and every keyword defined in the folder (the
 *   store's per-folder list), so it precedes any response that uses a keyword.
 * - PERMANENTFLAGS is empty for a read-only selection; otherwise it repeats the
 *   list and ends with \* while the folder may still define new keywords.
 */
import { STORE_MAX_KEYWORDS_PER_FOLDER } from "../limits.ts";
import { formatFlags } from "./wire/format.ts";
import type { ResponseWriter } from "./wire/response-writer.ts";

const SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

export function writeMailboxFlags(out: ResponseWriter, keywords: readonly string[], readOnly: boolean): void {
  const flags = [...SYSTEM_FLAGS, ...keywords];
  out.untagged(`FLAGS ${formatFlags(flags)}`);
  if (readOnly) {
    out.untagged("OK [PERMANENTFLAGS ()] Read-only mailbox.");
    return;
  }
  const permanent = keywords.length < STORE_MAX_KEYWORDS_PER_FOLDER ? [...flags, "\\*"] : flags;
  out.untagged(`OK [PERMANENTFLAGS ${formatFlags(permanent)}] Flags permitted.`);
}
