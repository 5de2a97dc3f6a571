/**
 * The MIME indexer: parses a message once, on arrival (RFC 5322, RFC 2045–
 * 2047, RFC 2231, RFC 3501 §7.4.2 ENVELOPE/BODYSTRUCTURE, RFC 5256).
 *
 * Invariants:
 * - Works on the raw bytes in one forward pass: each line is visited once by
 *   the header scanner or the boundary matcher, whatever the nesting, so time
 *   is linear in the message size (times at most MIME_MAX_DEPTH boundary
 *   comparisons per line that starts with "--").
 * - Offsets index the exact stored bytes: `tree` nodes give header and body
 *   ranges with headerStart <= headerEnd == bodyStart <= bodyEnd, children
 *   nested inside their parent's body. Sizes and line counts in
 *   BODYSTRUCTURE are computed on those same bytes.
 * - Boundary rules follow RFC 2046 §5.1.1 as Dovecot applies them: a line
 *   that starts with "--boundary" of any open multipart delimits (the longest
 *   matching boundary wins), the line break before it belongs to the
 *   delimiter, an outer boundary closes every inner multipart, and a
 *   multipart that is never closed ends where its parent does.
 * - Bounded: at most MIME_MAX_DEPTH levels and MIME_MAX_PARTS parts (tree
 *   nodes, encapsulated messages included); deeper or later structure is kept
 *   as opaque body bytes. Never throws on any input.
 * - Message/rfc822 nodes have exactly one child, the encapsulated message,
 *   which carries the same IMAP `path` as its container (its header is
 *   `BODY[path.HEADER]`).
 */
import type { AddressData, BodyStructureData, EnvelopeData, HeaderFieldData, MimePartData, ParsedMessageData } from "./types.ts";
import { MIME_MAX_ADDRESSES, MIME_MAX_DEPTH, MIME_MAX_PARTS, MIME_MAX_REFERENCES, MIME_MAX_TEXT_BYTES } from "../limits.ts";
import { fieldText, lineEndAfter, scanHeader, unfold } from "./header.ts";
import { decodeParameter, parseContentType, parseDisposition, type ContentTypeData } from "./content-type.ts";
import { parseAddressList } from "./address.ts";
import { decodeEncodedWords } from "./encoded-words.ts";
import { decodeTransfer } from "./transfer-encoding.ts";
import { decodeCharset } from "./charset.ts";
import { htmlToText } from "./html-text.ts";
import { baseSubject } from "./base-subject.ts";
import { parseDate } from "./date.ts";
import { MIME_SPECIALS, tokenize } from "./rfc822-lexer.ts";

/** A delimiter no line can match (a multipart without a boundary). */
const NEVER = new Uint8Array(0);
const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

interface Ctx {
  buf: Uint8Array;
  end: number;
  /** Open multipart delimiters ("--" + boundary), innermost last. */
  stack: Uint8Array[];
  parts: number;
  /** Set once MIME_MAX_PARTS is reached: no more boundaries are recognised. */
  exhausted: boolean;
  textParts: { start: number; end: number; encoding: string; charset: string | null; html: boolean }[];
}

interface EntityData {
  node: MimePartData;
  bs: BodyStructureData;
  fields: HeaderFieldData[];
  /** Where parsing stopped: the start of a boundary line, or the end. */
  stop: number;
  /** End of the entity's bytes before a header cut by a delimiter (see below). */
  extent: number;
}

interface BoundaryMatch {
  index: number;
  close: boolean;
}

function matchBoundary(ctx: Ctx, start: number, lineEnd: number): BoundaryMatch | null {
  const { buf, stack } = ctx;
  if (ctx.exhausted || stack.length === 0 || lineEnd - start < 2 || buf[start] !== DASH || buf[start + 1] !== DASH) {
    return null;
  }
  let best = -1;
  for (let s = stack.length - 1; s >= 0; s--) {
    const b = stack[s];
    if (b.length === 0 || b.length > lineEnd - start) continue;
    if (best >= 0 && stack[best].length >= b.length) continue;
    let ok = true;
    for (let k = 2; k < b.length; k++) {
      if (buf[start + k] !== b[k]) {
        ok = false;
        break;
      }
    }
    if (ok) best = s;
  }
  if (best < 0) return null;
  const after = start + stack[best].length;
  const close = after + 1 < lineEnd && buf[after] === DASH && buf[after + 1] === DASH;
  return { index: best, close };
}

