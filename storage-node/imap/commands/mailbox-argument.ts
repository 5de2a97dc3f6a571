/**
 * Reading mailbox names and LIST patterns from a command (RFC 3501 §9 mailbox,
 * list-mailbox), in modified UTF-7 or, after ENABLE UTF8=ACCEPT, UTF-8.
 */
import type { Session } from "../session.ts";
import { ParseError, type CommandCursor } from "../wire/command-cursor.ts";
import { MailboxNameError, decodeMailboxName, decodeModifiedUtf7 } from "../wire/mailbox-name.ts";

const NAME_LIMIT = { maxBytes: 4096 };

export async function readMailboxName(cursor: CommandCursor, session: Session): Promise<string> {
  const raw = await cursor.astring(NAME_LIMIT, "a mailbox name");
  try {
    let name = decodeMailboxName(raw, session.utf8);
    // A trailing separator names the same folder (RFC 3501 §6.3.3).
    while (name.length > 1 && name.endsWith("/")) name = name.slice(0, -1);
    return name;
  } catch (error) {
    if (error instanceof MailboxNameError) throw new ParseError(error.message);
    throw error;
  }
}

/** The whole argument list of a command that takes exactly one mailbox name (DELETE, SUBSCRIBE, GETQUOTAROOT, …). */
export async function parseSoleMailboxName(cursor: CommandCursor, session: Session): Promise<string> {
  cursor.sp();
  const name = await readMailboxName(cursor, session);
  cursor.end();
  return name;
}

/** list-mailbox: like astring, but "%" and "*" are allowed unquoted. */
export async function readListPattern(cursor: CommandCursor, session: Session): Promise<string> {
  let raw: Buffer;
  const next = cursor.peek();
  if (next === 0x22 || next === 0x7b || next === 0x7e) raw = await cursor.string(NAME_LIMIT, "a mailbox pattern");
  else raw = Buffer.from(cursor.atom("a mailbox pattern", "%*]"), "latin1");
  try {
    if (raw.some((byte) => byte >= 0x80)) {
      if (!session.utf8) throw new ParseError("8-bit mailbox pattern without UTF8=ACCEPT");
      return raw.toString("utf8");
    }
    const text = raw.toString("latin1");
    return session.utf8 ? text : decodeModifiedUtf7(text);
  } catch (error) {
    if (error instanceof MailboxNameError) throw new ParseError(error.message);
    throw error;
  }
}
