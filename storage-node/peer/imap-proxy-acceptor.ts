/**
 * The home node's half of a proxied IMAP session (DESIGN §2.1): takes an
 * authenticated session socket from a peer (peer-server.ts), reads the login
 * frame, lets the IMAP server log the client in as for a direct login, answers,
 * and runs the session over the socket's binary frames.
 *
 * Invariants:
 * - The login frame must arrive within PEER_LIMITS.handshakeTimeoutMs and
 *   parse (imap-proxy-protocol.ts); otherwise the socket is closed unanswered.
 * - The frame's bytes are zeroed once parsed; the password lives only in the
 *   login call and is never logged. A refusal is the response code a direct
 *   login would get, so the client sees the same NO either way.
 * - A `shutdown` signal from the dialling node ends the session as this
 *   node's own shutdown would: BYE between commands, or after the current
 *   one, in the session's own (possibly compressed) stream.
 */
import type { RawData, WebSocket } from "ws";
import type { ImapServer } from "../imap/server.ts";
import { PEER_LIMITS } from "../limits.ts";
import type { Logger } from "../log.ts";
import { parseProxyLogin, type ProxyAnswerData, type ProxyControlData, type ProxyRefusalCode } from "./imap-proxy-protocol.ts";
import { WebSocketConnection } from "./websocket-connection.ts";

const REFUSAL_CODES: readonly string[] = ["AUTHENTICATIONFAILED", "UNAVAILABLE", "NOPERM", "LIMIT"];

export function acceptProxiedSession(ws: WebSocket, peerId: string, imap: ImapServer, logger: Logger): void {
  const timer = setTimeout(() => ws.close(1008, "no login"), PEER_LIMITS.handshakeTimeoutMs);
  timer.unref();
  ws.once("close", () => clearTimeout(timer));
  ws.once("message", (data: RawData, isBinary: boolean) => {
    clearTimeout(timer);
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const login = isBinary ? null : parseProxyLogin(bytes.toString("utf8"));
    bytes.fill(0);
    if (!login) {
      ws.close(1007, "invalid login frame");
      return;
    }
    const connection = new WebSocketConnection(ws, { remoteAddress: login.ip });
    connection.on("error", () => undefined);
    imap.adoptProxied(connection, login).then(
      (result) => {
        const answer: ProxyAnswerData = result.ok
          ? { type: "ok", capabilities: result.capabilities }
          : { type: "no", code: (REFUSAL_CODES.includes(result.code) ? result.code : "UNAVAILABLE") as ProxyRefusalCode, text: result.text };
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(answer));
        if (result.ok) {
          logger.info({ peer: peerId }, "proxied imap session accepted");
          // Started even when the socket is already gone: the session then ends at once and closes the mailbox.
          result.start();
          // The client-facing node is shutting down: BYE from here, where the stream's state (COMPRESS) is known.
          connection.on("control", (frame: ProxyControlData) => {
            if (frame.type === "shutdown") result.shutdown();
          });
        } else {
          ws.close(1000, "login refused");
        }
      },
      () => ws.close(1011, "login failed"),
    );
  });
}