/** End of a body that is followed by a delimiter line at `stop`. */
function bodyEndBefore(ctx: Ctx, stop: number, bodyStart: number): number {
  if (stop >= ctx.end) return ctx.end;
  let e = stop;
  if (e > bodyStart && ctx.buf[e - 1] === LF) {
    e--;
    if (e > bodyStart && ctx.buf[e - 1] === CR) e--;
  }
  return Math.max(e, bodyStart);
}

function countLines(buf: Uint8Array, start: number, end: number): number {
  let n = 0;
  let i = buf.indexOf(LF, start);
  while (i >= 0 && i < end) {
    n++;
    i = buf.indexOf(LF, i + 1);
  }
  return n;
}

/** Lowercased token of a single-token field (Content-Transfer-Encoding). */
function firstToken(value: string): string | null {
  const t = tokenize(unfold(value), MIME_SPECIALS).find((x) => x.kind === "atom" || x.kind === "quoted");
  return t ? t.text : null;
}

/** First occurrence: MIME fields (Content-*) take the first, as Dovecot. */
function firstOf(fields: HeaderFieldData[], name: string): HeaderFieldData | undefined {
  const lower = name.toLowerCase();
  for (const f of fields) if (f.name.toLowerCase() === lower) return f;
  return undefined;
}

/** Last occurrence: ENVELOPE strings (Date, Subject, …) take the last, as Dovecot. */
function lastOf(fields: HeaderFieldData[], name: string): HeaderFieldData | undefined {
  const lower = name.toLowerCase();
  for (let i = fields.length - 1; i >= 0; i--) if (fields[i].name.toLowerCase() === lower) return fields[i];
  return undefined;
}

function languageList(value: string): string[] | null {
  const out = tokenize(unfold(value), MIME_SPECIALS)
    .filter((t) => t.kind === "atom" || t.kind === "quoted")
    .map((t) => t.text);
  return out.length > 0 ? out : null;
}

