/**
 * Every size, count and time limit of the storage node, in one place.
 * Each limit is tested at its edge by the module that enforces it.
 * Sections are owned by the subsystem named in their heading; add new limits
 * here rather than as literals in code.
 */

// ---- Store -----------------------------------------------------------------

/** Largest message the store accepts (APPEND, delivery), in bytes. */
export const STORE_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Most bytes of all messages of one all-or-nothing batch append (IMAP MULTIAPPEND), held until the batch commits. */
export const STORE_MAX_APPEND_BATCH_BYTES = 128 * 1024 * 1024;
/** Longest folder name, in UTF-16 code units of the Unicode name. */
export const STORE_MAX_FOLDER_NAME_CHARS = 512;
/** Deepest folder hierarchy ("a/b/c" has depth 3). */
export const STORE_MAX_FOLDER_DEPTH = 16;
/** Most folders one mailbox may hold. */
export const STORE_MAX_FOLDERS = 2_000;
/** Longest keyword (flag without a leading backslash). */
export const STORE_MAX_KEYWORD_CHARS = 128;
/** Most distinct flags/keywords on one message. */
export const STORE_MAX_FLAGS_PER_MESSAGE = 64;
/**
 * Most keywords one folder may define (its FLAGS list, RFC 3501 §7.2.6; the
 * list only grows). A write that would define one more fails as `limit`.
 */
export const STORE_MAX_KEYWORDS_PER_FOLDER = 256;
/** Longest dedupe key (spool id). */
export const STORE_MAX_DEDUPE_KEY_CHARS = 256;
/** Longest search string in a SEARCH key. */
export const STORE_MAX_SEARCH_VALUE_CHARS = 1_024;
/** Regex search: longest pattern and largest compiled program (linear-time matcher). */
export const REGEX_MAX_PATTERN_CHARS = 256;
export const REGEX_MAX_PROGRAM_SIZE = 4_096;
/** A leaf MIME part at least this large is stored once per mailbox under its SHA-256. */
export const STORE_BLOB_MIN_BYTES = 16 * 1024;
/** Chunk size for stored bodies and for streamed section reads. */
export const STORE_CHUNK_BYTES = 256 * 1024;
/** Most concurrent writes folded into one group commit. */
export const STORE_GROUP_COMMIT_MAX_OPS = 256;
/** At most this many trigrams of a TEXT/BODY needle are looked up in the index (the rest is verified by the scan). */
export const STORE_FTS_QUERY_TRIGRAMS = 16;
/**
 * Appended contents wait this many at most for the text index: the append
 * that makes the count reach it indexes them all in one go (one FTS5 segment
 * per batch instead of one per transaction). Until then a TEXT/BODY search
 * scans the waiting contents directly, so it stays exact.
 */
export const STORE_FTS_PENDING_MAX = 32;
/**
 * Contents whose last message was expunged wait this many at most before
 * their rows (segments, records, text index entries, blob references) are
 * deleted: the expunge that makes the count reach it deletes them all in one
 * go, so one EXPUNGE writes only message rows and a reference count. A
 * waiting content belongs to no message, so nothing can read or find it, and
 * it counts toward no quota.
 */
export const STORE_PURGE_PENDING_MAX = 32;
/**
 * Decoded body text an open mailbox keeps in memory for SEARCH (characters,
 * least recently used dropped first); a text longer than this is never kept.
 */
export const STORE_SEARCH_CACHE_CHARS = 1_000_000;
/**
 * Head records (ENVELOPE, BODYSTRUCTURE, header fields) an open mailbox keeps
 * in memory, decoded, for FETCH and header SEARCH (bytes of the stored record,
 * least recently used dropped first).
 */
export const STORE_HEAD_CACHE_BYTES = 1_000_000;
/**
 * Parsed ENVELOPE/BODYSTRUCTURE an open SQLite mailbox handle keeps on the main
 * thread for FETCH (characters of their JSON, least recently used dropped first).
 * IMAP keeps the formatted text of each object while the object lives, about
 * as many characters again (commands/fetch.ts).
 */
