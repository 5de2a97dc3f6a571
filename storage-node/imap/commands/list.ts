/**
 * LIST (RFC 3501 §6.3.8) with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819),
 * SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348); LSUB (RFC 3501 §6.3.9).
 *
 * Invariants:
 * - Parents that exist only as a path prefix of a real folder are listed as
 *   \Noselect \HasChildren (RFC 3501 §5.1), never hidden.
 * - "%" stops at the "/" separator; "*" does not (RFC 3501 §6.3.8).
 */
import type { FolderData } from "../../store/types.ts";
import { AUTHENTICATED, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall } from "../store-error-codes.ts";
import { ParseError } from "../wire/command-cursor.ts";
import { encodeMailboxName } from "../wire/mailbox-name.ts";
import { encodeAstring } from "../wire/response-writer.ts";
import { readListPattern } from "./mailbox-argument.ts";
import { readStatusItems, writeStatus, type StatusItem } from "./status-items.ts";

interface ListArgs {
  lsub: boolean;
  /** Selection or return options were given (RFC 5258 extended LIST). */
  extended: boolean;
  selectSubscribed: boolean;
  selectSpecialUse: boolean;
  recursiveMatch: boolean;
  reference: string;
  patterns: string[];
  returnSubscribed: boolean;
  returnChildren: boolean;
  returnSpecialUse: boolean;
  returnStatus: StatusItem[] | null;
}

interface ListEntry {
  name: string;
  folder: FolderData | null;
  hasChildren: boolean;
  childSubscribed: boolean;
}

function patternToRegExp(pattern: string): RegExp {
  let source = "";
  for (const char of pattern) {
    if (char === "*") source += ".*";
    else if (char === "%") source += "[^/]*";
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, "s");
}

/** INBOX is case-insensitive in patterns as in names. */
function canonicalPattern(pattern: string): string {
  if (/^inbox(?=$|\/)/i.test(pattern)) return "INBOX" + pattern.slice(5);
  return pattern;
}

function combine(reference: string, pattern: string): string {
  if (pattern.startsWith("/") || reference === "") return pattern;
  return reference.endsWith("/") ? reference + pattern : `${reference}/${pattern}`;
}

async function parseList(cursor: import("../wire/command-cursor.ts").CommandCursor, session: Session, lsub: boolean): Promise<ListArgs> {
  const args: ListArgs = {
    lsub,
    extended: false,
    selectSubscribed: lsub,
    selectSpecialUse: false,
    recursiveMatch: false,
    reference: "",
    patterns: [],
    returnSubscribed: false,
    returnChildren: false,
    returnSpecialUse: false,
    returnStatus: null,
  };
  cursor.sp();
  if (!lsub && cursor.peekChar("(")) {
    args.extended = true;
    await cursor.list(() => {
      const option = cursor.keyword("a selection option");
      if (option === "SUBSCRIBED") args.selectSubscribed = true;
      else if (option === "SPECIAL-USE") args.selectSpecialUse = true;
      else if (option === "RECURSIVEMATCH") args.recursiveMatch = true;
      else if (option !== "REMOTE") throw new ParseError(`Unknown selection option ${option}`);
    });
    cursor.sp();
    // RFC 5258 §3: RECURSIVEMATCH needs another selection option.
    if (args.recursiveMatch && !args.selectSubscribed) throw new ParseError("RECURSIVEMATCH without SUBSCRIBED");
  }
  args.reference = await readListPattern(cursor, session);
  cursor.sp();
  if (!lsub && cursor.peekChar("(")) {
    await cursor.list(async () => {
      args.patterns.push(await readListPattern(cursor, session));
    });
  } else {
    args.patterns.push(await readListPattern(cursor, session));
  }
  if (!lsub && cursor.take(" ")) {
    if (cursor.keyword("RETURN") !== "RETURN") throw new ParseError("Expected RETURN");
    args.extended = true;
    cursor.sp();
    await cursor.list(async () => {
      const option = cursor.keyword("a return option");
      if (option === "SUBSCRIBED") args.returnSubscribed = true;
      else if (option === "CHILDREN") args.returnChildren = true;
      else if (option === "SPECIAL-USE") args.returnSpecialUse = true;
      else if (option === "STATUS") {
        cursor.sp();
        args.returnStatus = await readStatusItems(cursor);
      } else throw new ParseError(`Unknown return option ${option}`);
    });
  }
  cursor.end();
  return args;
}

