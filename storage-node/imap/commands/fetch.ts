/**
 * FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2) with BINARY (RFC 3516),
 * CHANGEDSINCE/MODSEQ (RFC 7162 §3.1.4) and VANISHED (RFC 7162 §3.2.6).
 *
 * Invariants:
 * - Body sections are streamed from the store's chunks into literals whose
 *   size the store stated up front; nothing is buffered whole.
 * - BODY[...] without .PEEK (and RFC822, RFC822.TEXT, BINARY[...]) sets \Seen
 *   unless the mailbox is read-only, and the new FLAGS are sent with the data
 *   (RFC 3501 §6.4.5).
 * - UID FETCH always returns UID (RFC 3501 §6.4.8).
 */
import type { BodyStructureData, EnvelopeData } from "../../mime/types.ts";
import type { BodySectionRequest, FetchOptions } from "../../store/types.ts";
import { formatBodyStructure, formatEnvelope } from "../../mime/imap-format.ts";
import { StoreError } from "../../store/types.ts";
import { CommandError, SELECTED, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall, storeErrorToCommandError } from "../store-error-codes.ts";
import { toUidSet } from "../tracker.ts";
import { ConnectionClosedError } from "../wire/byte-reader.ts";
import { ParseError, type CommandCursor, type SequenceSet } from "../wire/command-cursor.ts";
import { formatFlags, formatInternalDate, formatUidSet } from "../wire/format.ts";

type FetchItem =
  | { kind: "uid" | "flags" | "internaldate" | "size" | "envelope" | "body" | "bodystructure" | "modseq" }
  | { kind: "section"; label: string; request: BodySectionRequest; peek: boolean; binary: boolean }
  | { kind: "binary-size"; label: string; request: BodySectionRequest };

interface FetchArgs {
  set: SequenceSet;
  items: FetchItem[];
  changedSince: number | null;
  vanished: boolean;
}

const MACROS: Record<string, FetchItem["kind"][]> = {
  ALL: ["flags", "internaldate", "size", "envelope"],
  FAST: ["flags", "internaldate", "size"],
  FULL: ["flags", "internaldate", "size", "envelope", "body"],
};

const SIMPLE: Record<string, FetchItem["kind"]> = {
  UID: "uid",
  FLAGS: "flags",
  INTERNALDATE: "internaldate",
  "RFC822.SIZE": "size",
  ENVELOPE: "envelope",
  BODY: "body",
  BODYSTRUCTURE: "bodystructure",
  MODSEQ: "modseq",
};

const FIELD_LIMIT = { maxBytes: 1024 };

/** section = "[" [section-spec] "]" (RFC 3501 §9); for BINARY only part numbers. */
async function readSection(cursor: CommandCursor, binary: boolean): Promise<{ request: BodySectionRequest; text: string }> {
  cursor.expect("[");
  const request: BodySectionRequest = { part: [], specifier: "" };
  let text = "";
  if (!cursor.peekChar("]")) {
    const spec = cursor.atom("a section").toUpperCase();
    const segments = spec.split(".");
    let i = 0;
    while (i < segments.length && /^[1-9]\d{0,8}$/.test(segments[i])) request.part.push(Number(segments[i++]));
    const specifier = segments.slice(i).join(".");
    if (binary && specifier !== "") throw new ParseError("BINARY takes part numbers only");
    switch (specifier) {
      case "":
        if (i === 0) throw new ParseError("Invalid section");
        break;
      case "HEADER":
      case "TEXT":
        request.specifier = specifier;
        break;
      case "MIME":
        if (request.part.length === 0) throw new ParseError("MIME needs a part number");
        request.specifier = specifier;
        break;
      case "HEADER.FIELDS":
      case "HEADER.FIELDS.NOT": {
        request.specifier = specifier;
        cursor.sp();
        const fields: string[] = [];
        await cursor.list(async () => {
          fields.push((await cursor.astring(FIELD_LIMIT, "a header field name")).toString("latin1").toUpperCase());
        });
        if (fields.length === 0) throw new ParseError("Empty header field list");
        request.fields = fields;
        break;
      }
      default:
        throw new ParseError("Invalid section");
    }
    text = spec + (request.fields ? ` (${request.fields.join(" ")})` : "");
  }
  cursor.expect("]");
  return { request, text };
}

