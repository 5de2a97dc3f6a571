/**
 * The limits one IMAP server runs with: the defaults from storage-node/limits.ts,
 * optionally overridden (tests drive every limit to its edge with small values).
 */

import * as limits from "../limits.ts";

export interface ImapLimits {
  maxLineBytes: number;
  maxCommandBytes: number;
  maxMessageBytes: number;
  maxAppendMessages: number;
  maxDiscardBytes: number;
  maxBadCommands: number;
  preauthTimeoutMs: number;
  authTimeoutMs: number;
  idleMaxMs: number;
  maxConnectionsPerIp: number;
  maxConnectionsPerUser: number;
  maxSearchDepth: number;
  maxRegexLength: number;
  maxFetchSections: number;
  outputHighWaterBytes: number;
  shutdownGraceMs: number;
}

export const DEFAULT_IMAP_LIMITS: ImapLimits = {
  maxLineBytes: limits.IMAP_MAX_LINE_BYTES,
  maxCommandBytes: limits.IMAP_MAX_COMMAND_BYTES,
  maxMessageBytes: limits.IMAP_MAX_MESSAGE_BYTES,
  maxAppendMessages: limits.IMAP_MAX_APPEND_MESSAGES,
  maxDiscardBytes: limits.IMAP_MAX_DISCARD_BYTES,
  maxBadCommands: limits.IMAP_MAX_BAD_COMMANDS,
  preauthTimeoutMs: limits.IMAP_PREAUTH_TIMEOUT_MS,
  authTimeoutMs: limits.IMAP_AUTH_TIMEOUT_MS,
  idleMaxMs: limits.IMAP_IDLE_MAX_MS,
  maxConnectionsPerIp: limits.IMAP_MAX_CONNECTIONS_PER_IP,
  maxConnectionsPerUser: limits.IMAP_MAX_CONNECTIONS_PER_USER,
  maxSearchDepth: limits.IMAP_MAX_SEARCH_DEPTH,
  maxRegexLength: limits.IMAP_MAX_REGEX_LENGTH,
  maxFetchSections: limits.IMAP_MAX_FETCH_SECTIONS,
  outputHighWaterBytes: limits.IMAP_OUTPUT_HIGH_WATER_BYTES,
  shutdownGraceMs: limits.IMAP_SHUTDOWN_GRACE_MS,
};

export function resolveImapLimits(overrides: Partial<ImapLimits> = {}): ImapLimits {
  return { ...DEFAULT_IMAP_LIMITS, ...overrides };
}
