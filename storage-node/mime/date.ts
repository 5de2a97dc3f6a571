/**
 * RFC 5322 §3.3 date-time parsing (with the §4.3 obsolete zone names), for
 * the sent date used by SEARCH SENTBEFORE/SENTON/SENTSINCE and SORT DATE.
 *
 * Invariants:
 * - Total: returns ms since the epoch or null, never throws; one anchored
 *   regular expression without nested quantifiers (linear).
 * - Comments such as "(PDT)" are ignored; an unknown zone counts as +0000
 *   (RFC 5322 §4.3 "-0000"-like treatment).
 */

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const ZONES: Record<string, number> = { ut: 0, utc: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };

const DATE = /^\s*(?:[a-z]{3},?\s*)?(\d{1,2})\s*([a-z]{3})[a-z]*\s*(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[a-z]{1,5})?/i;

export function parseDate(value: string): number | null {
  const m = DATE.exec(value.replace(/\([^()]*\)/g, " "));
  if (!m) return null;
  const month = MONTHS.indexOf(m[2].toLowerCase());
  if (month < 0) return null;
  let year = Number(m[3]);
  if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3].length === 3) year += 1900;
  const day = Number(m[1]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] ? Number(m[6]) : 0;
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offset = 0;
  const zone = m[7];
  if (zone && (zone[0] === "+" || zone[0] === "-")) {
    const mins = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5));
    offset = zone[0] === "-" ? -mins : mins;
  } else if (zone) offset = ZONES[zone.toLowerCase()] ?? 0;
  return Date.UTC(year, month, day, hour, minute, second) - offset * 60_000;
}
