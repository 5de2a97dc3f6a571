/**
 * The client-facing half of a session proxied to the mailbox's home node
 * (DESIGN §2.1, in the manner of Dovecot's proxy): once the login succeeded
 * here for a mailbox homed elsewhere, this node opens nothing; it asks the
 * home node to log the client in there, answers LOGIN/AUTHENTICATE with the
 * home node's result, and from then on copies bytes both ways.
 *
 * Invariants:
 * - TLS, STARTTLS and the login throttle stay on this node; the home node
 *   runs the IMAP session (timeouts, COMPRESS, IDLE, every command) and its
 *   capabilities are the ones the client is told after login.
 * - An unreachable home node is `NO [UNAVAILABLE]`; nothing is opened here.
 * - Bytes the client pipelined after LOGIN go to the home node first, in order.
 * - When either side closes, the other is closed; back-pressure is kept both
 *   ways (stream.pipe).
 */
import type { Duplex } from "node:stream";
import { CommandError, type CommandResult } from "./command.ts";
import type { Session } from "./session.ts";

export interface HomeLoginOptions {
  address: string;
  password: string;
  /** The client's address, for the home node's throttle and logs. */
  ip: string;
  /** True when the client's connection is TLS. */
  secure: boolean;
}

export type HomeSessionData = { ok: true; connection: Duplex; capabilities: string[] } | { ok: false; code: string; text: string };

export interface HomeProxy {
  /** Logs the client in on `homeNode` and returns the session's byte stream. Never throws. */
  open(homeNode: string, login: HomeLoginOptions): Promise<HomeSessionData>;
}

export async function proxyToHome(session: Session, proxy: HomeProxy, homeNode: string, address: string, password: string): Promise<CommandResult> {
  const opened = await proxy.open(homeNode, { address, password, ip: session.remoteAddress, secure: session.secure });
  if (!opened.ok) throw new CommandError("NO", opened.code, opened.text);
  const { connection } = opened;
  session.logger.info({ home: homeNode }, "imap login proxied to the home node");
  return {
    code: `CAPABILITY ${opened.capabilities.join(" ")}`,
    text: "Logged in.",
    after: () => pipeToHome(session, connection),
  };
}

async function pipeToHome(session: Session, connection: Duplex): Promise<void> {
  const { socket, pipelined } = session.handOver(() => connection.destroy());
  const ended = new Promise<void>((resolve) => {
    if (connection.destroyed) return resolve();
    connection.once("close", () => resolve());
  });
  connection.on("error", () => connection.destroy());
  // The home node's side is gone (LOGOUT, its timeout, or the node died): the client's goes too.
  connection.once("close", () => socket.end());
  socket.once("close", () => connection.destroy());
  if (pipelined.length > 0) connection.write(pipelined);
  connection.pipe(socket);
  socket.pipe(connection);
  socket.resume();
  await ended;
}
