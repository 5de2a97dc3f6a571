/**
 * ENABLE (RFC 5161). Known extensions: CONDSTORE (RFC 7162 §3.1), QRESYNC
 * (implies CONDSTORE, RFC 7162 §3.2.3) and UTF8=ACCEPT (RFC 6855 §3).
 * Unknown names are ignored, as §3.1 requires.
 */
import { defineCommand } from "../command.ts";

const ENABLEABLE = new Set(["CONDSTORE", "QRESYNC", "UTF8=ACCEPT"]);

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
    for (const name of names) {
      if (!ENABLEABLE.has(name) || session.enabled.has(name)) continue;
      session.enabled.add(name);
      newly.push(name);
      if (name === "QRESYNC" && !session.enabled.has("CONDSTORE")) session.enabled.add("CONDSTORE");
    }
    session.out.untagged(newly.length > 0 ? `ENABLED ${newly.join(" ")}` : "ENABLED");
  },
});
