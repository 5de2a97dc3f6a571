/**
 * Login for every protocol on the node (IMAP, POP3, SMTP submission).
 *
 * Guarantees:
 * - The password is checked here, on the node, by unwrapping the mailbox key
 *   from the edge's credential record; it never crosses the tunnel.
 * - Wrong password, revoked password and unknown address are indistinguishable
 *   to the caller: all resolve to `null`, after the same delay.
 * - Failed attempts are throttled per client IP and per address.
 */

export interface LoginContext {
  /** Remote IP of the client, for throttling. */
  ip: string;
  protocol: "imap" | "pop3" | "submission" | "api";
}

export interface AuthenticatedData {
  address: string;
  aliasId: string;
  mailboxId: string;
  passwordId: string;
  /** The unwrapped 32-byte mailbox key. Keep in memory only. */
  mailboxKey: Uint8Array;
  /** Node id of the mailbox's home node. */
  homeNode: string | null;
  quotaBytes: number | null;
  /** Minimum generation the mailbox file must have (freshness). */
  generation: number;
  imap: boolean;
  /** The alias's sealing secret key, wrapped by MK (base64), for draining the sealed spool. */
  sealingSecretWrapped?: string;
}

export interface Authenticator {
  authenticate(address: string, password: string, context: LoginContext): Promise<AuthenticatedData | null>;
}
