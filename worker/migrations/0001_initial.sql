-- Sealbox edge directory (D1).
--
-- Invariants:
-- * No secret that opens a mailbox is stored here: alias passwords exist only as
--   (salt, wrapped MK) pairs, API tokens and account passwords only as hashes.
-- * Names are stored canonical: domains and local parts in lower case, so
--   look-ups are plain equality on indexed columns.
-- * mailbox_id is random and never derived from the address (mailbox files are
--   named by it on the nodes).
-- * Timestamps are ISO-8601 UTC strings, except throttle windows (epoch ms).

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  -- Generated >= 128-bit password: a salted SHA-256 is sufficient (see accounts/password-hash.ts).
  password_salt TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  -- TOTP (RFC 6238) second factor. pending = enrolled but not yet confirmed with a code.
  totp_secret TEXT,
  totp_pending_secret TEXT,
  -- Last accepted time step, so one code is never accepted twice.
  totp_last_step INTEGER,
  created_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  -- SHA-256 hex of the token; the token itself is shown once and never stored.
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  last_used_at TEXT
);
CREATE INDEX api_tokens_account ON api_tokens(account_id);

-- Failed-login throttle, keyed by a hash of the login name so unknown and known
-- names are throttled alike (the throttle must not reveal which accounts exist).
CREATE TABLE login_throttle (
  key_hash TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  window_start_ms INTEGER NOT NULL,
  locked_until_ms INTEGER
);

CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  label TEXT NOT NULL,
  -- Ed25519 public key, base64 (32 bytes).
  public_key TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_seen_at TEXT
);

CREATE TABLE domains (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
CREATE INDEX domains_account ON domains(account_id);

CREATE TABLE aliases (
  id TEXT PRIMARY KEY,
  domain_id TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  local_part TEXT NOT NULL,
  imap INTEGER NOT NULL DEFAULT 1,
  quota_bytes INTEGER,
  mailbox_id TEXT NOT NULL UNIQUE,
  home_node TEXT REFERENCES nodes(id),
  generation INTEGER NOT NULL DEFAULT 0,
  -- Set together with the first password (the sealing secret is wrapped by MK).
  sealing_public_key TEXT,
  sealing_secret_wrapped TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (domain_id, local_part)
);
CREATE INDEX aliases_home_node ON aliases(home_node);

CREATE TABLE alias_forwards (
  alias_id TEXT NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  address TEXT NOT NULL,
  PRIMARY KEY (alias_id, position)
);

CREATE TABLE alias_webhooks (
  id TEXT PRIMARY KEY,
  alias_id TEXT NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  url TEXT NOT NULL,
  -- HMAC-SHA-256 signing key, base64: returned once to the owner, sent to nodes.
  signing_key TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX alias_webhooks_alias ON alias_webhooks(alias_id);

CREATE TABLE alias_passwords (
  id TEXT PRIMARY KEY,
  alias_id TEXT NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  -- Salt and MK wrapped under the password-derived key (shared/crypto/mailbox-key.ts), base64.
  salt TEXT NOT NULL,
  wrapped_key TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at TEXT
);
CREATE INDEX alias_passwords_alias ON alias_passwords(alias_id, revoked_at);
