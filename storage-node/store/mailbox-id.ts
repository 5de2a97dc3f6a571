/**
 * Mailbox ids and keys, checked before any storage sees them.
 *
 * Invariants:
 * - An id is a random token of 8–128 characters [A-Za-z0-9_-]: safe as a file
 *   name stem, never an address.
 * - A key is exactly 32 raw bytes; anything else is refused (SQLite3MultipleCiphers
 *   would silently run PBKDF2 over a key of another length).
 * - Error messages never contain the key or its length-revealing contents.
 */

import { StoreError } from "./types.ts";

export const MAILBOX_KEY_BYTES = 32;

export function checkMailboxId(id: string): void {
  if (typeof id !== "string" || !/^[A-Za-z0-9_-]{8,128}$/.test(id)) throw new StoreError("invalid", "mailbox id must be 8-128 characters of [A-Za-z0-9_-]");
}

export function checkMailboxKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.byteLength !== MAILBOX_KEY_BYTES) throw new StoreError("invalid", "mailbox key must be exactly 32 bytes");
}

/** Default folders of a new mailbox and their special-use (RFC 6154). */
export const DEFAULT_FOLDERS = [
  { name: "INBOX", specialUse: "\\Inbox" },
  { name: "Drafts", specialUse: "\\Drafts" },
  { name: "Sent", specialUse: "\\Sent" },
  { name: "Junk", specialUse: "\\Junk" },
  { name: "Trash", specialUse: "\\Trash" },
  { name: "Archive", specialUse: "\\Archive" },
] as const;
