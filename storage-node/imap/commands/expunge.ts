/** EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1). */
import { CommandError, SELECTED, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall } from "../store-error-codes.ts";
import { toUidSet } from "../tracker.ts";
import type { SequenceSet } from "../wire/command-cursor.ts";

async function runExpunge(session: Session, set: SequenceSet | null): Promise<void> {
  const selected = session.requireSelected();
  const mailbox = session.requireMailbox();
  if (selected.readOnly) throw new CommandError("NO", "READ-ONLY", "Mailbox is read-only.");
  let expunged: number[];
  if (set) {
    const uids = selected.tracker.resolve(set, true, session.savedSearch);
    if (uids.length === 0) return;
    expunged = await storeCall(() => mailbox.expunge(selected.name, toUidSet(uids)));
  } else {
    expunged = await storeCall(() => mailbox.expunge(selected.name));
  }
  selected.tracker.reportExpunged(expunged, session.out, session.qresync);
}

export const expungeCommand = defineCommand<void>({
  name: "EXPUNGE",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: true,
  async parse(cursor) {
    cursor.end();
  },
  execute: (session) => runExpunge(session, null),
});

export const uidExpungeCommand = defineCommand<SequenceSet>({
  name: "UID EXPUNGE",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: true,
  async parse(cursor) {
    cursor.sp();
    const set = cursor.sequenceSet();
    cursor.end();
    return set;
  },
  execute: (session, _tag, set) => runExpunge(session, set),
});
