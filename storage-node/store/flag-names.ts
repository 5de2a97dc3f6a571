/**
 * Flag and keyword rules shared by every store implementation.
 *
 * Invariants:
 * - System flags are stored in their canonical spelling (\Seen, \Answered,
 *   \Flagged, \Deleted, \Draft); any casing from a client maps to it.
 * - Keywords are IMAP atoms (RFC 3501 §9 flag-keyword), compared case-insensitively
 *   (RFC 3501 §2.3.2), stored as first written.
 * - \Recent is session state, never stored: it is dropped silently.
 * - A folder's keyword list only grows, keeps first spellings, and never holds
 *   more than STORE_MAX_KEYWORDS_PER_FOLDER entries.
 */

import { STORE_MAX_FLAGS_PER_MESSAGE, STORE_MAX_KEYWORDS_PER_FOLDER, STORE_MAX_KEYWORD_CHARS } from "../limits.ts";
import { StoreError } from "./types.ts";

const SYSTEM_FLAGS = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];
const SYSTEM_BY_LOWER = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** Canonical form of one flag, or null for \Recent; throws StoreError("invalid"). */
export function normalizeFlag(flag: string): string | null {
  if (flag.startsWith("\\")) {
    const lower = flag.toLowerCase();
    if (lower === "\\recent") return null;
    const sys = SYSTEM_BY_LOWER.get(lower);
    if (!sys) throw new StoreError("invalid", "unknown system flag");
    return sys;
  }
  if (flag.length === 0 || flag.length > STORE_MAX_KEYWORD_CHARS) throw new StoreError("invalid", "bad keyword length");
  // atom-specials: ( ) { SP CTL % * " \ ] and non-ASCII
  if (/[(){ %*"\\\]\u0000-\u001f\u007f-\uffff]/.test(flag)) throw new StoreError("invalid", "keyword is not an atom");
  return flag;
}

/** Normalised, de-duplicated flag list (first spelling wins). */
export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    const n = normalizeFlag(f);
    if (n === null) continue;
    const k = n.toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(n);
  }
  if (out.length > STORE_MAX_FLAGS_PER_MESSAGE) throw new StoreError("invalid", "too many flags");
  return out;
}

/** Applies a STORE operation; returns the new list (old order kept, additions appended). */
export function applyFlagOp(current: readonly string[], op: "add" | "remove" | "replace", flags: readonly string[]): string[] {
  if (op === "replace") return [...flags];
  const keys = new Set(flags.map((f) => f.toLowerCase()));
  if (op === "remove") return current.filter((f) => !keys.has(f.toLowerCase()));
  const have = new Set(current.map((f) => f.toLowerCase()));
  const out = [...current];
  for (const f of flags) if (!have.has(f.toLowerCase())) out.push(f);
  if (out.length > STORE_MAX_FLAGS_PER_MESSAGE) throw new StoreError("invalid", "too many flags");
  return out;
}

/** True when both lists hold the same flags (case-insensitive, order ignored). */
export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => s.has(f.toLowerCase()));
}

export function hasFlag(flags: readonly string[], flag: string): boolean {
  const k = flag.toLowerCase();
  return flags.some((f) => f.toLowerCase() === k);
}

export interface FlagUpdatePlan<M> {
  /** Messages whose flags change, with their new list. */
  pending: { message: M; flags: string[] }[];
  /** UIDs refused by UNCHANGEDSINCE (RFC 7162 §3.1.3). */
  modified: number[];
}

/** Decides a STORE for each message; nothing is written here. */
export function planFlagUpdates<M extends { uid: number; modseq: number; flags: readonly string[] }>(
  messages: Iterable<M>,
  op: "add" | "remove" | "replace",
  flags: readonly string[],
  unchangedSince?: number,
): FlagUpdatePlan<M> {
  const wanted = normalizeFlags(flags);
  const out: FlagUpdatePlan<M> = { pending: [], modified: [] };
  for (const m of messages) {
    if (unchangedSince !== undefined && m.modseq > unchangedSince) {
      out.modified.push(m.uid);
      continue;
    }
    const next = applyFlagOp(m.flags, op, wanted);
    if (!sameFlags(m.flags, next)) out.pending.push({ message: m, flags: next });
  }
  return out;
}

/**
 * A folder's keyword list after `flags` (normalised) were written to one of its
 * messages: null when nothing is new. Throws StoreError("limit") when the list
 * would grow beyond STORE_MAX_KEYWORDS_PER_FOLDER; the caller then writes nothing.
 */
export function defineKeywords(defined: readonly string[], flags: readonly string[]): string[] | null {
  let out: string[] | null = null;
  let known: Set<string> | null = null;
  for (const f of flags) {
    if (f.startsWith("\\")) continue;
    known ??= new Set(defined.map((k) => k.toLowerCase()));
    const k = f.toLowerCase();
    if (known.has(k)) continue;
    known.add(k);
    (out ??= [...defined]).push(f);
  }
  if (out !== null && out.length > STORE_MAX_KEYWORDS_PER_FOLDER) throw new StoreError("limit", "too many keywords in this folder");
  return out;
}
