/**
 * Evaluates a SearchKey tree against one message. Shared by every store.
 *
 * Invariants:
 * - String keys match case-insensitive substrings anywhere (RFC 3501 §6.4.4):
 *   never prefix or word semantics.
 * - TEXT/BODY may be narrowed by an index (`textIndex`, e.g. FTS5 trigrams):
 *   it names the candidates, a superset of the matches; only candidates are
 *   scanned, so the answer is always the scan's answer.
 * - Dates compare by calendar day in UTC; sent date falls back to the internal
 *   date when the message has no parsable Date header.
 * - Regex keys use the linear-time matcher in regex.ts.
 */

import { STORE_MAX_SEARCH_VALUE_CHARS } from "../limits.ts";
import { hasFlag } from "./flag-names.ts";
import { compileRegex, type CompiledRegex } from "./regex.ts";
import { StoreError, type SearchKey } from "./types.ts";
import { uidInSet } from "./uid-set.ts";

export interface SearchableMessage {
  uid: number;
  modseq: number;
  flags: readonly string[];
  /** ms since epoch */
  internalDate: number;
  size: number;
  sentDate: number | null;
}

/** Lazily provides decoded text for one message. */
export interface SearchTextSource<M> {
  /** Decoded values of every occurrence of `field` (case-insensitive name). */
  headerValues(m: M, field: string): string[];
  /** All header fields, decoded, "Name: value" lines. */
  headerText(m: M): string;
  bodyText(m: M): string;
}

export interface SearchContext<M extends SearchableMessage> {
  source: SearchTextSource<M>;
  now: number;
  /**
   * Candidate UIDs for a text/body key, when an index can name them: every
   * message that matches is in the set (messages outside it are skipped).
   */
  textIndex?: (key: { type: "text" | "body"; value: string }) => ReadonlySet<number> | undefined;
}

export function dayNumber(ms: number): number {
  return Math.floor(ms / 86_400_000);
}

function parseDay(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new StoreError("invalid", "search date must be YYYY-MM-DD");
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(t)) throw new StoreError("invalid", "bad search date");
  return dayNumber(t);
}

function includesCi(hay: string, needle: string): boolean {
  return hay.toLowerCase().includes(needle.toLowerCase());
}

/** Validates a criteria tree up front (so errors do not depend on folder contents). */
export function validateSearch(key: SearchKey): void {
  switch (key.type) {
    case "header":
    case "address":
    case "subject":
    case "body":
    case "text":
      if (key.value.length > STORE_MAX_SEARCH_VALUE_CHARS) throw new StoreError("invalid", "search value too long");
      return;
    case "internal-date":
    case "sent-date":
      parseDay(key.date);
      return;
    case "regex":
      compileRegex(key.pattern, key.flags);
      return;
    case "and":
      key.keys.forEach(validateSearch);
      return;
    case "or":
      validateSearch(key.left);
      validateSearch(key.right);
      return;
    case "not":
      validateSearch(key.key);
      return;
    default:
      return;
  }
}

/** Collects text/body keys so an index can resolve them before evaluation. */
export function collectTextKeys(key: SearchKey, out: { type: "text" | "body"; value: string }[] = []) {
  if (key.type === "text" || key.type === "body") out.push(key);
  else if (key.type === "and") key.keys.forEach((k) => collectTextKeys(k, out));
  else if (key.type === "or") {
    collectTextKeys(key.left, out);
    collectTextKeys(key.right, out);
  } else if (key.type === "not") collectTextKeys(key.key, out);
  return out;
}

/** Text/body keys that every match must satisfy (the key itself, or members of a top-level AND). */
export function requiredTextKeys(key: SearchKey): { type: "text" | "body"; value: string }[] {
  if (key.type === "text" || key.type === "body") return [key];
  if (key.type === "and") return key.keys.flatMap(requiredTextKeys);
  return [];
}

export function createMatcher<M extends SearchableMessage>(key: SearchKey, ctx: SearchContext<M>): (m: M) => boolean {
  validateSearch(key);
  const regexCache = new Map<SearchKey, CompiledRegex>();
  const compileCached = (k: SearchKey & { type: "regex" }) => {
    let r = regexCache.get(k);
    if (!r) regexCache.set(k, (r = compileRegex(k.pattern, k.flags)));
    return r;
  };
  const ev = (k: SearchKey, m: M): boolean => {
    switch (k.type) {
      case "all":
        return true;
      case "uid":
        return uidInSet(m.uid, k.set);
      case "flag":
        return hasFlag(m.flags, k.flag) === k.set;
      case "header": {
        const values = ctx.source.headerValues(m, k.field);
        if (k.value === "") return values.length > 0;
        return values.some((v) => includesCi(v, k.value));
      }
      case "address":
        return ctx.source.headerValues(m, k.field).some((v) => includesCi(v, k.value));
      case "subject":
        return ctx.source.headerValues(m, "subject").some((v) => includesCi(v, k.value));
      case "body":
      case "text": {
        const candidates = ctx.textIndex?.(k);
        if (candidates && !candidates.has(m.uid)) return false;
        if (k.type === "body") return includesCi(ctx.source.bodyText(m), k.value);
        return includesCi(ctx.source.headerText(m), k.value) || includesCi(ctx.source.bodyText(m), k.value);
      }
      case "internal-date":
      case "sent-date": {
        const ms = k.type === "internal-date" ? m.internalDate : (m.sentDate ?? m.internalDate);
        const d = dayNumber(ms);
        const want = parseDay(k.date);
        return k.op === "before" ? d < want : k.op === "on" ? d === want : d >= want;
      }
      case "size":
        return k.op === "larger" ? m.size > k.bytes : m.size < k.bytes;
      case "modseq":
        return m.modseq >= k.modseq;
      case "age": {
        const age = (ctx.now - m.internalDate) / 1000;
        return k.op === "older" ? age > k.seconds : age <= k.seconds;
      }
      case "regex": {
        const re = compileCached(k);
        if (k.target === "body") return re.test(ctx.source.bodyText(m));
        if (k.target === "header") {
          if (k.field) return ctx.source.headerValues(m, k.field).some((v) => re.test(v));
          return re.test(ctx.source.headerText(m));
        }
        return re.test(ctx.source.headerText(m)) || re.test(ctx.source.bodyText(m));
      }
      case "and":
        return k.keys.every((x) => ev(x, m));
      case "or":
        return ev(k.left, m) || ev(k.right, m);
      case "not":
        return !ev(k.key, m);
    }
  };
  return (m) => ev(key, m);
}
