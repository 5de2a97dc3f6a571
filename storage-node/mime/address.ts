/**
 * Address lists for ENVELOPE (RFC 5322 §3.4, RFC 3501 §7.4.2 "address").
 *
 * Invariants:
 * - Lenient and total: whatever the bytes, the result is a list of
 *   AddressData (possibly empty), never an exception. A mailbox without a
 *   domain gets host "MISSING_DOMAIN", an address without a local part gets
 *   mailbox "MISSING_MAILBOX" (the placeholders Dovecot uses, so clients see
 *   the same thing from either server).
 * - Groups become a start marker (mailbox = group name, host null) and an end
 *   marker (all null), per RFC 3501.
 * - Display names stay raw (RFC 2047 words are not decoded here).
 * - At most MIME_MAX_ADDRESSES entries are produced per field.
 */
import { MIME_MAX_ADDRESSES } from "../limits.ts";
import type { AddressData } from "./types.ts";
import { ADDRESS_SPECIALS, tokenize, type Token } from "./rfc822-lexer.ts";

export const MISSING_DOMAIN = "MISSING_DOMAIN";
export const MISSING_MAILBOX = "MISSING_MAILBOX";

function isSpecial(t: Token | undefined, ch: string): boolean {
  return t !== undefined && t.kind === "special" && t.text === ch;
}

function isWord(t: Token | undefined): boolean {
  return t !== undefined && (t.kind === "atom" || t.kind === "quoted");
}

export function parseAddressList(value: string): AddressData[] {
  const tokens = tokenize(value, ADDRESS_SPECIALS);
  const out: AddressData[] = [];
  let i = 0;
  let inGroup = false;
  const push = (a: AddressData): void => {
    if (out.length < MIME_MAX_ADDRESSES) out.push(a);
  };

  while (i < tokens.length && out.length < MIME_MAX_ADDRESSES) {
    // Collect a phrase / local part: words, dots and comments.
    const phrase: Token[] = [];
    let lastComment: string | null = null;
    while (i < tokens.length) {
      const t = tokens[i];
      if (t.kind === "comment") {
        // A comment before the first word is not a display name.
        if (phrase.length > 0) lastComment = t.text;
        i++;
        continue;
      }
      if (isWord(t) || isSpecial(t, ".")) {
        phrase.push(t);
        i++;
        continue;
      }
      break;
    }
    const next = tokens[i];
    if (isSpecial(next, ":") && !inGroup) {
      i++;
      push({ name: null, adl: null, mailbox: phraseText(phrase) ?? "", host: null });
      inGroup = true;
      continue;
    }
    if (isSpecial(next, "<")) {
      i++;
      const r = parseAngleAddr(tokens, i);
      i = r.next;
      let name = phraseText(phrase);
      if (name === null && r.comment !== null) name = r.comment;
      push({ name, adl: r.adl, mailbox: r.mailbox ?? MISSING_MAILBOX, host: r.host ?? MISSING_DOMAIN });
    } else if (isSpecial(next, "@")) {
      i++;
      const d = parseDomain(tokens, i);
      i = d.next;
      const name = d.comment ?? lastComment;
      push({ name, adl: null, mailbox: phrase.length > 0 ? localPartText(phrase) : MISSING_MAILBOX, host: d.domain ?? MISSING_DOMAIN });
    } else if (phrase.length > 0) {
      push({ name: lastComment, adl: null, mailbox: localPartText(phrase), host: MISSING_DOMAIN });
    }
    // Skip to the next separator.
    while (i < tokens.length) {
      const t = tokens[i];
      if (isSpecial(t, ",")) {
        i++;
        break;
      }
      if (isSpecial(t, ";")) {
        i++;
        if (inGroup) {
          push({ name: null, adl: null, mailbox: null, host: null });
          inGroup = false;
        }
        break;
      }
      if (isSpecial(t, "<") || isWord(t)) break;
      i++;
    }
  }
  if (inGroup) push({ name: null, adl: null, mailbox: null, host: null });
  return out;
}

/** Display name: words joined by one space, "." kept where it stood. */
function phraseText(phrase: Token[]): string | null {
  let s = "";
  for (const t of phrase) {
    if (t.kind === "special") s += t.text;
    else s += (s.length > 0 ? " " : "") + t.text;
  }
  return s.length > 0 ? s : null;
}

/** Local part with quoted strings unquoted (as ENVELOPE shows it). */
function localPartText(phrase: Token[]): string {
  let s = "";
  for (const t of phrase) s += t.text;
  return s;
}

interface AngleData {
  adl: string | null;
  mailbox: string | null;
  host: string | null;
  comment: string | null;
  next: number;
}

function parseAngleAddr(tokens: Token[], start: number): AngleData {
  let i = start;
  let adl: string | null = null;
  let comment: string | null = null;
  // Obsolete route: "@a,@b:" (RFC 5322 §4.4).
  if (isSpecial(tokens[i], "@")) {
    let route = "";
    while (i < tokens.length && !isSpecial(tokens[i], ":") && !isSpecial(tokens[i], ">")) {
      if (tokens[i].kind !== "comment") route += tokens[i].text;
      i++;
    }
    if (isSpecial(tokens[i], ":")) {
      adl = route;
      i++;
    } else {
      i = start;
    }
  }
  const local: Token[] = [];
  while (i < tokens.length && (isWord(tokens[i]) || isSpecial(tokens[i], ".") || tokens[i].kind === "comment")) {
    if (tokens[i].kind === "comment") comment = tokens[i].text;
    else local.push(tokens[i]);
    i++;
  }
  let host: string | null = null;
  if (isSpecial(tokens[i], "@")) {
    const d = parseDomain(tokens, i + 1);
    host = d.domain;
    i = d.next;
  }
  while (i < tokens.length && !isSpecial(tokens[i], ">")) {
    if (isSpecial(tokens[i], ",") || isSpecial(tokens[i], ";")) return { adl, mailbox: local.length ? localPartText(local) : null, host, comment, next: i };
    i++;
  }
  if (isSpecial(tokens[i], ">")) i++;
  // A comment after the closing bracket.
  while (i < tokens.length && tokens[i].kind === "comment") {
    comment = tokens[i].text;
    i++;
  }
  return { adl, mailbox: local.length ? localPartText(local) : null, host, comment: null, next: i };
}

function parseDomain(tokens: Token[], start: number): { domain: string | null; comment: string | null; next: number } {
  let i = start;
  let s = "";
  let comment: string | null = null;
  while (i < tokens.length) {
    const t = tokens[i];
    if (t.kind === "comment") comment = t.text;
    else if (t.kind === "atom" || t.kind === "literal" || isSpecial(t, ".")) s += t.text;
    else break;
    i++;
  }
  return { domain: s.length > 0 ? s : null, comment, next: i };
}