function readPartial(cursor: CommandCursor): { offset: number; length: number } | undefined {
  if (!cursor.take("<")) return undefined;
  const offset = cursor.number32("a partial offset");
  cursor.expect(".");
  const length = cursor.number32("a partial length", true);
  cursor.expect(">");
  return { offset, length };
}

function isAttributeByte(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte === 0x2e;
}

async function readItem(cursor: CommandCursor, items: FetchItem[], allowMacro: boolean): Promise<void> {
  const name = cursor.span(isAttributeByte, "a fetch attribute").toUpperCase();
  if (allowMacro && MACROS[name]) {
    for (const kind of MACROS[name]) items.push({ kind } as FetchItem);
    return;
  }
  if (cursor.peekChar("[")) {
    const binary = name === "BINARY" || name === "BINARY.PEEK" || name === "BINARY.SIZE";
    if (!binary && name !== "BODY" && name !== "BODY.PEEK") throw new ParseError(`Unknown fetch attribute ${name}`);
    const { request, text } = await readSection(cursor, binary);
    if (name === "BINARY.SIZE") {
      items.push({ kind: "binary-size", label: `BINARY.SIZE[${text}]`, request: { ...request, binary: true, sizeOnly: true } });
      return;
    }
    const partial = readPartial(cursor);
    if (partial) request.partial = partial;
    if (binary) request.binary = true;
    const base = binary ? "BINARY" : "BODY";
    items.push({
      kind: "section",
      label: `${base}[${text}]${partial ? `<${partial.offset}>` : ""}`,
      request,
      peek: name.endsWith(".PEEK"),
      binary,
    });
    return;
  }
  if (name === "RFC822") items.push({ kind: "section", label: "RFC822", request: { part: [], specifier: "" }, peek: false, binary: false });
  else if (name === "RFC822.HEADER") items.push({ kind: "section", label: "RFC822.HEADER", request: { part: [], specifier: "HEADER" }, peek: true, binary: false });
  else if (name === "RFC822.TEXT") items.push({ kind: "section", label: "RFC822.TEXT", request: { part: [], specifier: "TEXT" }, peek: false, binary: false });
  else if (SIMPLE[name]) items.push({ kind: SIMPLE[name] } as FetchItem);
  else throw new ParseError(`Unknown fetch attribute ${name}`);
}

async function parseFetch(cursor: CommandCursor, session: Session): Promise<FetchArgs> {
  cursor.sp();
  const set = cursor.sequenceSet();
  cursor.sp();
  const items: FetchItem[] = [];
  if (cursor.peekChar("(")) await cursor.list(() => readItem(cursor, items, false));
  else await readItem(cursor, items, true);
  let changedSince: number | null = null;
  let vanished = false;
  if (cursor.take(" ")) {
    await cursor.list(() => {
      const modifier = cursor.keyword("a fetch modifier");
      if (modifier === "CHANGEDSINCE") {
        cursor.sp();
        changedSince = cursor.number("a mod-sequence");
      } else if (modifier === "VANISHED") {
        if (!session.qresync) throw new ParseError("VANISHED needs QRESYNC enabled");
        vanished = true;
      } else throw new ParseError(`Unknown fetch modifier ${modifier}`);
    });
    if (vanished && changedSince === null) throw new ParseError("VANISHED needs CHANGEDSINCE");
  }
  cursor.end();
  if (items.filter((item) => item.kind === "section" || item.kind === "binary-size").length > session.limits.maxFetchSections) {
    throw new ParseError("Too many body sections");
  }
  return { set, items, changedSince, vanished };
}

