/**
 * What LOGIN and AUTHENTICATE share once they have an address and a password:
 * ask the authenticator, enforce the per-user connection cap, open the mailbox.
 *
 * Invariants:
 * - Every authenticator refusal is the same `NO [AUTHENTICATIONFAILED]`; the
 *   server adds no delay or wording of its own (the authenticator throttles).
 * - The password is passed on and dropped; it is never logged or kept.
 * - A mailbox is opened only on its home node (DESIGN §2.1). When the edge
 *   names another node as home, the session is proxied there (home-proxy.ts):
 *   the mailbox key unwrapped here is zeroed and nothing is opened or created
 *   locally. A session that cannot be proxied (the home node is unreachable,
 *   or this server has no peer links) is `NO [UNAVAILABLE]`.
 */
import type { Session } from "../session.ts";
import { CommandError, type CommandResult } from "../command.ts";
import { storeCall } from "../store-error-codes.ts";
import { EdgeUnavailableError } from "../../auth/credential-cache.ts";
import { proxyToHome } from "../home-proxy.ts";

export async function completeLogin(session: Session, address: string, password: string): Promise<CommandResult> {
  let auth;
  try {
    auth = await session.context.authenticator.authenticate(address, password, {
      ip: session.remoteAddress,
      protocol: "imap",
    });
  } catch (error) {
    // The edge cannot be asked: say "try later", never "wrong password" (RFC 5530 UNAVAILABLE),
    // so a client does not throw away a password that is right.
    if (error instanceof EdgeUnavailableError) throw new CommandError("NO", "UNAVAILABLE", "Authentication is temporarily unavailable, try again later.");
    throw error;
  }
  if (!auth) throw new CommandError("NO", "AUTHENTICATIONFAILED", "Authentication failed.");
  if (!auth.imap) throw new CommandError("NO", "NOPERM", "IMAP access is disabled for this address.");
  const { nodeId, homeProxy } = session.context;
  if (auth.homeNode !== null && nodeId !== null && auth.homeNode !== nodeId) {
    auth.mailboxKey.fill(0);
    if (!homeProxy) throw new CommandError("NO", "UNAVAILABLE", "The mailbox is temporarily unavailable, try again later.");
    return proxyToHome(session, homeProxy, auth.homeNode, address, password);
  }
  if (!session.context.acquireUserSlot(auth.mailboxId)) {
    throw new CommandError("NO", "LIMIT", "Too many connections for this mailbox.");
  }
  try {
    const mailbox = await storeCall(() =>
      session.context.store.open({
        id: auth.mailboxId,
        key: auth.mailboxKey,
        create: true,
        minGeneration: auth.generation,
        quotaBytes: auth.quotaBytes ?? undefined,
      }),
    );
    session.setAuthenticated(mailbox, auth.mailboxId);
  } catch (error) {
    session.context.releaseUserSlot(auth.mailboxId);
    throw error;
  }
  session.logger.info({ mailbox: auth.mailboxId }, "imap login");
  return { code: `CAPABILITY ${session.capabilities().join(" ")}`, text: "Logged in." };
}
