/** STATUS (RFC 3501 §6.3.10). */
import { AUTHENTICATED, defineCommand } from "../command.ts";
import { storeCall } from "../store-error-codes.ts";
import { readMailboxName } from "./mailbox-argument.ts";
import { readStatusItems, writeStatus, type StatusItem } from "./status-items.ts";

interface StatusArgs {
  mailbox: string;
  items: StatusItem[];
}

export const statusCommand = defineCommand<StatusArgs>({
  name: "STATUS",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor, session) {
    cursor.sp();
    const mailbox = await readMailboxName(cursor, session);
    cursor.sp();
    const items = await readStatusItems(cursor);
    cursor.end();
    return { mailbox, items };
  },
  async execute(session, _tag, args) {
    const mailbox = session.requireMailbox();
    const status = await storeCall(() => mailbox.status(args.mailbox));
    if (args.items.includes("HIGHESTMODSEQ")) session.enabled.add("CONDSTORE");
    writeStatus(session, args.mailbox, status, args.items);
  },
});
