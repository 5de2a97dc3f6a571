/**
 * AUTHENTICATE (RFC 3501 §6.2.2) with SASL PLAIN (RFC 4616) and the initial
 * response of SASL-IR (RFC 4959).
 */
import { CommandError, NOT_AUTHENTICATED, defineCommand } from "../command.ts";
import { completeLogin } from "./login-flow.ts";

interface AuthenticateArgs {
  mechanism: string;
  /** Base64 initial response; "" for "=" (empty), null when absent. */
  initial: string | null;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const authenticateCommand = defineCommand<AuthenticateArgs>({
  name: "AUTHENTICATE",
  states: NOT_AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.sp();
    const mechanism = cursor.keyword("a SASL mechanism");
    let initial: string | null = null;
    if (cursor.take(" ")) {
      initial = cursor.rest();
      if (initial === "=") initial = "";
    }
    cursor.end();
    return { mechanism, initial };
  },
  async execute(session, _tag, args) {
    if (args.mechanism !== "PLAIN") throw new CommandError("NO", "CANNOT", "Unsupported authentication mechanism.");
    if (session.loginDisabled()) throw new CommandError("NO", "PRIVACYREQUIRED", "Use STARTTLS first.");
    let response = args.initial;
    if (response === null) {
      session.out.continuation("");
      await session.out.flush();
      const line = await session.readLine();
      if (line === null) throw new CommandError("BAD", null, "Connection closed");
      response = line.toString("latin1");
      if (response === "*") throw new CommandError("BAD", null, "Authentication cancelled");
    }
    if (!BASE64.test(response)) throw new CommandError("BAD", null, "Invalid base64");
    const parts = Buffer.from(response, "base64").toString("utf8").split("\0");
    if (parts.length !== 3) throw new CommandError("BAD", null, "Invalid PLAIN response");
    const [authzid, authcid, password] = parts;
    // No proxy authorisation: an authorisation identity other than the login is refused.
    if (authzid !== "" && authzid !== authcid) {
      throw new CommandError("NO", "AUTHENTICATIONFAILED", "Authentication failed.");
    }
    return completeLogin(session, authcid, password);
  },
});
