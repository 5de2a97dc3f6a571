/**
 * EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1).
 *
 * Under QRESYNC the tagged OK carries [HIGHESTMODSEQ n] (RFC 7162 §3.2.10):
 * the session is brought up to date first, and n is the tracker's
 * `resyncModseq`, so it never passes a change this client was not told about.
 */
import { CommandError, SELECTED, defineCommand, type CommandResult } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall } from "../store-error-codes.ts";
import { toUidSet } from "../tracker.ts";
import type { SequenceSet } from "../wire/command-cursor.ts";

async function runExpunge(session: Session, set: SequenceSet | null): Promise<CommandResult | undefined> {
  const selected = session.requireSelected();
  const mailbox = session.requireMailbox();
  if (selected.readOnly) throw new CommandError("NO", "READ-ONLY", "Mailbox is read-only.");
  let expunged: number[];
  if (set) {
    const uids = selected.tracker.resolve(set, true, session.savedSearch);
    expunged = uids.length === 0 ? [] : await storeCall(() => mailbox.expunge(selected.name, toUidSet(uids)));
  } else {
    expunged = await storeCall(() => mailbox.expunge(selected.name));
  }
  selected.tracker.reportExpunged(expunged, session.out, session.qresync);
  if (!session.qresync) return undefined;
  session.markSelectedDirty();
  await session.syncSelected(true);
  return { code: `HIGHESTMODSEQ ${selected.tracker.resyncModseq}`, text: set ? "UID EXPUNGE completed." : "EXPUNGE completed." };
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
