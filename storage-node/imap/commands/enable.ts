/**
 * ENABLE (RFC 5161). Known extensions: CONDSTORE (RFC 7162 §3.1), QRESYNC
 * (implies CONDSTORE, RFC 7162 §3.2.3), UTF8=ACCEPT (RFC 6855 §3) and
 * IMAP4rev2 (RFC 9051 §6.3.1: rev2 semantics for the rest of the connection).
 * Unknown names are ignored, as §3.1 requires.
 */
import { defineCommand } from "../command.ts";

const ENABLEABLE = new Map([
  ["CONDSTORE", "CONDSTORE"],
  ["QRESYNC", "QRESYNC"],
  ["UTF8=ACCEPT", "UTF8=ACCEPT"],
  ["IMAP4REV2", "IMAP4rev2"],
]);

export const enableCommand = defineCommand<string[]>({
  name: "ENABLE",
  states: ["authenticated"],
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    const names: string[] = [];
    do {
      cursor.sp();
      names.push(cursor.atom("a capability name").toUpperCase());
    } while (!cursor.atEnd());
    return names;
  },
  async execute(session, _tag, names) {
    const newly: string[] = [];
    for (const requested of names) {
      const name = ENABLEABLE.get(requested);
      if (!name || session.enabled.has(name)) continue;
      session.enabled.add(name);
      newly.push(name);
      if (name === "QRESYNC" && !session.enabled.has("CONDSTORE")) session.enabled.add("CONDSTORE");
    }
    session.out.untagged(newly.length > 0 ? `ENABLED ${newly.join(" ")}` : "ENABLED");
  },
});
