/**
 * The mailbox store interface: the one wall between the protocols (IMAP, POP3,
 * SMTP delivery, the tunnel API) and storage. In the spirit of go-imap v2's
 * `imapserver.Session`, but protocol-neutral.
 *
 * Guarantees every implementation gives:
 * - Everything is UID-based. Sequence numbers are a per-connection view kept by
 *   the protocol layer; the store never sees them.
 * - Errors are `StoreError` with a protocol-neutral `kind`; each protocol maps
 *   kinds to wire codes in exactly one place.
 * - A write that resolves is durable (fsync'd) — callers may acknowledge it to a
 *   client the moment the promise resolves.
 * - The store never produces wire syntax: ENVELOPE/BODYSTRUCTURE come back as
 *   structured data (see ../mime/types.ts), bodies as byte chunks.
 * - Folder names are Unicode with "/" as the hierarchy separator; INBOX is
 *   case-insensitive. Modified UTF-7 is IMAP's business.
 * - Each folder keeps the list of keywords ever used in it (it only grows, as
 *   Dovecot's does), capped at STORE_MAX_KEYWORDS_PER_FOLDER: a write that
 *   would define one more fails as `limit` and changes nothing.
 * - Each folder keeps its first unclaimed UID for \Recent (RFC 3501 §2.3.2):
 *   `claimRecent` hands every message to at most one claimer, atomically.
 * - `follow` is only a hint for fewer trips to the store: every answer is one
 *   a call without it could have given.
 */

import type { BodyStructureData, EnvelopeData } from "../mime/types.ts";

export type StoreErrorKind =
  | "not-found" // folder or message does not exist
  | "exists" // folder already exists
  | "over-quota" // write would exceed the mailbox quota
  | "in-use" // e.g. deleting a folder that is selected elsewhere, or mailbox locked
  | "too-big" // message exceeds the size limit
  | "invalid" // malformed argument (bad name, bad key length, …)
  | "bad-key" // the key does not open this mailbox
  | "stale" // file generation older than required (rollback attempt)
  | "cannot" // operation not permitted (delete INBOX, rename to self, …)
  | "limit" // an implementation limit was reached (e.g. keywords per folder)
  | "corrupt" // integrity check failed
  | "temporary"; // retry later (I/O, busy)

export class StoreError extends Error {
  readonly kind: StoreErrorKind;
  constructor(kind: StoreErrorKind, message: string) {
    super(message);
    this.name = "StoreError";
    this.kind = kind;
  }
}

/** Inclusive UID ranges; `end` may be Infinity for "*:…" style open ranges. */
export type UidSet = readonly { start: number; end: number }[];

export type SpecialUse = "\\Inbox" | "\\Drafts" | "\\Sent" | "\\Junk" | "\\Trash" | "\\Archive" | "\\All" | "\\Flagged";

export interface FolderData {
  name: string;
  specialUse: SpecialUse | null;
  subscribed: boolean;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  messages: number;
  unseen: number;
  /** Bytes of all messages in the folder (RFC 8438 STATUS SIZE). */
  size: number;
  /** True when the folder has child folders. */
  hasChildren: boolean;
}

export type FolderStatusData = Omit<FolderData, "hasChildren"> & {
  deleted: number;
  firstUnseenUid: number | null;
  /** Messages no session has claimed as recent yet (`claimRecent`; IMAP STATUS RECENT). */
  recent: number;
  /** Keywords defined in this folder, in the order they were first used (IMAP FLAGS). */
  keywords: string[];
};

/**
 * A \Recent claim (RFC 3501 §2.3.2): the messages with `firstUid <= uid <
 * uidNext` are recent for the claimer. Claims of one folder never overlap.
 */
export interface RecentClaimData {
  firstUid: number;
  uidNext: number;
}

export interface OpenMailboxOptions {
  /** Random mailbox id (also the file name stem). Never an address. */
  id: string;
  /** The raw 32-byte mailbox key (MK). Any other length is refused. */
  key: Uint8Array;
  /** Create the mailbox if it does not exist (default false). */
  create?: boolean;
  /** Refuse to open a file whose generation is lower than this (freshness). */
  minGeneration?: number;
  /** Quota in bytes from the alias settings; undefined = unlimited. */
  quotaBytes?: number;
}

export interface AppendOptions {
  flags?: readonly string[];
  internalDate?: Date;
  /** Idempotency key (e.g. spool id): a second append with the same key returns the first result. */
  dedupeKey?: string;
}

/** One message of `appendBatch`: no dedupe key (batches come from clients, not the spool). */
export interface BatchAppendItem {
  body: MessageBody;
  options?: Omit<AppendOptions, "dedupeKey">;
}

export interface AppendData {
  uid: number;
  uidValidity: number;
  modseq: number;
  /** True when dedupeKey matched an earlier append and nothing new was written. */
  duplicate: boolean;
}

