/** SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6–7). */
import { AUTHENTICATED, defineCommand } from "../command.ts";
import { storeCall } from "../store-error-codes.ts";
import { readMailboxName } from "./mailbox-argument.ts";
import type { CommandCursor } from "../wire/command-cursor.ts";
import type { Session } from "../session.ts";

async function parseName(cursor: CommandCursor, session: Session): Promise<string> {
  cursor.sp();
  const name = await readMailboxName(cursor, session);
  cursor.end();
  return name;
}

export const subscribeCommand = defineCommand<string>({
  name: "SUBSCRIBE",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseName,
  async execute(session, _tag, name) {
    const mailbox = session.requireMailbox();
    await storeCall(() => mailbox.subscribe(name, true));
  },
});

export const unsubscribeCommand = defineCommand<string>({
  name: "UNSUBSCRIBE",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseName,
  async execute(session, _tag, name) {
    const mailbox = session.requireMailbox();
    await storeCall(() => mailbox.subscribe(name, false));
  },
});
