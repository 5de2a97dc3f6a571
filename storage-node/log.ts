/**
 * Structured JSON logs (pino). Invariant: no password, key, token, message
 * content or full address is ever logged — addresses are reduced to their
 * domain with `maskAddress`, and the redact list below catches fields that
 * must never appear even by mistake.
 */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, name = "sealbox-node"): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ["password", "*.password", "key", "*.key", "mailboxKey", "*.mailboxKey", "token", "*.token", "secret", "*.secret", "nodeSecretKey", "*.nodeSecretKey"],
      censor: "[redacted]",
    },
  });
}

/** "alice@example.com" → "*@example.com": enough to debug routing, not enough to identify a person. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "*" : `*${address.slice(at)}`;
}
