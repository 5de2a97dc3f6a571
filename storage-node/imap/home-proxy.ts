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
 * - The client never sees its connection end without a BYE: on this node's
 *   shutdown the home node is asked to say it (in the session's own,
 *   possibly compressed, stream); when the home node's side ends without
 *   one (it died, or its link went silent past PEER_LIMITS.proxyKeepaliveMs)
 *   this node adds it — only between two responses of an uncompressed
 *   stream, where it cannot corrupt what the client reads.
 */
import type { Duplex } from "node:stream";
import { CommandError, type CommandResult } from "./command.ts";
import type { Session } from "./session.ts";
import { ResponseBoundaryTracker } from "./wire/response-boundary.ts";

const HOME_LOST_BYE = "* BYE The mailbox's server cannot be reached, try again later.\r\n";

export interface HomeLoginOptions {
  address: string;
  password: string;
  /** The client's address, for the home node's throttle and logs. */
  ip: string;
  /** True when the client's connection is TLS. */
  secure: boolean;
}

/** The home node's side of a proxied session, as this node sees it. */
export interface HomeConnection extends Duplex {
  /** True once the home node's session deflates its output (RFC 4978): nothing may be added to the stream here. */
  readonly peerCompressed: boolean;
  /** Asks the home node to end the session with BYE: now if between commands, else after the current one. */
  requestShutdown(): void;
}

export type HomeSessionData = { ok: true; connection: HomeConnection; capabilities: string[] } | { ok: false; code: string; text: string };

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

async function pipeToHome(session: Session, connection: HomeConnection): Promise<void> {
  const { socket, pipelined } = session.handOver(() => connection.requestShutdown());
  const responses = new ResponseBoundaryTracker();
  const ended = new Promise<void>((resolve) => {
    let done = false;
    // The home node's side is gone (LOGOUT, its timeout or shutdown, or the node or its link died): the client's goes too.
    const finish = () => {
      if (done) return;
      done = true;
      if (!responses.byeSeen && responses.atBoundary && !connection.peerCompressed) socket.end(HOME_LOST_BYE);
      else socket.end();
      resolve();
    };
    if (connection.destroyed) return finish();
    connection.once("end", finish);
    connection.once("close", finish);
  });
  connection.on("error", () => connection.destroy());
  socket.once("close", () => connection.destroy());
  // Seen in the order written, so the tracker always describes what the client has been sent.
  connection.on("data", (chunk: Buffer) => responses.track(chunk));
  if (pipelined.length > 0) connection.write(pipelined);
  connection.pipe(socket, { end: false });
  socket.pipe(connection);
  socket.resume();
  await ended;
}
