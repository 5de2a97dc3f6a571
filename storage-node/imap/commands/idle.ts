/**
 * IDLE (RFC 2177). While idling, changes committed by any session of the
 * mailbox are pushed at once (EXISTS, EXPUNGE/VANISHED, flag FETCHes).
 *
 * Invariant: updates are written one sync at a time (a promise chain), so two
 * change events never interleave their responses.
 */
import { AUTHENTICATED, CommandError, defineCommand } from "../command.ts";

export const idleCommand = defineCommand<void>({
  name: "IDLE",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.end();
  },
  async execute(session) {
    const mailbox = session.requireMailbox();
    let chain: Promise<void> = Promise.resolve();
    const push = (): void => {
      chain = chain
        .then(async () => {
          await session.syncSelected(true);
          await session.out.flush();
        })
        .catch((error: unknown) => session.logger.warn({ err: String(error) }, "idle update failed"));
    };
    const unwatch = mailbox.watch((event) => {
      if (session.selected && event.folder === session.selected.name) {
        session.markSelectedDirty();
        push();
      }
    });
    session.setIdleTimeout(true);
    try {
      // Changes since the last command are owed right away.
      push();
      await chain;
      session.out.continuation("idling");
      await session.out.flush();
      session.idling = true;
      const line = await session.readLine().finally(() => {
        session.idling = false;
      });
      if (line === null) throw new CommandError("BAD", null, "Connection closed");
      if (line.toString("latin1").toUpperCase() !== "DONE") throw new CommandError("BAD", null, "Expected DONE");
    } finally {
      unwatch();
      session.setIdleTimeout(false);
      await chain;
    }
  },
});