async function runFetch(session: Session, args: FetchArgs, byUid: boolean): Promise<void> {
  const selected = session.requireSelected();
  const mailbox = session.requireMailbox();
  const tracker = selected.tracker;
  const items = [...args.items];
  if (byUid && !items.some((item) => item.kind === "uid")) items.unshift({ kind: "uid" });
  if (args.changedSince !== null) {
    session.enabled.add("CONDSTORE");
    if (!items.some((item) => item.kind === "modseq")) items.push({ kind: "modseq" });
  }
  if (items.some((item) => item.kind === "modseq")) session.enabled.add("CONDSTORE");
  const uids = tracker.resolve(args.set, byUid, session.savedSearch);
  if (args.vanished && args.changedSince !== null) {
    // RFC 7162 §3.2.6: expunged UIDs in the set since the given modseq.
    const changes = await storeCall(() => mailbox.changesSince(selected.name, args.changedSince as number));
    const requested = new Set(byUid ? [] : uids);
    const inSet = changes.expunged.filter((uid) => (byUid ? inRanges(args.set, uid) : requested.has(uid)));
    if (inSet.length > 0) session.out.untagged(`VANISHED (EARLIER) ${formatUidSet(inSet)}`);
  }
  if (uids.length === 0) return;

  const sections = items.filter((item) => item.kind === "section" || item.kind === "binary-size");
  const setsSeen = !selected.readOnly && sections.some((item) => item.kind === "section" && !item.peek);
  const seenChanged = new Set<number>();
  if (setsSeen) {
    const result = await storeCall(() => mailbox.storeFlags(selected.name, toUidSet(uids), { op: "add", flags: ["\\Seen"] }));
    for (const change of result.changed) {
      seenChanged.add(change.uid);
      tracker.markReported(change.uid, change.modseq);
    }
  }
  const wantFlags = items.some((item) => item.kind === "flags") || seenChanged.size > 0;
  const options: FetchOptions = {
    flags: wantFlags,
    internalDate: items.some((item) => item.kind === "internaldate"),
    size: items.some((item) => item.kind === "size"),
    modseq: items.some((item) => item.kind === "modseq") || (session.condstore && wantFlags),
    envelope: items.some((item) => item.kind === "envelope"),
    bodyStructure: items.some((item) => item.kind === "body" || item.kind === "bodystructure"),
    sections: sections.map((item) => (item as { request: BodySectionRequest }).request),
    changedSince: args.changedSince ?? undefined,
  };
  try {
    await writeMessages(session, items, uids, options, seenChanged);
  } catch (error) {
    // RFC 3516 §4.3: a BINARY section whose encoding cannot be undone is NO [UNKNOWN-CTE].
    if (error instanceof StoreError && error.kind === "invalid" && items.some((item) => item.kind === "section" && item.binary)) {
      throw new CommandError("NO", "UNKNOWN-CTE", "Cannot decode this part's content-transfer-encoding.");
    }
    throw storeErrorToCommandError(error);
  }
}

