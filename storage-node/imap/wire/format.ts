/**
 * Small pieces of response syntax shared by several commands: flag lists,
 * sequence/UID sets, INTERNALDATE (RFC 3501 §9 date-time).
 */

/** System flags in the order Dovecot (and most servers) print them, then \\Recent; keywords follow in stored order. */
const SYSTEM_FLAG_ORDER = new Map([
  ["\\Answered", 0],
  ["\\Flagged", 1],
  ["\\Deleted", 2],
  ["\\Seen", 3],
  ["\\Draft", 4],
  ["\\Recent", 5],
]);

/** A flag list, system flags first in canonical order (a flag list is a set: RFC 3501 §2.3.2). */
export function formatFlags(flags: readonly string[]): string {
  if (flags.length < 2) return `(${flags.join(" ")})`;
  const rank = (flag: string): number => SYSTEM_FLAG_ORDER.get(flag) ?? 6;
  const ordered = flags.map((flag, index) => ({ flag, index })).sort((a, b) => rank(a.flag) - rank(b.flag) || a.index - b.index);
  return `(${ordered.map((entry) => entry.flag).join(" ")})`;
}

/** Ascending numbers → "1:3,7,9:10". */
export function formatUidSet(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** Numbers in the given order (COPYUID keeps source order), ranges only where consecutive. */
export function formatOrderedSet(values: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j] + 1) j++;
    parts.push(i === j ? String(values[i]) : `${values[i]}:${values[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 3501 date-time, always in UTC: "28-Nov-2026 19:08:16 +0000". */
export function formatInternalDate(date: Date): string {
  const day = String(date.getUTCDate()).padStart(2, "0");
  const time = [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
  return `"${day}-${MONTHS[date.getUTCMonth()]}-${date.getUTCFullYear()} ${time} +0000"`;
}

/** RFC 3501 date-time (APPEND) → Date, or null when malformed. */
export function parseDateTime(text: string): Date | null {
  const match = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!match) return null;
  const month = MONTHS.findIndex((m) => m.toLowerCase() === match[2].toLowerCase());
  if (month < 0) return null;
  const [day, year, hour, minute, second] = [match[1], match[3], match[4], match[5], match[6]].map((v) => Number(v.trim()));
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  // The grammar (RFC 3501 §9 / RFC 9051 §9 date-day-fixed) admits any two digits;
  // a day the month does not have (31-Feb) names no instant and is refused.
  if (day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return null;
  const offset = (match[7] === "-" ? -1 : 1) * (Number(match[8]) * 60 + Number(match[9]));
  const ms = Date.UTC(year, month, day, hour, minute, second) - offset * 60_000;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** RFC 3501 date ("1-Feb-1994") → "1994-02-01", or null. */
export function parseSearchDate(text: string): string | null {
  const match = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  if (!match) return null;
  const month = MONTHS.findIndex((m) => m.toLowerCase() === match[2].toLowerCase());
  const day = Number(match[1]);
  if (month < 0 || day < 1 || day > 31) return null;
  return `${match[3]}-${String(month + 1).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}
