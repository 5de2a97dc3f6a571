/**
 * Every size, count and time limit of the edge API, in one place. (The worker cannot import
 * storage-node/limits.ts, so the edge keeps its own.) Each limit is tested at its edge in
 * test/edge.
 */

// ---- Accounts and login -------------------------------------------------------

/** Failed logins for one login name inside the window before it is locked. */
export const LOGIN_MAX_FAILURES = 5;
/** Window in which failures are counted, ms. */
export const LOGIN_FAILURE_WINDOW_MS = 15 * 60 * 1000;
/** How long a login name stays locked after too many failures, ms. */
export const LOGIN_LOCK_MS = 15 * 60 * 1000;
/** TOTP codes accepted this many 30 s steps before/after now (RFC 6238 §5.2). */
export const TOTP_WINDOW_STEPS = 1;
/** Longest account e-mail address (RFC 5321 §4.5.3.1.3 path limit). */
export const EMAIL_MAX_LENGTH = 254;

// ---- Domains and aliases ------------------------------------------------------

/** Longest domain name (RFC 1035 §2.3.4). */
export const DOMAIN_MAX_LENGTH = 253;
/** Longest DNS label (RFC 1035 §2.3.4). */
export const DOMAIN_LABEL_MAX_LENGTH = 63;
/** Longest alias local part (RFC 5321 §4.5.3.1.1). */
export const LOCAL_PART_MAX_LENGTH = 64;
/** Domains one account may hold. */
export const DOMAINS_PER_ACCOUNT_MAX = 100;
/** Aliases one domain may hold. */
export const ALIASES_PER_DOMAIN_MAX = 1000;
/** Forward recipients per alias. */
export const FORWARDS_PER_ALIAS_MAX = 10;
/** Webhooks per alias. */
export const WEBHOOKS_PER_ALIAS_MAX = 5;
/** Longest webhook URL. */
export const WEBHOOK_URL_MAX_LENGTH = 2048;
/** Active (non-revoked) passwords per alias. */
export const PASSWORDS_PER_ALIAS_MAX = 20;
/** Longest password label. */
export const PASSWORD_LABEL_MAX_LENGTH = 64;
/** Largest mailbox quota an alias may ask for, bytes (1 TiB). */
export const QUOTA_BYTES_MAX = 2 ** 40;

// ---- Nodes ----------------------------------------------------------------------

/** Longest node label. */
export const NODE_LABEL_MAX_LENGTH = 64;
