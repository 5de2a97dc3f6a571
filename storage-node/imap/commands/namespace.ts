/** NAMESPACE (RFC 2342): one personal namespace, "/" as the separator. */
import { AUTHENTICATED, defineCommand } from "../command.ts";

export const namespaceCommand = defineCommand<void>({
  name: "NAMESPACE",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.end();
  },
  async execute(session) {
    session.out.untagged('NAMESPACE (("" "/")) NIL NIL');
  },
});
