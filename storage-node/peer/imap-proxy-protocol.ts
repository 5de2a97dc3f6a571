/**
 * The opening exchange of a proxied IMAP session (DESIGN §2.1): a client
 * logged in on node C for a mailbox homed on node B; C dials B's peer
 * endpoint at PEER_SESSION_PATH (one WebSocket per session, the same signed
 * node-specific handshake as every peer link), then:
 *
 *   C → B  one text frame   {"type":"login","address","password","ip","secure"}
 *   B → C  one text frame   {"type":"ok","capabilities":[…]}
 *                        or {"type":"no","code":<RFC 5530 code>,"text":…}
 *   then binary frames both ways: the IMAP bytes, copied unchanged,
 *   and, between them, text frames that are signals, never IMAP bytes:
 *   C → B  {"type":"shutdown"}   C is shutting down: end the session with BYE
 *                                (now if between commands, else after the current one)
 *   B → C  {"type":"compressed"} every later byte is deflated (RFC 4978): C can
 *                                no longer add a BYE of its own to the stream
 *
 * Invariants:
 * - B checks the password itself (it unwraps the mailbox key from the
 *   edge's credential record, as for a direct login); C's check is not
 *   trusted for opening the mailbox. The password crosses only the
 *   authenticated peer link (TLS in production) and is never logged.
 * - `ip` is the client's address as C saw it, for B's login throttle and
 *   logs; `secure` tells B whether the client's connection is TLS.
 * - The capabilities B answers with are those of the session B runs; C
 *   hands exactly them to the client in the LOGIN/AUTHENTICATE OK.
 * - Frames that do not parse, or fields out of AUTH_LIMITS, end the socket
 *   without an answer.
 */
import { AUTH_LIMITS } from "../limits.ts";

/** Path of B's peer endpoint that accepts proxied sessions (the RPC link uses "/"). */
export const PEER_SESSION_PATH = "/imap-session";

export interface ProxyLoginData {
  type: "login";
  address: string;
  password: string;
  ip: string;
  secure: boolean;
}

/** Response codes B may refuse with; C answers the client with the same. */
export type ProxyRefusalCode = "AUTHENTICATIONFAILED" | "UNAVAILABLE" | "NOPERM" | "LIMIT";

export type ProxyAnswerData = { type: "ok"; capabilities: string[] } | { type: "no"; code: ProxyRefusalCode; text: string };

/** A signal between the binary frames of a running session. */
export type ProxyControlData = { type: "shutdown" } | { type: "compressed" };

const REFUSAL_CODES: readonly string[] = ["AUTHENTICATIONFAILED", "UNAVAILABLE", "NOPERM", "LIMIT"];

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function parseProxyLogin(text: string): ProxyLoginData | null {
  const value = parseObject(text);
  if (!value || value.type !== "login") return null;
  const { address, password, ip, secure } = value;
  if (typeof address !== "string" || address.length === 0 || address.length > AUTH_LIMITS.maxAddressLength) return null;
  if (typeof password !== "string" || password.length === 0 || password.length > AUTH_LIMITS.maxPasswordLength) return null;
  if (typeof ip !== "string" || ip.length > 64 || typeof secure !== "boolean") return null;
  return { type: "login", address, password, ip, secure };
}

export function parseProxyAnswer(text: string): ProxyAnswerData | null {
  const value = parseObject(text);
  if (!value) return null;
  if (value.type === "ok") {
    const caps = value.capabilities;
    if (!Array.isArray(caps) || caps.length > 256 || !caps.every((cap) => typeof cap === "string" && /^[\x21-\x7e]{1,128}$/.test(cap))) return null;
    return { type: "ok", capabilities: caps as string[] };
  }
  if (value.type === "no") {
    if (typeof value.code !== "string" || !REFUSAL_CODES.includes(value.code) || typeof value.text !== "string" || value.text.length > 200) return null;
    if (!/^[\x20-\x7e]*$/.test(value.text)) return null;
    return { type: "no", code: value.code as ProxyRefusalCode, text: value.text };
  }
  return null;
}

export function parseProxyControl(text: string): ProxyControlData | null {
  const value = parseObject(text);
  if (value?.type === "shutdown" || value?.type === "compressed") return { type: value.type };
  return null;
}
