/**
 * STARTTLS (RFC 3501 §6.2.1, RFC 2595). The tagged OK is flushed first; then
 * everything the client pipelined after the command is discarded before the
 * handshake starts (see Session.startTls).
 */
import { CommandError, NOT_AUTHENTICATED, defineCommand } from "../command.ts";

export const starttlsCommand = defineCommand<void>({
  name: "STARTTLS",
  states: NOT_AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.end();
  },
  async execute(session) {
    if (session.secure) throw new CommandError("BAD", null, "TLS is already active");
    if (!session.context.secureContext) throw new CommandError("BAD", null, "TLS is not available");
    return { text: "Begin TLS negotiation now.", after: () => session.startTls() };
  },
});