export const STORE_FETCH_HEAD_CACHE_BYTES = 256_000;
/** A TEXT/BODY search with at most this many index candidates reads only their rows; more, and the folder is scanned. */
export const STORE_SEARCH_LOOKUP_MAX = 5_000;
/** An append of at most this many bytes may be parsed and compressed by any storage worker; larger ones only by the mailbox's owner. */
export const STORE_PREPARE_ANYWHERE_MAX_BYTES = 1024 * 1024;
/** Prepared statements kept per open mailbox (least recently used dropped first). */
export const STORE_STATEMENT_CACHE_MAX = 128;
/** A FETCH round trip to the mailbox worker carries at most this many messages … */
export const STORE_FETCH_BATCH_MESSAGES = 64;
/** … and stops after the message whose inline section bytes reach this total (larger sections are streamed, and end the batch). */
export const STORE_FETCH_BATCH_INLINE_BYTES = 256 * 1024;
/**
 * A mailbox's WAL is checkpointed (its fsyncs off the worker thread) after this many
 * write transactions or this many appended message bytes, whichever comes first.
 */
export const STORE_CHECKPOINT_WRITES = 64;
export const STORE_CHECKPOINT_BYTES = 8 * 1024 * 1024;
/** Backstop: SQLite checkpoints by itself (blocking) once the WAL holds this many pages. */
export const STORE_WAL_AUTOCHECKPOINT_PAGES = 16_384;
/** A failed checkpoint sync is retried after this long (the mailbox waits meanwhile). */
export const STORE_SYNC_RETRY_MS = 1_000;

// ---- MIME indexer ------------------------------------------------------------

/** Deepest MIME nesting (multipart or message/rfc822 levels) that is parsed;
 * a part deeper than this is indexed as a single opaque part. */
export const MIME_MAX_DEPTH = 64;
/** Most MIME parts indexed per message; once reached, the rest of the message
 * is kept as the body of the last part (no further boundaries are honoured). */
export const MIME_MAX_PARTS = 5_000;
/** Most header fields interpreted per header block; further fields stay in the
 * raw bytes (and in BODY[HEADER]) but are not indexed. */
export const MIME_MAX_HEADER_FIELDS = 1_000;
/** Longest header field value (octets) interpreted; longer values are cut. */
export const MIME_MAX_HEADER_FIELD_BYTES = 64 * 1024;
/** Most header octets interpreted per header block; the rest is scanned only to
 * find the end of the header. */
export const MIME_MAX_HEADER_BYTES = 1024 * 1024;
/** Most Content-Type / Content-Disposition parameters kept per field. */
export const MIME_MAX_PARAMETERS = 64;
/** Most addresses kept per address header field. */
export const MIME_MAX_ADDRESSES = 1_000;
/** Most octets of decoded text kept for full-text search, per message. */
export const MIME_MAX_TEXT_BYTES = 4 * 1024 * 1024;
/** Most References message-ids kept for threading. */
export const MIME_MAX_REFERENCES = 256;

// ---- IMAP ----------------------------------------------------------------------

/** Longest command line (without literals) the IMAP receiver accepts, in bytes. */
export const IMAP_MAX_LINE_BYTES = 64 * 1024;
/** Most bytes one IMAP command may carry (lines plus non-APPEND literals). */
export const IMAP_MAX_COMMAND_BYTES = 1024 * 1024;
/** Largest message accepted by APPEND (advertised as APPENDLIMIT, RFC 7889). */
export const IMAP_MAX_MESSAGE_BYTES = 50 * 1024 * 1024;
/** Largest refused non-synchronizing literal whose bytes are read and dropped; beyond it the connection closes. */
export const IMAP_MAX_DISCARD_BYTES = 64 * 1024 * 1024;
/** Most messages in one MULTIAPPEND command (RFC 3502). */
export const IMAP_MAX_APPEND_MESSAGES = 1000;
/** Consecutive malformed commands before the server says BYE. */
export const IMAP_MAX_BAD_COMMANDS = 10;
/** Idle time before login after which the connection is closed. */
export const IMAP_PREAUTH_TIMEOUT_MS = 60 * 1000;
/** Idle time after login (RFC 3501 §5.4: at least 30 minutes). */
export const IMAP_AUTH_TIMEOUT_MS = 30 * 60 * 1000;
/** Longest an IDLE may last before the server ends it (RFC 2177: re-issue at least every 29 minutes). */
export const IMAP_IDLE_MAX_MS = 30 * 60 * 1000;
/** Concurrent connections from one client IP. */
export const IMAP_MAX_CONNECTIONS_PER_IP = 50;
/** Concurrent authenticated sessions of one mailbox. */
export const IMAP_MAX_CONNECTIONS_PER_USER = 20;
/** Deepest nesting of SEARCH keys (parentheses, OR, NOT). */
export const IMAP_MAX_SEARCH_DEPTH = 32;
/** Longest pattern accepted by the regular-expression SEARCH keys, in characters. */
export const IMAP_MAX_REGEX_LENGTH = 256;
/** Most body sections requested in one FETCH. */
export const IMAP_MAX_FETCH_SECTIONS = 64;
/** How long a graceful shutdown waits for busy IMAP sessions before closing them. */
export const IMAP_SHUTDOWN_GRACE_MS = 10 * 1000;
/**
 * Stop signals this soon after the first are the same request: Ctrl-C in a
 * terminal reaches the node and the supervisor that started it (npm start)
 * together, and the supervisor then sends SIGTERM. A later signal stops the
 * node at once.
 */
