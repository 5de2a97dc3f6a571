/** LOGIN (RFC 3501 §6.2.3). Refused on plaintext when LOGINDISABLED is advertised. */
import { CommandError, NOT_AUTHENTICATED, defineCommand } from "../command.ts";
import { completeLogin } from "./login-flow.ts";

interface LoginArgs {
  user: string;
  password: string;
}

const CREDENTIAL_LIMIT = { maxBytes: 4096 };

export const loginCommand = defineCommand<LoginArgs>({
  name: "LOGIN",
  states: NOT_AUTHENTICATED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  async parse(cursor) {
    cursor.sp();
    const user = (await cursor.astring(CREDENTIAL_LIMIT, "a user name")).toString("utf8");
    cursor.sp();
    const password = (await cursor.astring(CREDENTIAL_LIMIT, "a password")).toString("utf8");
    cursor.end();
    return { user, password };
  },
  async execute(session, _tag, args) {
    if (session.loginDisabled()) throw new CommandError("NO", "PRIVACYREQUIRED", "Use STARTTLS first.");
    return completeLogin(session, args.user, args.password);
  },
});
