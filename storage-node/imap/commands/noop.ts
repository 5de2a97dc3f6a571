/**
 * NOOP (RFC 3501 §6.1.2) and CHECK (RFC 3501 §6.4.1). Both exist to let the
 * session report pending updates, which the dispatcher does after every
 * command; every store write is already durable, so CHECK has nothing to flush.
 */
import { ANY_STATE, SELECTED, defineCommand } from "../command.ts";

export const noopCommand = defineCommand<void>({
  name: "NOOP",
  states: ANY_STATE,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.end();
  },
  async execute() {},
});

export const checkCommand = defineCommand<void>({
  name: "CHECK",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.end();
  },
  async execute() {},
});
