/**
 * COMPRESS DEFLATE (RFC 4978). Allowed once per connection; the tagged OK is
 * the last uncompressed data in each direction.
 */
import { AUTHENTICATED, CommandError, defineCommand } from "../command.ts";

export const compressCommand = defineCommand<string>({
  name: "COMPRESS",
  states: AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.sp();
    const mechanism = cursor.keyword("a compression mechanism");
    cursor.end();
    return mechanism;
  },
  async execute(session, _tag, mechanism) {
    if (mechanism !== "DEFLATE") throw new CommandError("NO", "CANNOT", "Unknown compression mechanism.");
    if (session.compressed) throw new CommandError("NO", "COMPRESSIONACTIVE", "Compression is already active.");
    return { text: "DEFLATE active.", after: () => session.startCompression() };
  },
});
