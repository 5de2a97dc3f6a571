/** CAPABILITY (RFC 3501 §6.1.1). */
import { ANY_STATE, defineCommand } from "../command.ts";

export const capabilityCommand = defineCommand<void>({
  name: "CAPABILITY",
  states: ANY_STATE,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.end();
  },
  async execute(session) {
    session.out.untagged(`CAPABILITY ${session.capabilities().join(" ")}`);
  },
});