async function writeMessages(session: Session, items: FetchItem[], uids: number[], options: FetchOptions, seenChanged: Set<number>): Promise<void> {
  const selected = session.requireSelected();
  const mailbox = session.requireMailbox();
  const tracker = selected.tracker;
  const out = session.out;
  const condstore = session.condstore;
  const flagsRequested = items.some((item) => item.kind === "flags");
  const modseqRequested = items.some((item) => item.kind === "modseq");
  // The store answers in ascending UID order, like the tracker: a moving hint makes each lookup O(1).
  let hint = 0;
  for await (const message of mailbox.fetch(selected.name, toUidSet(uids), options)) {
    const uid = message.uid;
    let seq: number;
    if (tracker.uids[hint] === uid) seq = hint + 1;
    else seq = tracker.seqOf(uid);
    if (seq === 0) {
      for (const section of message.sections ?? []) for await (const _chunk of section.chunks) void _chunk;
      continue;
    }
    hint = seq;
    // RFC 3501 §7.2.6: a keyword another session just defined is announced before this response uses it.
    if (message.flags) tracker.announceKeywords(message.flags, out, selected.readOnly);
    // Every token below is ASCII, and ENVELOPE/BODYSTRUCTURE are formatted as one character per
    // byte: the line is built as one latin1 string and encoded once, literals in between.
    let text = `* ${seq} FETCH (`;
    let sep = "";
    if (!flagsRequested && seenChanged.has(uid)) {
      // RFC 3501 §6.4.5: the \Seen this FETCH set is reported with it; first, as Dovecot does.
      text += `FLAGS ${formatFlags(tracker.flagsOf(uid, message.flags ?? []))}`;
      if (condstore && !modseqRequested) text += ` MODSEQ (${message.modseq ?? 0})`;
      sep = " ";
    }
    let sectionIndex = 0;
    for (const item of items) {
      switch (item.kind) {
        case "uid":
          text += `${sep}UID ${uid}`;
          break;
        case "flags":
          text += `${sep}FLAGS ${formatFlags(tracker.flagsOf(uid, message.flags ?? []))}`;
          break;
        case "internaldate":
          text += `${sep}INTERNALDATE ${formatInternalDate(message.internalDate ?? new Date(0))}`;
          break;
        case "size":
          text += `${sep}RFC822.SIZE ${message.size ?? 0}`;
          break;
        case "modseq":
          text += `${sep}MODSEQ (${message.modseq ?? 0})`;
          break;
        case "envelope":
          if (!message.envelope) continue;
          text += `${sep}ENVELOPE ${envelopeText(message.envelope)}`;
          break;
        case "body":
        case "bodystructure":
          if (!message.bodyStructure) continue;
          text += `${sep}${item.kind === "body" ? "BODY " : "BODYSTRUCTURE "}${bodyText(message.bodyStructure, item.kind === "bodystructure")}`;
          break;
        case "binary-size": {
          const section = message.sections?.[sectionIndex++];
          text += `${sep}${item.label} ${section?.size ?? 0}`;
          if (section) for await (const _chunk of section.chunks) void _chunk;
          break;
        }
        case "section": {
          const section = message.sections?.[sectionIndex++];
          if (!section) {
            text += `${sep}${item.label} NIL`;
            break;
          }
          out.writeLatin1(`${text}${sep}${item.label} ${item.binary ? "~" : ""}{${section.size}}\r\n`);
          text = "";
          let written = -1;
          try {
            written = await out.writeChunks(section.chunks);
          } finally {
            if (written !== section.size) {
              // The literal's length was already promised: the connection cannot continue.
              session.logger.error({ uid }, "body section ended early or ran long");
              session.destroy();
            }
          }
          if (written !== section.size) throw new ConnectionClosedError();
          break;
        }
      }
      sep = " ";
    }
    if (flagsRequested && condstore && !modseqRequested && message.modseq !== undefined) {
      text += ` MODSEQ (${message.modseq})`;
    }
    out.writeLatin1(`${text})\r\n`);
    const flushed = out.maybeFlush();
    if (flushed) await flushed;
  }
}

/**
 * ENVELOPE and BODY/BODYSTRUCTURE text by structure object. A store hands out
 * one shared, read-only object per stored message content (types.ts), so a
 * message fetched again is formatted once. The object itself is the key: a
 * hit is always the same data, and the text is collected with the object.
 * The text depends on nothing of the session (8-bit values are literals with
 * or without UTF8=ACCEPT).
 */
const envelopeTexts = new WeakMap<EnvelopeData, string>();
const bodyTexts = new WeakMap<BodyStructureData, string>();
const bodyStructureTexts = new WeakMap<BodyStructureData, string>();

function envelopeText(envelope: EnvelopeData): string {
  let text = envelopeTexts.get(envelope);
  if (text === undefined) envelopeTexts.set(envelope, (text = formatEnvelope(envelope)));
  return text;
}

function bodyText(body: BodyStructureData, extensible: boolean): string {
  const texts = extensible ? bodyStructureTexts : bodyTexts;
  let text = texts.get(body);
  if (text === undefined) texts.set(body, (text = formatBodyStructure(body, extensible)));
  return text;
}

function inRanges(set: SequenceSet, uid: number): boolean {
  if (set.saved) return false;
  return set.ranges.some((range) => {
    const start = range.start === "*" ? Infinity : range.start;
    const end = range.end === "*" ? Infinity : range.end;
    return uid >= Math.min(start, end) && uid <= Math.max(start, end);
  });
}

export const fetchCommand = defineCommand<FetchArgs>({
  name: "FETCH",
  states: SELECTED,
  usesSequenceNumbers: true,
  breaksSequenceNumbers: false,
  parse: parseFetch,
  execute: (session, _tag, args) => runFetch(session, args, false),
});

export const uidFetchCommand = defineCommand<FetchArgs>({
  name: "UID FETCH",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseFetch,
  execute: (session, _tag, args) => runFetch(session, args, true),
});
