/**
 * QUOTA (RFC 9208): one quota root "" covering the whole mailbox, with the
 * STORAGE resource in units of 1024 octets (§5.1). SETQUOTA is refused: quotas
 * come from the alias settings at the edge.
 */
import { AUTHENTICATED, CommandError, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall } from "../store-error-codes.ts";
import { encodeAstring } from "../wire/response-writer.ts";
import { encodeMailboxName } from "../wire/mailbox-name.ts";
import { parseSoleMailboxName } from "./mailbox-argument.ts";

async function writeQuota(session: Session): Promise<void> {
  const mailbox = session.requireMailbox();
  const quota = await storeCall(() => mailbox.quota());
  const resources =
    quota.limitBytes === null ? "" : `STORAGE ${Math.ceil(quota.usedBytes / 1024)} ${Math.floor(quota.limitBytes / 1024)}`;
  session.out.untagged(`QUOTA "" (${resources})`);
}

export const getQuotaCommand = defineCommand<string>({
  name: "GETQUOTA",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.sp();
    const root = (await cursor.astring({ maxBytes: 1024 }, "a quota root")).toString("utf8");
    cursor.end();
    return root;
  },
  async execute(session, _tag, root) {
    if (root !== "") throw new CommandError("NO", "NONEXISTENT", "No such quota root.");
    await writeQuota(session);
  },
});

export const getQuotaRootCommand = defineCommand<string>({
  name: "GETQUOTAROOT",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseSoleMailboxName,
  async execute(session, _tag, name) {
    const mailbox = session.requireMailbox();
    await storeCall(() => mailbox.status(name));
    session.out.untagged("QUOTAROOT ", encodeAstring(encodeMailboxName(name, session.utf8), { utf8: session.utf8 }), ' ""');
    await writeQuota(session);
  },
});

export const setQuotaCommand = defineCommand<void>({
  name: "SETQUOTA",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.rest();
  },
  async execute() {
    throw new CommandError("NO", "NOPERM", "Quotas are set in the account settings.");
  },
});