function parseEntity(ctx: Ctx, start: number, depth: number, path: number[], defaultDigest: boolean): EntityData {
  ctx.parts++;
  const { buf } = ctx;
  const header = scanHeader(buf, start, ctx.end, (s, e) => matchBoundary(ctx, s, e) !== null);
  const fields = header.fields;
  const headerEnd = header.end;
  const bodyStart = headerEnd;

  const ctField = firstOf(fields, "Content-Type");
  const ct: ContentTypeData | null = ctField ? parseContentType(unfold(ctField.value)) : null;
  const typeLower = ct ? ct.type.toLowerCase() : defaultDigest ? "message" : "text";
  const subLower = ct ? ct.subtype.toLowerCase() : defaultDigest ? "rfc822" : "plain";
  const cteField = firstOf(fields, "Content-Transfer-Encoding");
  const cte = cteField ? firstToken(cteField.value) : null;
  const encoding = cte ?? "7bit";
  const boundaryParam = ct ? decodeParameter(ct.params, "boundary") : null;

  const text = (name: string): string | null => {
    const f = firstOf(fields, name);
    return f ? fieldText(f.value) : null;
  };
  const dispField = firstOf(fields, "Content-Disposition");
  const disp = dispField ? parseDisposition(unfold(dispField.value)) : null;
  const langField = firstOf(fields, "Content-Language");

  const bs: BodyStructureData = {
    type: ct ? ct.type : typeLower,
    subtype: ct ? ct.subtype : subLower,
    parameters: ct ? (ct.params.length > 0 ? ct.params : null) : null,
    id: text("Content-ID"),
    description: text("Content-Description"),
    encoding,
    size: 0,
    md5: text("Content-MD5"),
    disposition: disp ? { type: disp.type, parameters: disp.params.length > 0 ? disp.params : null } : null,
    language: langField ? languageList(langField.value) : null,
    location: text("Content-Location"),
  };
  const charset = decodeParameter(ct ? ct.params : null, "charset");
  const filename = decodeFilename(disp ? disp.params : null, ct ? ct.params : null);
  const node: MimePartData = {
    path,
    headerStart: start,
    headerEnd,
    bodyStart,
    bodyEnd: bodyStart,
    contentType: `${typeLower}/${subLower}`,
    encoding: encoding.toLowerCase(),
    charset,
    filename,
    children: [],
    kind: "single",
  };

  let stop: number;
  let extent = 0;
  if (typeLower === "multipart" && depth < MIME_MAX_DEPTH && !ctx.exhausted) {
    // Without a usable boundary this is a multipart with no parts (Dovecot
    // shows an empty text/plain in its place); its body still ends where an
    // enclosing delimiter starts.
    node.kind = "multipart";
    const boundary = boundaryParam ?? "";
    const delim = new Uint8Array(boundary.length + 2);
    delim[0] = DASH;
    delim[1] = DASH;
    for (let k = 0; k < boundary.length; k++) delim[k + 2] = boundary.charCodeAt(k) & 0xff;
    ctx.stack.push(boundary.length > 0 ? delim : NEVER);
    const level = ctx.stack.length - 1;
    const digest = subLower === "digest";
    const childBs: BodyStructureData[] = [];
    let p = bodyStart;
    stop = ctx.end;
    let closed = false;
    // The line break before a delimiter belongs to it, but never one that is
    // already part of a close-delimiter line.
    let segmentStart = bodyStart;
    while (p < ctx.end) {
      const lineEnd = lineEndAfter(buf, p, ctx.end);
      const m = matchBoundary(ctx, p, lineEnd);
      if (m === null) {
        p = lineEnd;
        continue;
      }
      if (m.index !== level || closed) {
        stop = p;
        break;
      }
      if (m.close) {
        // Epilogue: runs to the next enclosing delimiter or the end.
        ctx.stack.pop();
        closed = true;
        p = lineEnd;
        segmentStart = lineEnd;
        continue;
      }
      if (ctx.parts >= MIME_MAX_PARTS) {
        // Part budget spent: from here on nothing is a delimiter, and the rest
        // of the message stays opaque body bytes of the enclosing parts.
        ctx.exhausted = true;
        p = lineEnd;
        continue;
      }
      const child = parseEntity(ctx, lineEnd, depth + 1, [...path, node.children.length + 1], digest);
      node.children.push(child.node);
      childBs.push(child.bs);
      p = child.stop;
    }
    if (!closed) ctx.stack.length = level;
    node.bodyEnd = bodyEndBefore(ctx, stop, segmentStart);
    bs.children = childBs;
  } else if (typeLower === "message" && subLower === "rfc822" && depth < MIME_MAX_DEPTH && ctx.parts < MIME_MAX_PARTS) {
    node.kind = "message";
    const child = parseEntity(ctx, bodyStart, depth + 1, path, false);
    node.children.push(child.node);
    stop = child.stop;
    // The container keeps the bytes its child's header lost to the delimiter.
    node.bodyEnd = child.extent;
    bs.children = [child.bs];
    bs.envelope = buildEnvelope(child.fields);
    bs.lines = countLines(buf, bodyStart, node.bodyEnd);
  } else {
    let p = bodyStart;
    stop = ctx.end;
    while (p < ctx.end) {
      const lineEnd = lineEndAfter(buf, p, ctx.end);
      if (matchBoundary(ctx, p, lineEnd) !== null) {
        stop = p;
        break;
      }
      p = lineEnd;
    }
    node.bodyEnd = bodyEndBefore(ctx, stop, bodyStart);
    if (typeLower === "text") {
      bs.lines = countLines(buf, bodyStart, node.bodyEnd);
      const isAttachment = disp !== null && disp.type.toLowerCase() === "attachment";
      if (!isAttachment || subLower === "plain") {
        ctx.textParts.push({ start: bodyStart, end: node.bodyEnd, encoding: node.encoding, charset, html: subLower === "html" });
      }
    }
  }
  extent = node.bodyEnd;
  if (node.kind !== "message" && stop < ctx.end) {
    // The line break before a delimiter belongs to the delimiter even when it
    // is the header's empty line (an empty body) or the last header line's
    // break (a header that runs into the delimiter): the header is cut there.
    const cut = bodyEndBefore(ctx, stop, start);
    if (cut < node.headerEnd) {
      node.headerEnd = cut;
      node.bodyStart = cut;
      node.bodyEnd = cut;
    }
  }
  bs.size = node.bodyEnd - node.bodyStart;
  return { node, bs, fields, stop, extent };
}

