/**
 * APPEND (RFC 3501 §6.3.11) with MULTIAPPEND (RFC 3502), APPENDUID (RFC 4315),
 * APPENDLIMIT (RFC 7889) and literal8 (RFC 3516 BINARY).
 *
 * Invariants:
 * - Each message literal is streamed from the socket into the store; it is
 *   never held whole in memory. Its size is checked against APPENDLIMIT before
 *   the "+" continuation (NO [TOOBIG]).
 * - A missing destination is reported as NO [TRYCREATE] (RFC 3501 §6.3.11),
 *   before any literal is accepted. The selected folder is not looked up
 *   first (it existed at the last sync); should another session delete it
 *   meanwhile, its NO [TRYCREATE] comes after the literal.
 * - MULTIAPPEND is all or nothing (RFC 3502 §6.3.11): the messages are staged
 *   in the store (Mailbox.appendBatch) and committed together after the last
 *   one; if any fails, none is written and no other session ever saw one.
 * - OK is sent only after the store resolved, i.e. the message is durable.
 * - \Recent in the flag list is BAD (RFC 3501 §9 `flag`); a keyword beyond the
 *   folder's limit is NO [LIMIT] (RFC 5530) and nothing is stored.
 */
import type { BatchAppendItem } from "../../store/types.ts";
import { AUTHENTICATED, CommandError, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeErrorToCommandError } from "../store-error-codes.ts";
import { ParseError, type CommandCursor, type StreamedLiteral } from "../wire/command-cursor.ts";
import { formatUidSet, parseDateTime } from "../wire/format.ts";
import { readMailboxName } from "./mailbox-argument.ts";
import { readStoredFlag } from "./store.ts";

interface AppendMessage {
  flags: string[];
  internalDate: Date | undefined;
  body: StreamedLiteral;
  /** The literal was written as UTF8 (...): a ")" follows it. */
  utf8Wrapped: boolean;
}

interface AppendArgs {
  mailbox: string;
  /** Pulls the next message (flags, date, streamed literal) from the command; null at its end. */
  next: () => Promise<AppendMessage | null>;
}

const DATE_LIMIT = { maxBytes: 64 };

async function readMessage(cursor: CommandCursor, session: Session): Promise<AppendMessage> {
  const flags: string[] = [];
  let internalDate: Date | undefined;
  if (cursor.peekChar("(")) {
    await cursor.list(() => {
      flags.push(readStoredFlag(cursor));
    });
    cursor.sp();
  }
  if (cursor.peekChar('"')) {
    const text = (await cursor.string(DATE_LIMIT)).toString("latin1");
    const date = parseDateTime(text);
    if (!date) throw new ParseError("Invalid date-time: expected \"dd-Mon-yyyy hh:mm:ss +zzzz\" naming a day that exists");
    internalDate = date;
    cursor.sp();
  }
  // RFC 6855 §4: "UTF8 (" literal8 ")" once UTF-8 is enabled.
  let utf8Wrapped = false;
  if (session.utf8 && /^UTF8 \(/i.test(cursor.lookahead(6))) {
    cursor.keyword();
    cursor.sp();
    cursor.expect("(");
    utf8Wrapped = true;
  }
  const marker = cursor.literalMarker();
  if (!marker || (utf8Wrapped && !marker.binary)) throw new ParseError("Expected a message literal");
  const body = await cursor.literalStream(marker, {
    maxBytes: session.limits.maxMessageBytes,
    tooBig: { status: "NO", code: "TOOBIG", message: "Message exceeds the APPENDLIMIT" },
  });
  return { flags, internalDate, body, utf8Wrapped };
}

/** A store call of APPEND: a missing destination is NO [TRYCREATE] (RFC 3501 §6.3.11). */
async function appendStoreCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const mapped = storeErrorToCommandError(error);
    if (mapped.code === "NONEXISTENT") throw new CommandError("NO", "TRYCREATE", "No such mailbox.");
    throw mapped;
  }
}

export const appendCommand = defineCommand<AppendArgs>({
  name: "APPEND",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor, session) {
    cursor.sp();
    const mailbox = await readMailboxName(cursor, session);
    cursor.sp();
    let count = 0;
    let finished = false;
    let wrapped = false;
    const next = async (): Promise<AppendMessage | null> => {
      if (finished) return null;
      if (count > 0) {
        // After a message literal: end of command, or SP and the next message (RFC 3502).
        await cursor.continueLine();
        if (wrapped) cursor.expect(")");
        if (cursor.atEnd()) {
          finished = true;
          return null;
        }
        cursor.sp();
        if (count >= session.limits.maxAppendMessages) throw new CommandError("NO", "LIMIT", "Too many messages in one APPEND");
      }
      count++;
      const message = await readMessage(cursor, session);
      wrapped = message.utf8Wrapped;
      return message;
    };
    return { mailbox, next };
  },
  async execute(session, _tag, args) {
    const mailbox = session.requireMailbox();
    if (session.selected?.name !== args.mailbox) await appendStoreCall(() => mailbox.status(args.mailbox));
    // All messages of the command go to the store as one batch: it commits them
    // together once the last literal was read, so no other session ever sees a
    // part of a MULTIAPPEND, and a failure leaves nothing behind.
    async function* items(): AsyncGenerator<BatchAppendItem> {
      for (;;) {
        const message = await args.next();
        if (!message) return;
        try {
          yield { body: message.body, options: { flags: message.flags, internalDate: message.internalDate } };
        } finally {
          await message.body.drain();
        }
      }
    }
    const written = await appendStoreCall(() => mailbox.appendBatch(args.mailbox, items()));
    if (written.length === 0) throw new ParseError("Expected a message");
    const uidValidity = written[0].uidValidity;
    return { code: `APPENDUID ${uidValidity} ${formatUidSet(written.map((result) => result.uid))}`, text: "APPEND completed." };
  },
});
