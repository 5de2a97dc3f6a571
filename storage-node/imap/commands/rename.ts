/** RENAME (RFC 3501 §6.3.5). Renaming INBOX moves its messages (the store does it). */
import { AUTHENTICATED, defineCommand } from "../command.ts";
import { storeCall } from "../store-error-codes.ts";
import { readMailboxName } from "./mailbox-argument.ts";

interface RenameArgs {
  from: string;
  to: string;
}

export const renameCommand = defineCommand<RenameArgs>({
  name: "RENAME",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor, session) {
    cursor.sp();
    const from = await readMailboxName(cursor, session);
    cursor.sp();
    const to = await readMailboxName(cursor, session);
    cursor.end();
    return { from, to };
  },
  async execute(session, _tag, args) {
    const mailbox = session.requireMailbox();
    await storeCall(() => mailbox.renameFolder(args.from, args.to));
    if (session.selected && session.selected.name !== "INBOX" && (session.selected.name === args.from || session.selected.name.startsWith(`${args.from}/`))) {
      session.selected.name = args.to + session.selected.name.slice(args.from.length);
      session.markSelectedDirty();
    }
  },
});