function decodeFilename(dispParams: [string, string][] | null, ctParams: [string, string][] | null): string | null {
  const raw = decodeParameter(dispParams, "filename") ?? decodeParameter(ctParams, "name");
  return raw === null ? null : decodeEncodedWords(raw);
}

/** Every occurrence of an address field contributes (Dovecot joins them). */
function addressField(fields: HeaderFieldData[], name: string): AddressData[] | null {
  const lower = name.toLowerCase();
  let list: AddressData[] = [];
  for (const f of fields) {
    if (f.name.toLowerCase() === lower && list.length < MIME_MAX_ADDRESSES) list = list.concat(parseAddressList(unfold(f.value)));
  }
  return list.length > 0 ? list.slice(0, MIME_MAX_ADDRESSES) : null;
}

/** ENVELOPE from a header block (RFC 3501 §7.4.2). */
export function buildEnvelope(fields: HeaderFieldData[]): EnvelopeData {
  const text = (name: string): string | null => {
    const f = lastOf(fields, name);
    return f ? fieldText(f.value) : null;
  };
  const from = addressField(fields, "From");
  return {
    date: text("Date"),
    subject: text("Subject"),
    from,
    sender: addressField(fields, "Sender") ?? from,
    replyTo: addressField(fields, "Reply-To") ?? from,
    to: addressField(fields, "To"),
    cc: addressField(fields, "Cc"),
    bcc: addressField(fields, "Bcc"),
    inReplyTo: text("In-Reply-To"),
    messageId: text("Message-ID"),
  };
}

const MSG_ID = /<[^<>\s]*>/g;

function msgIds(value: string | undefined): string[] {
  if (value === undefined) return [];
  return unfold(value).match(MSG_ID) ?? [];
}

const HEADER_TEXT_FIELDS = new Set(["subject", "from", "to", "cc", "bcc", "reply-to", "sender", "list-id"]);

function collectText(ctx: Ctx): string {
  let out = "";
  for (const t of ctx.textParts) {
    if (out.length >= MIME_MAX_TEXT_BYTES) break;
    const raw = ctx.buf.subarray(t.start, t.end);
    const decoded = decodeTransfer(raw, t.encoding) ?? raw;
    let s = decodeCharset(decoded, t.charset);
    if (t.html) s = htmlToText(s);
    out += (out.length > 0 ? "\n" : "") + s;
  }
  return out.length > MIME_MAX_TEXT_BYTES ? out.slice(0, MIME_MAX_TEXT_BYTES) : out;
}

export function parseMessage(raw: Uint8Array): ParsedMessageData {
  const ctx: Ctx = { buf: raw, end: raw.length, stack: [], parts: 0, exhausted: false, textParts: [] };
  const root = parseEntity(ctx, 0, 0, [], false);
  const fields = root.fields;
  const envelope = buildEnvelope(fields);
  const headerText = fields
    .filter((f) => HEADER_TEXT_FIELDS.has(f.name.toLowerCase()))
    .map((f) => decodeEncodedWords(fieldText(f.value)))
    .join("\n");
  const refs = msgIds(lastOf(fields, "References")?.value);
  const subject = lastOf(fields, "Subject");
  const date = lastOf(fields, "Date");
  return {
    size: raw.length,
    envelope,
    bodyStructure: root.bs,
    tree: root.node,
    headers: fields,
    headerText,
    bodyText: collectText(ctx),
    messageId: msgIds(lastOf(fields, "Message-ID")?.value)[0] ?? null,
    inReplyTo: msgIds(lastOf(fields, "In-Reply-To")?.value)[0] ?? null,
    references: refs.slice(Math.max(0, refs.length - MIME_MAX_REFERENCES)),
    baseSubject: subject ? baseSubject(fieldText(subject.value)) : "",
    sentDate: date ? parseDate(fieldText(date.value)) : null,
  };
}
