/**
 * SELECT and EXAMINE (RFC 3501 §6.3.1–2), with the CONDSTORE parameter
 * (RFC 7162 §3.1.8) and QRESYNC resynchronisation (RFC 7162 §3.2.5).
 *
 * FLAGS/PERMANENTFLAGS list the folder's keywords (RFC 3501 §7.2.6). \Recent
 * (§2.3.2): SELECT claims the messages no session has claimed yet, EXAMINE
 * only looks at them (RFC 3501 §6.3.2: it changes no \Recent state), and
 * under IMAP4rev2 there is no RECENT (RFC 9051 §6.3.2).
 */
import { AUTHENTICATED, CommandError, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall } from "../store-error-codes.ts";
import { writeMailboxFlags } from "../mailbox-flags.ts";
import { SequenceTracker, type RecentMode } from "../tracker.ts";
import { ParseError, type CommandCursor, type SequenceSet } from "../wire/command-cursor.ts";
import { formatFlags, formatUidSet } from "../wire/format.ts";
import { encodeMailboxName } from "../wire/mailbox-name.ts";
import { encodeString } from "../wire/response-writer.ts";
import { readMailboxName } from "./mailbox-argument.ts";

interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids: SequenceSet | null;
}

interface SelectArgs {
  mailbox: string;
  condstore: boolean;
  qresync: QresyncParams | null;
}

async function parseSelect(cursor: CommandCursor, session: Session): Promise<SelectArgs> {
  cursor.sp();
  const mailbox = await readMailboxName(cursor, session);
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (cursor.take(" ")) {
    await cursor.list(async () => {
      const name = cursor.keyword("a select parameter");
      if (name === "CONDSTORE") condstore = true;
      else if (name === "QRESYNC") {
        if (!session.qresync) throw new ParseError("QRESYNC is not enabled");
        cursor.sp();
        cursor.expect("(");
        const uidValidity = cursor.number32("a UIDVALIDITY", true);
        cursor.sp();
        const modseq = cursor.number("a mod-sequence");
        let knownUids: SequenceSet | null = null;
        if (cursor.take(" ") && !cursor.peekChar("(")) {
          knownUids = cursor.sequenceSet();
          cursor.take(" ");
        }
        if (cursor.peekChar("(")) {
          // The sequence-match data only helps servers without tombstones; ours keeps them.
          cursor.expect("(");
          cursor.sequenceSet();
          cursor.sp();
          cursor.sequenceSet();
          cursor.expect(")");
        }
        cursor.expect(")");
        qresync = { uidValidity, modseq, knownUids };
      } else throw new ParseError(`Unknown select parameter ${name}`);
    });
  }
  cursor.end();
  return { mailbox, condstore, qresync };
}

async function executeSelect(session: Session, args: SelectArgs, readOnly: boolean): Promise<{ code: string; text: string }> {
  const mailbox = session.requireMailbox();
  if (session.selected) {
    // RFC 7162 §3.2.11: tell the client where the old mailbox's responses end.
    session.selected = null;
    session.state = "authenticated";
    mailbox.follow(null, 0);
    session.out.untagged("OK [CLOSED] Previous mailbox closed.");
  }
  if (args.condstore) session.enabled.add("CONDSTORE");
  // RFC 5182 §2.1: SELECT and EXAMINE reset the saved search result.
  session.savedSearch = null;
  // One store call: one wait, and no other session's write lands between the answers.
  const recentMode = session.rev2 ? null : readOnly ? "peek" : "claim";
  session.beginSelect(args.mailbox);
  try {
    await openSelection(session, args, readOnly, recentMode);
  } finally {
    session.endSelect();
  }
  return { code: readOnly ? "READ-ONLY" : "READ-WRITE", text: `${readOnly ? "EXAMINE" : "SELECT"} completed.` };
}