export const NODE_STOP_SIGNAL_COALESCE_MS = 2 * 1000;
/** Output buffered for one connection before the writer waits for the socket to drain. */
export const IMAP_OUTPUT_HIGH_WATER_BYTES = 256 * 1024;

// ---- Login / throttling -----------------------------------------------------------

export const AUTH_LIMITS = {
  /** Sliding window over which failed logins are counted. */
  failureWindowMs: 15 * 60_000,
  /** Failures from one IP within the window before further attempts are refused unchecked. */
  maxFailuresPerIp: 20,
  /** Failures for one address within the window (from anywhere) before it is refused unchecked. */
  maxFailuresPerAddress: 10,
  /** Bound on the IPs/addresses tracked by the throttle (oldest evicted). */
  maxTrackedKeys: 100_000,
  /** Bound on cached credential records. */
  maxCachedAddresses: 50_000,
  /** How long "no such address" is cached. */
  negativeCacheMs: 10_000,
  /** Longest address accepted at login. */
  maxAddressLength: 320,
  /** Longest password accepted at login (generated ones are far shorter). */
  maxPasswordLength: 1024,
} as const;

// ---- Tunnel ------------------------------------------------------------------------

export const TUNNEL_LIMITS = {
  /** Largest tunnel frame accepted (directory records are small; bulk data goes over HTTPS). */
  maxFrameBytes: 1024 * 1024,
  /** An RPC call without an answer after this long resolves as `timeout`. */
  rpcTimeoutMs: 10_000,
  /** Reconnect backoff: first delay and ceiling (jittered). */
  backoffBaseMs: 250,
  backoffMaxMs: 30_000,
  /** Heartbeat interval, and how long past it silence means a dead link. */
  heartbeatMs: 15_000,
  heartbeatTimeoutMs: 10_000,
  /** How long a starting node waits for its first tunnel connection before reporting ready anyway. */
  startupWaitMs: 15_000,
} as const;

// ---- Peer links (node ↔ node) -------------------------------------------------------

export const PEER_LIMITS = {
  /** Largest peer frame: a sealed message of MX_LIMITS.maxMessageBytes in base64 plus its JSON envelope. */
  maxFrameBytes: 48 * 1024 * 1024,
  /** Calls waiting for an answer on one link; one more is refused at once as `busy`. */
  maxPendingCalls: 64,
  /** Inbound links one peer node may hold open at once; one more is refused (503). */
  maxConnectionsPerPeer: 4,
  /** Dial + both handshake signatures must complete within this. */
  handshakeTimeoutMs: 5_000,
  /** How long the MX waits for the home node's acknowledgement before it queues the relay instead. */
  relayTimeoutMs: 5_000,
  /** A relay from the queue (larger messages, a busy home node) may take this long. */
  queuedRelayTimeoutMs: 60_000,
  /** An outbound link with no call for this long is closed. */
  idleMs: 60_000,
  /** After a failed dial, calls to that peer fail at once for backoffBaseMs · 2^n (up to backoffMaxMs, jittered). */
  backoffBaseMs: 250,
  backoffMaxMs: 30_000,
  /** A peer's public key and URL from the edge are reused for this long. */
  lookupCacheMs: 60_000,
  /** Relays in flight at once from the relay queue. */
  relayConcurrency: 4,
  /**
   * IMAP sessions proxied to one peer at once (DESIGN §2.1), counted on both
   * ends: the dialling node answers one more login NO [UNAVAILABLE], the home
   * node refuses one more session socket (503). Separate from
   * maxConnectionsPerPeer, which bounds the RPC links.
   */
  maxProxiedSessionsPerPeer: 1_000,
  /** The home node's answer to a proxied login (its edge look-up and failure delay included) must come within this. */
  proxyLoginTimeoutMs: 15_000,
  /**
   * A proxied session's link to the home node that has carried no frame and
   * no pong for this long is dead: the client-facing node pings every third
   * of it, and ends the client's session with BYE at most a third of it after
   * the limit (a silent partition would otherwise last until TCP gives up).
   * The `peerKeepaliveMs` setting overrides it.
   */
  proxyKeepaliveMs: 30_000,
  /** Relay queue retry ceiling (the base is the relayRetryBaseMs setting). Relays never give up: the mail is the mailbox's. */
  relayRetryMaxMs: 10 * 60_000,
} as const;

