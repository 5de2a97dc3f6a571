/**
 * COPY (RFC 3501 §6.4.7), MOVE (RFC 6851) and their UID forms, with COPYUID
 * (RFC 4315 §3).
 */
import { CommandError, SELECTED, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall } from "../store-error-codes.ts";
import { toUidSet } from "../tracker.ts";
import type { CommandCursor, SequenceSet } from "../wire/command-cursor.ts";
import { formatOrderedSet } from "../wire/format.ts";
import { readMailboxName } from "./mailbox-argument.ts";

interface CopyArgs {
  set: SequenceSet;
  destination: string;
}

async function parseCopy(cursor: CommandCursor, session: Session): Promise<CopyArgs> {
  cursor.sp();
  const set = cursor.sequenceSet();
  cursor.sp();
  const destination = await readMailboxName(cursor, session);
  cursor.end();
  return { set, destination };
}

async function runCopy(session: Session, args: CopyArgs, byUid: boolean, move: boolean): Promise<{ code: string | null; text: string }> {
  const selected = session.requireSelected();
  const mailbox = session.requireMailbox();
  if (move && selected.readOnly) throw new CommandError("NO", "READ-ONLY", "Mailbox is read-only.");
  const uids = selected.tracker.resolve(args.set, byUid, session.savedSearch);
  const verb = move ? "MOVE" : "COPY";
  if (uids.length === 0) return { code: null, text: `${verb} completed (no messages).` };
  let data;
  try {
    data = await storeCall(() => (move ? mailbox.move : mailbox.copy).call(mailbox, selected.name, toUidSet(uids), args.destination));
  } catch (error) {
    // RFC 3501 §6.4.7: a missing destination is TRYCREATE.
    if (error instanceof CommandError && error.code === "NONEXISTENT") throw new CommandError("NO", "TRYCREATE", "No such mailbox.");
    throw error;
  }
  const code = data.map.length > 0 ? `COPYUID ${data.uidValidity} ${formatOrderedSet(data.map.map(([from]) => from))} ${formatOrderedSet(data.map.map(([, to]) => to))}` : null;
  if (!move) return { code, text: "COPY completed." };
  // RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
  if (code) session.out.untagged(`OK [${code}] Moved.`);
  selected.tracker.reportExpunged(
    data.map.map(([from]) => from),
    session.out,
    session.qresync,
  );
  return { code: null, text: "MOVE completed." };
}

export const copyCommand = defineCommand<CopyArgs>({
  name: "COPY",
  states: SELECTED,
  usesSequenceNumbers: true,
  breaksSequenceNumbers: false,
  parse: parseCopy,
  execute: (session, _tag, args) => runCopy(session, args, false, false),
});

export const uidCopyCommand = defineCommand<CopyArgs>({
  name: "UID COPY",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseCopy,
  execute: (session, _tag, args) => runCopy(session, args, true, false),
});

export const moveCommand = defineCommand<CopyArgs>({
  name: "MOVE",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: true,
  parse: parseCopy,
  execute: (session, _tag, args) => runCopy(session, args, false, true),
});

export const uidMoveCommand = defineCommand<CopyArgs>({
  name: "UID MOVE",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: true,
  parse: parseCopy,
  execute: (session, _tag, args) => runCopy(session, args, true, true),
});
