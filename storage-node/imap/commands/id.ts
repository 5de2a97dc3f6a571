/** ID (RFC 2971). The client's fields are read and ignored; the server names itself. */
import { ANY_STATE, defineCommand } from "../command.ts";
import { ParseError } from "../wire/command-cursor.ts";

const FIELD_LIMIT = { maxBytes: 1024 };
const MAX_FIELDS = 30;

export const idCommand = defineCommand<void>({
  name: "ID",
  states: ANY_STATE,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.sp();
    if (cursor.peekChar("(")) {
      let count = 0;
      await cursor.list(async () => {
        if (++count > MAX_FIELDS) throw new ParseError("Too many ID fields");
        await cursor.string(FIELD_LIMIT);
        cursor.sp();
        await cursor.nstring(FIELD_LIMIT);
      });
    } else if (cursor.keyword("NIL or a list") !== "NIL") {
      throw new ParseError("Expected NIL or a list");
    }
    cursor.end();
  },
  async execute(session) {
    session.out.untagged('ID ("name" "Sealbox" "vendor" "Sealbox")');
  },
});
