/**
 * Directory records the edge hands to storage nodes over the tunnel.
 * Binary values are base64 (standard alphabet, padded).
 */

/** One alias password as the node needs it to check a login: never the password itself. */
export interface PasswordCredentialData {
  id: string;
  /** Salt for the password KDF, base64. */
  salt: string;
  /** The mailbox key wrapped under the password-derived key, base64 (see shared/crypto/mailbox-key.ts). */
  wrappedKey: string;
}

/** Everything a node needs to authenticate a login for an address and open its mailbox. */
export interface CredentialRecordData {
  address: string;
  aliasId: string;
  mailboxId: string;
  /** Node id of the home node, or null when no node has been assigned yet. */
  homeNode: string | null;
  imap: boolean;
  quotaBytes: number | null;
  /** Freshness generation mirrored at the edge. */
  generation: number;
  /** Hybrid X25519+ML-KEM-768 public sealing key, base64. */
  sealingPublicKey: string;
  /** The sealing secret key wrapped by MK, base64. */
  sealingSecretWrapped: string;
  passwords: PasswordCredentialData[];
}

export interface WebhookTargetData {
  id: string;
  url: string;
  /** HMAC-SHA-256 signing key, base64. Only sent to nodes. */
  signingKey: string;
}

/** How the MX routes mail for an address. */
export interface AliasRouteData {
  address: string;
  aliasId: string;
  mailboxId: string | null;
  homeNode: string | null;
  imap: boolean;
  quotaBytes: number | null;
  sealingPublicKey: string | null;
  forwardTo: string[];
  webhooks: WebhookTargetData[];
}