// ---- MX / spool / queues ------------------------------------------------------------

export const MX_LIMITS = {
  /** Largest message the MX accepts (advertised as SIZE, RFC 1870); enforced while streaming. */
  maxMessageBytes: 32 * 1024 * 1024,
  /** Message bytes held in memory by all DATA transfers at once; past it a DATA gets 452 4.3.1. */
  maxBufferedBytes: 512 * 1024 * 1024,
  /** Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100 must be accepted). */
  maxRecipients: 100,
  /** Concurrent connections, in all and from one client IP. */
  maxConnections: 1_000,
  maxConnectionsPerIp: 20,
  /** Transactions (MAIL FROM) one client IP may start per window. */
  maxMessagesPerIpPerWindow: 600,
  rateWindowMs: 60_000,
  /** Bound on the client IPs tracked by the rate limiter (oldest evicted). */
  maxTrackedIps: 100_000,
  /** Longest address in MAIL FROM / RCPT TO (RFC 5321 §4.5.3.1.3: path of 256 octets). */
  maxAddressLength: 254,
  /** Idle time on a connection before it is closed (RFC 5321 §4.5.3.2: at least 5 minutes). */
  socketTimeoutMs: 5 * 60_000,
  /** How long a resolved route (or "no such alias") is cached; a push invalidates sooner. */
  routeCacheMs: 60_000,
  negativeRouteCacheMs: 10_000,
  maxCachedRoutes: 50_000,
  /** DNS look-ups of SPF/DKIM/DMARC/ARC: per-try timeout and tries. */
  dnsTimeoutMs: 2_000,
  dnsTries: 2,
} as const;

export const SPOOL_LIMITS = {
  /** Most writes folded into one fsync'd spool commit. */
  groupCommitMaxOps: 256,
  /** Sealed entries opened per drain batch (the rest follow in further batches). */
  drainBatch: 64,
} as const;

export const OUTBOUND_LIMITS = {
  /** Deliveries in flight at once. */
  concurrency: 4,
  /** Retry delay ceiling (the base is the outboundRetryBaseMs setting). */
  retryMaxMs: 4 * 60 * 60_000,
  /** Give up and bounce after this long (RFC 5321 §4.5.4.1: at least 4–5 days). */
  giveUpAfterMs: 5 * 24 * 60 * 60_000,
  /** Connect / greeting / per-command timeouts of the SMTP client. */
  connectTimeoutMs: 30_000,
  socketTimeoutMs: 5 * 60_000,
  /** Most bytes of the original message returned inside a DSN (headers always). */
  dsnMaxReturnedBytes: 64 * 1024,
  /** MTA-STS policy fetch (RFC 8461 §3.3): largest policy body and whole-fetch timeout. */
  mtaStsPolicyMaxBytes: 64 * 1024,
  mtaStsFetchTimeoutMs: 30_000,
  /** Longest a policy is cached, whatever its max_age says (RFC 8461 §3.2: max_age ≤ 31557600 s). */
  mtaStsMaxAgeSeconds: 31_557_600,
  /** Recipient domains whose MTA-STS policy is held in memory (oldest evicted). */
  mtaStsMaxCachedPolicies: 10_000,
} as const;

export const WEBHOOK_LIMITS = {
  /** Deliveries in flight at once. */
  concurrency: 4,
  /** Retry delay ceiling (the base is the webhookRetryBaseMs setting). */
  retryMaxMs: 60 * 60_000,
  /** Give up after this long (at least 24 hours of retries). */
  giveUpAfterMs: 3 * 24 * 60 * 60_000,
  /** Whole request timeout. */
  requestTimeoutMs: 30_000,
} as const;