/** `BODY[section]<partial>` / `BINARY[section]` request, already parsed. */
export interface BodySectionRequest {
  /** Part path, [] for the whole message. */
  part: number[];
  /** What of that part. "" = all of it. */
  specifier: "" | "HEADER" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT" | "TEXT" | "MIME";
  /** Field names for HEADER.FIELDS(.NOT). */
  fields?: string[];
  partial?: { offset: number; length: number };
  /** BINARY[]: content-transfer-decoded. */
  binary?: boolean;
  /** BINARY.SIZE: only the decoded size is wanted. */
  sizeOnly?: boolean;
}

export interface FetchOptions {
  flags?: boolean;
  internalDate?: boolean;
  size?: boolean;
  modseq?: boolean;
  envelope?: boolean;
  bodyStructure?: boolean;
  sections?: BodySectionRequest[];
  /** CONDSTORE CHANGEDSINCE: only messages with modseq > this. */
  changedSince?: number;
}

export interface SectionData {
  request: BodySectionRequest;
  /** Exact byte count of `chunks` (needed before writing an IMAP literal). */
  size: number;
  /** The bytes, in order. Consume before asking for the next message. */
  chunks: AsyncIterable<Uint8Array>;
}

/** `envelope` and `bodyStructure` may be one object shared by every fetch of a message: consumers only read them. */
export interface FetchedMessageData {
  uid: number;
  flags?: string[];
  internalDate?: Date;
  size?: number;
  modseq?: number;
  envelope?: EnvelopeData;
  bodyStructure?: BodyStructureData;
  sections?: SectionData[];
}

export interface StoreFlagsOptions {
  op: "add" | "remove" | "replace";
  flags: readonly string[];
  /** CONDSTORE UNCHANGEDSINCE: messages with a higher modseq are not changed. */
  unchangedSince?: number;
}

export interface StoreFlagsData {
  /** Messages whose flags changed, with their new state. */
  changed: { uid: number; flags: string[]; modseq: number }[];
  /** UIDs refused by UNCHANGEDSINCE. */
  modified: number[];
}

export interface CopyData {
  /** UIDVALIDITY of the destination folder. */
  uidValidity: number;
  /** Pairs [source uid, destination uid], in source order. */
  map: [number, number][];
}

/** Search criteria tree. Sequence sets are translated to UIDs by the protocol layer. */
export type SearchKey =
  | { type: "all" }
  | { type: "uid"; set: UidSet }
  | { type: "flag"; flag: string; set: boolean } // system flags and keywords
  | { type: "header"; field: string; value: string } // substring, case-insensitive; "" = field present
  | { type: "address"; field: "from" | "to" | "cc" | "bcc"; value: string }
  | { type: "subject"; value: string }
  | { type: "body"; value: string } // body text only (FTS5, full substring semantics)
  | { type: "text"; value: string } // headers + body (FTS5, full substring semantics)
  | { type: "internal-date"; op: "before" | "on" | "since"; date: string } // YYYY-MM-DD
  | { type: "sent-date"; op: "before" | "on" | "since"; date: string }
  | { type: "size"; op: "larger" | "smaller"; bytes: number }
  | { type: "modseq"; modseq: number }
  | { type: "age"; op: "older" | "younger"; seconds: number } // RFC 5032
  | { type: "regex"; target: "text" | "body" | "header"; field?: string; pattern: string; flags?: string }
  | { type: "and"; keys: SearchKey[] }
  | { type: "or"; left: SearchKey; right: SearchKey }
  | { type: "not"; key: SearchKey };

export type SortKeyName = "arrival" | "cc" | "date" | "from" | "size" | "subject" | "to" | "display-from" | "display-to";
export interface SortKey {
  key: SortKeyName;
  reverse?: boolean;
}

export interface ThreadNodeData {
  uid: number | null; // null for a dummy parent
  children: ThreadNodeData[];
}

export interface ChangesData {
  highestModseq: number;
  /** Messages changed (flags or new) after the given modseq. */
  changed: { uid: number; flags: string[]; modseq: number }[];
  /** UIDs expunged after the given modseq (for VANISHED). */
  expunged: number[];
  /** The folder's keyword list now (as in FolderStatusData), so a new keyword is announced before it is used. */
  keywords: string[];
}

export interface QuotaData {
  usedBytes: number;
  limitBytes: number | null;
  messages: number;
}

/** What SELECT/EXAMINE needs, read in one consistent step (`Mailbox.select`). */
export interface SelectOptions {
  /** Claim the folder's unclaimed \Recent messages, only look at them (a read-only session), or neither. */
  recent: "claim" | "peek" | null;
}