function buildEntries(folders: FolderData[]): Map<string, ListEntry> {
  const entries = new Map<string, ListEntry>();
  for (const folder of folders) {
    entries.set(folder.name, { name: folder.name, folder, hasChildren: folder.hasChildren, childSubscribed: false });
  }
  for (const folder of folders) {
    const parts = folder.name.split("/");
    for (let depth = parts.length - 1; depth >= 1; depth--) {
      const parent = parts.slice(0, depth).join("/");
      let entry = entries.get(parent);
      if (!entry) {
        entry = { name: parent, folder: null, hasChildren: true, childSubscribed: false };
        entries.set(parent, entry);
      }
      entry.hasChildren = true;
      if (folder.subscribed) entry.childSubscribed = true;
    }
  }
  return entries;
}

async function executeList(session: Session, args: ListArgs): Promise<void> {
  const mailbox = session.requireMailbox();
  const out = session.out;
  const command = args.lsub ? "LSUB" : "LIST";
  // RFC 3501 §6.3.8: an empty pattern asks for the hierarchy delimiter.
  if (args.patterns.length === 1 && args.patterns[0] === "") {
    out.untagged(`${command} (\\Noselect) "/" ""`);
    return;
  }
  const folders = await storeCall(() => mailbox.listFolders());
  const entries = buildEntries(folders);
  const regexps = args.patterns.map((pattern) => patternToRegExp(canonicalPattern(combine(args.reference, pattern))));
  const names = [...entries.keys()].sort((a, b) => (a === "INBOX" ? -1 : b === "INBOX" ? 1 : a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    if (!regexps.some((regexp) => regexp.test(name))) continue;
    const entry = entries.get(name) as ListEntry;
    const folder = entry.folder;
    const attributes: string[] = [];
    const extended: string[] = [];
    if (args.selectSubscribed && !folder?.subscribed) {
      // RFC 5258 §3.5: with RECURSIVEMATCH a parent of a subscribed folder is listed with CHILDINFO.
      if (!(args.recursiveMatch && entry.childSubscribed)) continue;
      extended.push('("CHILDINFO" ("SUBSCRIBED"))');
    }
    if (args.selectSpecialUse && (!folder?.specialUse || folder.specialUse === "\\Inbox")) continue;
    // RFC 5258 §3: \NonExistent (which implies \Noselect) is for LIST-EXTENDED; plain LIST keeps RFC 3501's \Noselect.
    if (!folder) attributes.push(args.extended ? "\\NonExistent" : "\\Noselect");
    if (!args.lsub) attributes.push(entry.hasChildren ? "\\HasChildren" : "\\HasNoChildren");
    if (folder?.subscribed && !args.lsub && (args.selectSubscribed || args.returnSubscribed)) attributes.push("\\Subscribed");
    if (folder?.specialUse && folder.specialUse !== "\\Inbox" && !args.lsub) attributes.push(folder.specialUse);
    const wireName = encodeAstring(encodeMailboxName(name, session.utf8), { utf8: session.utf8 });
    out.untagged(`${command} (${attributes.join(" ")}) "/" `, wireName, extended.length > 0 ? ` ${extended.join(" ")}` : "");
    if (args.returnStatus && folder) {
      const status = await storeCall(() => mailbox.status(name));
      writeStatus(session, name, status, args.returnStatus);
    }
    await out.maybeFlush();
  }
}

export const listCommand = defineCommand<ListArgs>({
  name: "LIST",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: (cursor, session) => parseList(cursor, session, false),
  execute: (session, _tag, args) => executeList(session, args),
});

export const lsubCommand = defineCommand<ListArgs>({
  name: "LSUB",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: (cursor, session) => parseList(cursor, session, true),
  execute: (session, _tag, args) => executeList(session, args),
});
