/**
 * The CAPABILITY list (RFC 3501 §6.1.1, §7.2.1). An extension is listed only
 * when its commands and responses are implemented and tested in test/imap/.
 */

import type { SessionState } from "./session.ts";

export interface CapabilityOptions {
  state: SessionState;
  secure: boolean;
  tlsAvailable: boolean;
  loginDisabled: boolean;
  maxMessageBytes: number;
}

/** Extensions available in every state. */
const ALWAYS = ["IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT"];

/** Extensions that matter once authenticated (also listed before, so clients can plan). */
const MAILBOX_EXTENSIONS = [
  "UIDPLUS",
  "MOVE",
  "MULTIAPPEND",
  "CHILDREN",
  "LIST-EXTENDED",
  "LIST-STATUS",
  "SPECIAL-USE",
  "CREATE-SPECIAL-USE",
  "STATUS=SIZE",
  "CONDSTORE",
  "QRESYNC",
  "ESEARCH",
  "SEARCHRES",
  "SORT",
  "THREAD=ORDEREDSUBJECT",
  "THREAD=REFERENCES",
  "QUOTA",
  "QUOTA=RES-STORAGE",
  "BINARY",
  "UTF8=ACCEPT",
  "WITHIN",
  "XREGEX",
  "COMPRESS=DEFLATE",
];

export function capabilityList(options: CapabilityOptions): string[] {
  const caps = [...ALWAYS];
  if (options.state === "not-authenticated") {
    if (options.tlsAvailable && !options.secure) caps.push("STARTTLS");
    if (options.loginDisabled) caps.push("LOGINDISABLED");
    else caps.push("AUTH=PLAIN");
  }
  caps.push(...MAILBOX_EXTENSIONS, `APPENDLIMIT=${options.maxMessageBytes}`);
  return caps;
}
