/**
 * SEARCH and UID SEARCH (RFC 3501 §6.4.4) with ESEARCH return options
 * (RFC 4731), SEARCHRES (RFC 5182) and the MODSEQ result (RFC 7162 §3.1.5).
 */
import { SELECTED, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall, storeIterable } from "../store-error-codes.ts";
import { toUidSet } from "../tracker.ts";
import { ParseError, type CommandCursor } from "../wire/command-cursor.ts";
import { encodeString } from "../wire/response-writer.ts";
import { formatUidSet } from "../wire/format.ts";
import { SearchParser, readCharset, type SearchCriteria } from "./search-criteria.ts";

type ReturnOption = "MIN" | "MAX" | "ALL" | "COUNT" | "SAVE";

interface SearchArgs {
  /** null: plain SEARCH response; a list (possibly empty): ESEARCH (RFC 4731 §3.1). */
  returnOptions: ReturnOption[] | null;
  criteria: SearchCriteria;
}

async function parseSearch(cursor: CommandCursor, session: Session): Promise<SearchArgs> {
  cursor.sp();
  let returnOptions: ReturnOption[] | null = null;
  if (/^RETURN \(/i.test(peekText(cursor))) {
    cursor.keyword();
    cursor.sp();
    returnOptions = [];
    const options = returnOptions;
    await cursor.list(() => {
      const option = cursor.keyword("a return option");
      if (!["MIN", "MAX", "ALL", "COUNT", "SAVE"].includes(option)) throw new ParseError(`Unknown return option ${option}`);
      options.push(option as ReturnOption);
    });
    cursor.sp();
  }
  if (/^CHARSET /i.test(peekText(cursor))) {
    cursor.keyword();
    cursor.sp();
    await readCharset(cursor);
    cursor.sp();
  }
  const criteria = await new SearchParser(cursor, session).readAll();
  return { returnOptions, criteria };
}

/** The next few bytes of the line, for look-ahead on optional keywords. */
function peekText(cursor: CommandCursor): string {
  return cursor.lookahead(16);
}

async function runSearch(session: Session, tag: string, args: SearchArgs, byUid: boolean): Promise<void> {
  const selected = session.requireSelected();
  const mailbox = session.requireMailbox();
  const tracker = selected.tracker;
  const found = await storeCall(() => mailbox.search(selected.name, args.criteria.key));
  // Only messages this client has been told about (RFC 3501 §7.4.1 ordering).
  const uids = found.filter((uid) => tracker.seqOf(uid) > 0).sort((a, b) => a - b);
  let highestModseq = 0;
  if (args.criteria.usesModseq && uids.length > 0) {
    for await (const message of storeIterable(mailbox.fetch(selected.name, toUidSet(uids), { modseq: true }))) {
      highestModseq = Math.max(highestModseq, message.modseq ?? 0);
    }
  }
  const numbers = byUid ? uids : uids.map((uid) => tracker.seqOf(uid));
  // RFC 9051 §6.4.4: under IMAP4rev2 every SEARCH answers with ESEARCH.
  const options = args.returnOptions ?? (session.rev2 ? [] : null);
  if (options === null) {
    const modseq = highestModseq > 0 ? ` (MODSEQ ${highestModseq})` : "";
    session.out.untagged(`SEARCH${numbers.length > 0 ? " " + numbers.join(" ") : ""}${modseq}`);
    return;
  }
  const effective = options.length === 0 ? (["ALL"] as ReturnOption[]) : options;
  if (effective.includes("SAVE")) {
    // RFC 5182 §2.4: with only MIN/MAX, only those are saved.
    const onlyMinMax = !effective.includes("ALL") && !effective.includes("COUNT") && (effective.includes("MIN") || effective.includes("MAX"));
    if (onlyMinMax && uids.length > 0) {
      const saved = new Set<number>();
      if (effective.includes("MIN")) saved.add(uids[0]);
      if (effective.includes("MAX")) saved.add(uids[uids.length - 1]);
      session.savedSearch = [...saved].sort((a, b) => a - b);
    } else session.savedSearch = uids;
    if (effective.every((option) => option === "SAVE")) return;
  }
  const parts = ["ESEARCH (TAG ", encodeString(tag).toString("latin1"), ")", byUid ? " UID" : ""];
  if (effective.includes("MIN") && numbers.length > 0) parts.push(` MIN ${numbers[0]}`);
  if (effective.includes("MAX") && numbers.length > 0) parts.push(` MAX ${numbers[numbers.length - 1]}`);
  if (effective.includes("ALL") && numbers.length > 0) parts.push(` ALL ${formatUidSet(numbers)}`);
  if (effective.includes("COUNT")) parts.push(` COUNT ${numbers.length}`);
  if (highestModseq > 0) parts.push(` MODSEQ ${highestModseq}`);
  session.out.untagged(parts.join(""));
}

export const searchCommand = defineCommand<SearchArgs>({
  name: "SEARCH",
  states: SELECTED,
  usesSequenceNumbers: true,
  breaksSequenceNumbers: false,
  parse: parseSearch,
  execute: (session, tag, args) => runSearch(session, tag, args, false),
});

export const uidSearchCommand = defineCommand<SearchArgs>({
  name: "UID SEARCH",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseSearch,
  execute: (session, tag, args) => runSearch(session, tag, args, true),
});
