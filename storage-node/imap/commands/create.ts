/** CREATE (RFC 3501 §6.3.3), with USE (RFC 6154 §3, CREATE-SPECIAL-USE). */
import type { SpecialUse } from "../../store/types.ts";
import { AUTHENTICATED, CommandError, defineCommand } from "../command.ts";
import { storeCall } from "../store-error-codes.ts";
import { ParseError } from "../wire/command-cursor.ts";
import { readMailboxName } from "./mailbox-argument.ts";

const SPECIAL_USES: readonly SpecialUse[] = ["\\Drafts", "\\Sent", "\\Junk", "\\Trash", "\\Archive", "\\All", "\\Flagged"];

interface CreateArgs {
  mailbox: string;
  specialUse: SpecialUse | null;
}

export const createCommand = defineCommand<CreateArgs>({
  name: "CREATE",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor, session) {
    cursor.sp();
    const mailbox = await readMailboxName(cursor, session);
    let specialUse: SpecialUse | null = null;
    if (cursor.take(" ")) {
      await cursor.list(async () => {
        if (cursor.keyword("a create parameter") !== "USE") throw new ParseError("Unknown CREATE parameter");
        cursor.sp();
        await cursor.list(() => {
          const flag = cursor.flag();
          const use = SPECIAL_USES.find((candidate) => candidate.toLowerCase() === flag.toLowerCase());
          if (!use) throw new CommandError("NO", "USEATTR", "Unsupported special-use attribute");
          if (specialUse) throw new CommandError("NO", "USEATTR", "Only one special-use attribute per folder");
          specialUse = use;
        });
      });
    }
    cursor.end();
    return { mailbox, specialUse };
  },
  async execute(session, _tag, args) {
    const mailbox = session.requireMailbox();
    if (args.mailbox === "INBOX") throw new CommandError("NO", "ALREADYEXISTS", "INBOX always exists.");
    await storeCall(() => mailbox.createFolder(args.mailbox, args.specialUse ? { specialUse: args.specialUse } : undefined));
  },
});
