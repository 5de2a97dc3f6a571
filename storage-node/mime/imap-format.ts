/**
 * IMAP wire syntax for ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 §7.4.2,
 * §9 "envelope", "body"), byte-compatible with Dovecot's output.
 *
 * Invariants:
 * - Input strings are binary strings (one char per byte) and so is the
 *   output: the caller writes it with `Buffer.from(s, "latin1")`.
 * - A string goes out quoted unless it holds CR, LF, NUL, an 8-bit byte or
 *   more than four characters needing escapes; then it is a literal
 *   `{n}\r\n…` whose n is the byte count. Envelope strings have CR/LF removed
 *   first (they are unfolded header values).
 * - A multipart without parts is written as an empty text/plain part, so the
 *   output is always valid "body" syntax.
 */
import type { AddressData, BodyStructureData, EnvelopeData } from "./types.ts";

/** IMAP string: quoted, or a literal when quoting cannot carry it. */
export function imapString(s: string): string {
  let escapes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      if (++escapes > 4) return `{${s.length}}\r\n${s}`;
    } else if (c === 0x0d || c === 0x0a || c === 0 || c >= 0x80) {
      return `{${s.length}}\r\n${s}`;
    }
  }
  return escapes === 0 ? `"${s}"` : `"${s.replace(/(["\\])/g, "\\$1")}"`;
}

export function imapNString(s: string | null | undefined): string {
  return s === null || s === undefined ? "NIL" : imapString(s);
}

function nstringNoLf(s: string | null): string {
  return s === null ? "NIL" : imapString(s.replace(/[\r\n]/g, ""));
}

/**
 * Subject and display names are written "for humans" like Dovecot does: CR,
 * LF and TAB become spaces, whitespace runs collapse to one space, leading
 * and trailing whitespace goes, NUL becomes 0x80; a value that needed any such
 * change or holds '"', '\\' or 8-bit bytes is sent as a literal.
 */
export function imapStringForHumans(s: string | null): string {
  if (s === null) return "NIL";
  let plain = true;
  for (let i = 0; i < s.length && plain; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0d || c === 0x0a || c === 0x09 || c === 0x22 || c === 0x5c || c >= 0x80) plain = false;
    else if (c === 0x20 && (i === 0 || i === s.length - 1 || s.charCodeAt(i - 1) === 0x20)) plain = false;
  }
  if (plain) return `"${s}"`;
  const cleaned = s
    .replace(/\0/g, "\x80")
    .replace(/[\r\n\t ]+/g, " ")
    .replace(/^ | $/g, "");
  return cleaned.length === 0 ? '""' : `{${cleaned.length}}\r\n${cleaned}`;
}

function formatAddresses(list: AddressData[] | null): string {
  if (list === null || list.length === 0) return "NIL";
  let out = "(";
  for (const a of list) {
    out += `(${imapStringForHumans(a.name)} ${nstringNoLf(a.adl)} ${nstringNoLf(a.mailbox)} ${nstringNoLf(a.host)})`;
  }
  return `${out})`;
}

export function formatEnvelope(env: EnvelopeData): string {
  return (
    `(${nstringNoLf(env.date)} ${imapStringForHumans(env.subject)} ${formatAddresses(env.from)} ` +
    `${formatAddresses(env.sender)} ${formatAddresses(env.replyTo)} ${formatAddresses(env.to)} ` +
    `${formatAddresses(env.cc)} ${formatAddresses(env.bcc)} ${nstringNoLf(env.inReplyTo)} ${nstringNoLf(env.messageId)})`
  );
}

function formatParams(params: [string, string][] | null, defaultCharset: boolean): string {
  const list = params ?? [];
  const hasCharset = list.some(([k]) => k.toLowerCase() === "charset");
  if (list.length === 0 && !defaultCharset) return "NIL";
  const items = list.map(([k, v]) => `${imapString(k)} ${imapString(v)}`);
  if (defaultCharset && !hasCharset) items.push('"charset" "us-ascii"');
  return `(${items.join(" ")})`;
}

function formatExtensionCommon(bs: BodyStructureData): string {
  const disp = bs.disposition ? `(${imapString(bs.disposition.type)} ${formatParams(bs.disposition.parameters, false)})` : "NIL";
  const lang = bs.language && bs.language.length > 0 ? `(${bs.language.map(imapString).join(" ")})` : "NIL";
  return `${disp} ${lang} ${imapNString(bs.location)}`;
}

const EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0';

function isMultipart(bs: BodyStructureData): boolean {
  return bs.type.toLowerCase() === "multipart" && bs.children !== undefined;
}

function isMessage(bs: BodyStructureData): boolean {
  return bs.type.toLowerCase() === "message" && bs.subtype.toLowerCase() === "rfc822" && bs.envelope !== undefined && bs.children?.length === 1;
}

/** BODYSTRUCTURE (extensible = true) or BODY (false). */
export function formatBodyStructure(bs: BodyStructureData, extensible: boolean): string {
  if (isMultipart(bs)) {
    const children = bs.children ?? [];
    let out = "(";
    if (children.length === 0) out += extensible ? `${EMPTY_BODY} NIL NIL NIL NIL)` : `${EMPTY_BODY})`;
    for (const c of children) out += formatBodyStructure(c, extensible);
    out += ` ${imapString(bs.subtype)}`;
    if (extensible) out += ` ${formatParams(bs.parameters, false)} ${formatExtensionCommon(bs)}`;
    return `${out})`;
  }
  const message = isMessage(bs);
  const text = bs.type.toLowerCase() === "text";
  let out = message ? '("message" "rfc822"' : `(${imapString(bs.type)} ${imapString(bs.subtype)}`;
  out += ` ${formatParams(bs.parameters, text)} ${imapNString(bs.id)} ${imapNString(bs.description)} ${imapString(bs.encoding)} ${bs.size}`;
  if (text) out += ` ${bs.lines ?? 0}`;
  else if (message && bs.envelope && bs.children) {
    out += ` ${formatEnvelope(bs.envelope)} ${formatBodyStructure(bs.children[0], extensible)} ${bs.lines ?? 0}`;
  }
  if (extensible) out += ` ${imapNString(bs.md5)} ${formatExtensionCommon(bs)}`;
  return `${out})`;
}