/** Reads the folder (one store call), writes the untagged SELECT data and makes it the selected folder. */
async function openSelection(session: Session, args: SelectArgs, readOnly: boolean, recentMode: RecentMode): Promise<void> {
  const mailbox = session.requireMailbox();
  const { status, uids, recent } = await storeCall(() => mailbox.select(args.mailbox, { recent: recentMode }));
  const tracker = new SequenceTracker(uids, status.highestModseq);
  tracker.setKeywords(status.keywords);
  if (recent !== null) {
    tracker.recentMode = recentMode;
    tracker.addRecent(recent);
  }
  const out = session.out;
  writeMailboxFlags(out, tracker.keywords, readOnly);
  out.untagged(`${uids.length} EXISTS`);
  if (session.rev2) {
    // RFC 9051 §6.3.2: the canonical name in a LIST response; no RECENT, no UNSEEN.
    out.untagged("LIST () \"/\" ", encodeString(encodeMailboxName(args.mailbox, true), { utf8: true }));
  } else tracker.reportRecent(out, true);
  if (!session.rev2 && status.firstUnseenUid !== null) {
    const seq = tracker.seqOf(status.firstUnseenUid);
    if (seq > 0) out.untagged(`OK [UNSEEN ${seq}] First unseen.`);
  }
  out.untagged(`OK [UIDVALIDITY ${status.uidValidity}] UIDs valid.`);
  out.untagged(`OK [UIDNEXT ${status.uidNext}] Predicted next UID.`);
  if (session.condstore) out.untagged(`OK [HIGHESTMODSEQ ${status.highestModseq}] Highest.`);
  if (args.qresync && args.qresync.uidValidity === status.uidValidity) {
    await resynchronise(session, args.mailbox, tracker, args.qresync, readOnly);
  }
  session.selected = { name: args.mailbox, readOnly, tracker };
  session.state = "selected";
  mailbox.follow(args.mailbox, tracker.modseq);
}

/** RFC 7162 §3.2.5.1: VANISHED (EARLIER) for expunged known UIDs, FETCH for changed ones. */
async function resynchronise(session: Session, folder: string, tracker: SequenceTracker, params: QresyncParams, readOnly: boolean): Promise<void> {
  const mailbox = session.requireMailbox();
  const changes = await storeCall(() => mailbox.changesSince(folder, params.modseq));
  tracker.announceKeywords(changes.keywords, session.out, readOnly);
  let vanished = changes.expunged;
  if (params.knownUids && !params.knownUids.saved) {
    const ranges = params.knownUids.ranges;
    vanished = vanished.filter((uid) =>
      ranges.some((range) => {
        const start = range.start === "*" ? Infinity : range.start;
        const end = range.end === "*" ? Infinity : range.end;
        return uid >= Math.min(start, end) && uid <= Math.max(start, end);
      }),
    );
  }
  if (vanished.length > 0) session.out.untagged(`VANISHED (EARLIER) ${formatUidSet(vanished)}`);
  for (const change of changes.changed) {
    const seq = tracker.seqOf(change.uid);
    if (seq === 0) continue;
    session.out.untagged(`${seq} FETCH (UID ${change.uid} FLAGS ${formatFlags(tracker.flagsOf(change.uid, change.flags))} MODSEQ (${change.modseq}))`);
  }
}

export const selectCommand = defineCommand<SelectArgs>({
  name: "SELECT",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: true,
  parse: parseSelect,
  execute: (session, _tag, args) => executeSelect(session, args, false),
});

export const examineCommand = defineCommand<SelectArgs>({
  name: "EXAMINE",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: true,
  parse: parseSelect,
  execute: (session, _tag, args) => executeSelect(session, args, true),
});

/** CLOSE (RFC 3501 §6.4.2): silent expunge when read-write, then back to authenticated. */
export const closeCommand = defineCommand<void>({
  name: "CLOSE",
  states: ["selected"],
  usesSequenceNumbers: false,
  breaksSequenceNumbers: true,
  async parse(cursor) {
    cursor.end();
  },
  async execute(session) {
    const selected = session.requireSelected();
    // RFC 7162 §3.2.10 (QRESYNC): HIGHESTMODSEQ in the tagged OK. CLOSE sends no
    // EXPUNGE, so the value is the one from before its expunge: a resync from it
    // reports what CLOSE removed as VANISHED (EARLIER).
    const resyncModseq = selected.tracker.resyncModseq;
    const mailbox = session.requireMailbox();
    session.selected = null;
    session.savedSearch = null;
    session.state = "authenticated";
    mailbox.follow(null, 0);
    if (!selected.readOnly) await storeCall(() => mailbox.expunge(selected.name));
    return session.qresync ? { code: `HIGHESTMODSEQ ${resyncModseq}`, text: "CLOSE completed." } : undefined;
  },
});

/** UNSELECT (RFC 3691): like CLOSE without the expunge. */
export const unselectCommand = defineCommand<void>({
  name: "UNSELECT",
  states: ["selected"],
  usesSequenceNumbers: false,
  breaksSequenceNumbers: true,
  async parse(cursor) {
    cursor.end();
  },
  async execute(session) {
    if (!session.selected) throw new CommandError("BAD", null, "No mailbox selected");
    session.selected = null;
    session.savedSearch = null;
    session.state = "authenticated";
    session.requireMailbox().follow(null, 0);
  },
});
