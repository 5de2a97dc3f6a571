/** SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6–7). */
import { AUTHENTICATED, defineCommand } from "../command.ts";
import { storeCall } from "../store-error-codes.ts";
import { parseSoleMailboxName } from "./mailbox-argument.ts";

export const subscribeCommand = defineCommand<string>({
  name: "SUBSCRIBE",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseSoleMailboxName,
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
  parse: parseSoleMailboxName,
  async execute(session, _tag, name) {
    const mailbox = session.requireMailbox();
    await storeCall(() => mailbox.subscribe(name, false));
  },
});
