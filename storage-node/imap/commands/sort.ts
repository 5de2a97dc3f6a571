/** SORT and UID SORT (RFC 5256 §3), with RFC 5957 DISPLAYFROM/DISPLAYTO. */
import type { SortKey, SortKeyName } from "../../store/types.ts";
import { SELECTED, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall } from "../store-error-codes.ts";
import { ParseError, type CommandCursor } from "../wire/command-cursor.ts";
import { SearchParser, readCharset, type SearchCriteria } from "./search-criteria.ts";

const SORT_KEYS: Record<string, SortKeyName> = {
  ARRIVAL: "arrival",
  CC: "cc",
  DATE: "date",
  FROM: "from",
  SIZE: "size",
  SUBJECT: "subject",
  TO: "to",
  DISPLAYFROM: "display-from",
  DISPLAYTO: "display-to",
};

interface SortArgs {
  keys: SortKey[];
  criteria: SearchCriteria;
}

async function parseSort(cursor: CommandCursor, session: Session): Promise<SortArgs> {
  cursor.sp();
  const keys: SortKey[] = [];
  await cursor.list(() => {
    let name = cursor.keyword("a sort key");
    let reverse = false;
    if (name === "REVERSE") {
      reverse = true;
      cursor.sp();
      name = cursor.keyword("a sort key");
    }
    const key = SORT_KEYS[name];
    if (!key) throw new ParseError(`Unknown sort key ${name}`);
    keys.push(reverse ? { key, reverse } : { key });
  });
  if (keys.length === 0) throw new ParseError("Empty sort criteria");
  cursor.sp();
  await readCharset(cursor);
  cursor.sp();
  const criteria = await new SearchParser(cursor, session).readAll();
  return { keys, criteria };
}

async function runSort(session: Session, args: SortArgs, byUid: boolean): Promise<void> {
  const selected = session.requireSelected();
  const mailbox = session.requireMailbox();
  const sorted = await storeCall(() => mailbox.sort(selected.name, args.keys, args.criteria.key));
  const numbers = sorted.map((uid) => (byUid ? (selected.tracker.seqOf(uid) > 0 ? uid : 0) : selected.tracker.seqOf(uid))).filter((n) => n > 0);
  session.out.untagged(`SORT${numbers.length > 0 ? " " + numbers.join(" ") : ""}`);
}

export const sortCommand = defineCommand<SortArgs>({
  name: "SORT",
  states: SELECTED,
  usesSequenceNumbers: true,
  breaksSequenceNumbers: false,
  parse: parseSort,
  execute: (session, _tag, args) => runSort(session, args, false),
});

export const uidSortCommand = defineCommand<SortArgs>({
  name: "UID SORT",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseSort,
  execute: (session, _tag, args) => runSort(session, args, true),
});
