/**
 * STORE and UID STORE (RFC 3501 §6.4.6) with UNCHANGEDSINCE and MODIFIED
 * (RFC 7162 §3.1.3).
 *
 * \Recent is not a `flag` in the STORE grammar (RFC 3501 §9: it is only in
 * flag-fetch), so it is refused with BAD, as Dovecot does. A keyword new to
 * the folder is announced in FLAGS before the FETCH responses (§7.2.6), also
 * with .SILENT.
 */
import { CommandError, SELECTED, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall, storeIterable } from "../store-error-codes.ts";
import { toUidSet } from "../tracker.ts";
import { ParseError, type CommandCursor, type SequenceSet } from "../wire/command-cursor.ts";
import { formatFlags, formatUidSet } from "../wire/format.ts";

interface StoreArgs {
  set: SequenceSet;
  unchangedSince: number | null;
  op: "add" | "remove" | "replace";
  silent: boolean;
  flags: string[];
}

async function parseStore(cursor: CommandCursor): Promise<StoreArgs> {
  cursor.sp();
  const set = cursor.sequenceSet();
  cursor.sp();
  let unchangedSince: number | null = null;
  if (cursor.peekChar("(")) {
    await cursor.list(() => {
      if (cursor.keyword("a store modifier") !== "UNCHANGEDSINCE") throw new ParseError("Unknown STORE modifier");
      cursor.sp();
      unchangedSince = cursor.number("a mod-sequence");
    });
    cursor.sp();
  }
  let op: StoreArgs["op"] = "replace";
  if (cursor.take("+")) op = "add";
  else if (cursor.take("-")) op = "remove";
  const item = cursor.keyword("FLAGS");
  if (item !== "FLAGS" && item !== "FLAGS.SILENT") throw new ParseError("Expected FLAGS or FLAGS.SILENT");
  cursor.sp();
  const flags: string[] = [];
  const add = (): void => {
    flags.push(readStoredFlag(cursor));
  };
  if (cursor.peekChar("(")) await cursor.list(add);
  else {
    add();
    while (cursor.take(" ")) add();
  }
  cursor.end();
  return { set, unchangedSince, op, silent: item === "FLAGS.SILENT", flags };
}

/** One flag a client may set (RFC 3501 §9 `flag`): never \Recent. Shared by STORE and APPEND. */
export function readStoredFlag(cursor: CommandCursor): string {
  const flag = cursor.messageFlag();
  if (flag.toLowerCase() === "\\recent") throw new ParseError("\\Recent cannot be set by a client");
  return flag;
}

async function runStore(session: Session, args: StoreArgs, byUid: boolean): Promise<{ code: string | null; text: string }> {
  const selected = session.requireSelected();
  const mailbox = session.requireMailbox();
  if (selected.readOnly) throw new CommandError("NO", "READ-ONLY", "Mailbox is read-only.");
  if (args.unchangedSince !== null) session.enabled.add("CONDSTORE");
  const uids = selected.tracker.resolve(args.set, byUid, session.savedSearch);
  if (uids.length === 0) return { code: null, text: "STORE completed." };
  const result = await storeCall(() =>
    mailbox.storeFlags(selected.name, toUidSet(uids), {
      op: args.op,
      flags: args.flags,
      unchangedSince: args.unchangedSince ?? undefined,
    }),
  );
  for (const change of result.changed) selected.tracker.markReported(change.uid, change.modseq);
  const tracker = selected.tracker;
  // Adding or replacing gives every changed message all of the STORE's flags: the first one names any new keyword.
  if (args.op !== "remove" && result.changed.length > 0) tracker.announceKeywords(result.changed[0].flags, session.out, false);
  const withModseq = session.condstore;
  if (!args.silent) {
    const modified = new Set(result.modified);
    const shown = uids.filter((uid) => !modified.has(uid));
    const changed = new Map(result.changed.map((change) => [change.uid, change]));
    // Every shown message changed: the store's answer already holds its flags and
    // modseq, so no second trip to the store. Otherwise the unchanged ones are read.
    const messages = shown.every((uid) => changed.has(uid))
      ? shown.map((uid) => changed.get(uid)!)
      : storeIterable(mailbox.fetch(selected.name, toUidSet(shown), { flags: true, modseq: withModseq }));
    for await (const message of messages) {
      const seq = tracker.seqOf(message.uid);
      if (seq === 0) continue;
      if (message.flags) tracker.announceKeywords(message.flags, session.out, false);
      const parts = [`FLAGS ${formatFlags(tracker.flagsOf(message.uid, message.flags ?? []))}`];
      if (byUid) parts.unshift(`UID ${message.uid}`);
      if (withModseq && message.modseq !== undefined) parts.push(`MODSEQ (${message.modseq})`);
      session.out.untagged(`${seq} FETCH (${parts.join(" ")})`);
      await session.out.maybeFlush();
    }
  } else if (withModseq) {
    // RFC 7162 §3.1.3: even with .SILENT, the new MODSEQ of each changed message is reported.
    for (const change of result.changed) {
      const seq = tracker.seqOf(change.uid);
      if (seq > 0) session.out.untagged(`${seq} FETCH (${byUid ? `UID ${change.uid} ` : ""}MODSEQ (${change.modseq}))`);
    }
  }
  if (result.modified.length > 0) {
    const numbers = byUid ? result.modified : result.modified.map((uid) => tracker.seqOf(uid)).filter((seq) => seq > 0);
    return { code: `MODIFIED ${formatUidSet(numbers)}`, text: "Conditional STORE failed for some messages." };
  }
  return { code: null, text: "STORE completed." };
}

export const storeCommand = defineCommand<StoreArgs>({
  name: "STORE",
  states: SELECTED,
  usesSequenceNumbers: true,
  breaksSequenceNumbers: false,
  parse: parseStore,
  execute: (session, _tag, args) => runStore(session, args, false),
});

export const uidStoreCommand = defineCommand<StoreArgs>({
  name: "UID STORE",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseStore,
  execute: (session, _tag, args) => runStore(session, args, true),
});