export interface SelectData {
  status: FolderStatusData;
  /** All UIDs in the folder, ascending. */
  uids: number[];
  /** The \Recent claim or peek; null when `recent` was null. */
  recent: RecentClaimData | null;
}

/** Sent to watchers after a write commits; the watcher then asks changesSince(). */
export interface MailboxChangeEvent {
  folder: string;
  modseq: number;
  kind: "append" | "flags" | "expunge" | "folders";
}

export type MessageBody = Uint8Array | AsyncIterable<Uint8Array>;

export interface Mailbox {
  readonly id: string;
  /** Freshness generation after this open (mirror it at the edge). */
  readonly generation: number;

  // Folders
  listFolders(): Promise<FolderData[]>;
  createFolder(name: string, options?: { specialUse?: SpecialUse }): Promise<FolderData>;
  /** Children move with the folder. Renaming INBOX moves its messages to a new folder (RFC 3501 §6.3.5). */
  renameFolder(from: string, to: string): Promise<void>;
  deleteFolder(name: string): Promise<void>;
  subscribe(name: string, subscribed: boolean): Promise<void>;
  status(folder: string): Promise<FolderStatusData>;

  // Messages
  append(folder: string, body: MessageBody, options?: AppendOptions): Promise<AppendData>;
  /**
   * Appends several messages all or nothing (IMAP MULTIAPPEND, RFC 3502): each
   * item is read and checked as it comes, but none becomes visible (no watch
   * event, no UID in `uids`, no change in `changesSince`) until all of them
   * were read and are committed together. If an item fails, or the iterable
   * throws, nothing is written and the error propagates. The total of the
   * bodies is limited by STORE_MAX_APPEND_BATCH_BYTES ("too-big").
   */
  appendBatch(folder: string, items: AsyncIterable<BatchAppendItem>): Promise<AppendData[]>;
  /** All UIDs in the folder, ascending (the protocol layer builds its sequence map from it). */
  uids(folder: string): Promise<number[]>;
  fetch(folder: string, uids: UidSet, options: FetchOptions): AsyncIterable<FetchedMessageData>;
  storeFlags(folder: string, uids: UidSet, options: StoreFlagsOptions): Promise<StoreFlagsData>;
  copy(from: string, uids: UidSet, to: string): Promise<CopyData>;
  move(from: string, uids: UidSet, to: string): Promise<CopyData>;
  /** Expunge \Deleted messages (optionally only those in `uids`); returns the expunged UIDs. */
  expunge(folder: string, uids?: UidSet): Promise<number[]>;
  search(folder: string, criteria: SearchKey): Promise<number[]>;
  sort(folder: string, keys: SortKey[], criteria: SearchKey): Promise<number[]>;
  thread(folder: string, algorithm: "references" | "orderedsubject", criteria: SearchKey): Promise<ThreadNodeData[]>;
  changesSince(folder: string, modseq: number): Promise<ChangesData>;
  /**
   * Takes the messages that arrived since the last claim (RFC 3501 §2.3.2):
   * answers [first unclaimed UID, UIDNEXT) and moves the first unclaimed UID
   * to UIDNEXT, in one atomic write. With `peek` (a read-only session) it only
   * answers the range. Expunged UIDs in the range simply do not exist.
   */
  claimRecent(folder: string, options?: { peek?: boolean }): Promise<RecentClaimData>;
  /**
   * `status`, `uids` and, as asked, `claimRecent` of one folder in one step:
   * no write of another handle lands between them.
   */
  select(folder: string, options: SelectOptions): Promise<SelectData>;
  /**
   * Names the folder whose changes this handle's user tracks and the
   * mod-sequence it has seen there (null: none). A store may then read those
   * changes along with each write of this handle, so that
   * `changesSince(folder, modseq)` right after the write is answered without
   * another trip, unless a newer change was committed meanwhile. The answers
   * stay the same as without it (see the header).
   */
  follow(folder: string | null, modseq: number): void;
  quota(): Promise<QuotaData>;

  /** Called after every committed write to this mailbox, from any handle in this process. */
  watch(listener: (event: MailboxChangeEvent) => void): () => void;

  close(): Promise<void>;
}

/** POP3 maildrop view (RFC 1939): INBOX as a fixed list for the session. */
export interface MaildropEntryData {
  uid: number;
  size: number;
  /** Stable unique id for UIDL: "<uidvalidity>.<uid>". */
  uniqueId: string;
}

export interface MailStore {
  /** Opens (or creates) a mailbox. Several opens of one id share one underlying owner. */
  open(options: OpenMailboxOptions): Promise<Mailbox>;
  /** True when a mailbox with this id exists. */
  exists(id: string): Promise<boolean>;
  /** Permanently deletes a mailbox file and all its side files. */
  destroy(id: string): Promise<void>;
  /** Closes every mailbox and stops the worker pool. */
  close(): Promise<void>;
}
