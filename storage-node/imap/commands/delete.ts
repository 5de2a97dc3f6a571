/** DELETE (RFC 3501 §6.3.4). */
import { AUTHENTICATED, CommandError, defineCommand } from "../command.ts";
import { storeCall } from "../store-error-codes.ts";
import { parseSoleMailboxName } from "./mailbox-argument.ts";

export const deleteCommand = defineCommand<string>({
  name: "DELETE",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseSoleMailboxName,
  async execute(session, _tag, name) {
    const mailbox = session.requireMailbox();
    if (name === "INBOX") throw new CommandError("NO", "CANNOT", "INBOX cannot be deleted.");
    await storeCall(() => mailbox.deleteFolder(name));
    if (session.selected?.name === name) {
      // The selected folder is gone: RFC 3501 leaves this open; we deselect.
      session.selected = null;
      session.state = "authenticated";
    }
  },
});
