/** LOGOUT (RFC 3501 §6.1.3): BYE, then the tagged OK, then the connection closes. */
import { ANY_STATE, defineCommand } from "../command.ts";

export const logoutCommand = defineCommand<void>({
  name: "LOGOUT",
  states: ANY_STATE,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.end();
  },
  async execute(session) {
    session.out.untagged("BYE Logging out.");
    session.selected = null;
    session.state = "logout";
  },
});
