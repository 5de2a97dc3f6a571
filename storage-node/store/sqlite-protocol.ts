/**
 * Messages between the main thread (sqlite-store.ts) and the mailbox worker
 * threads (sqlite-worker.ts).
 *
 * Invariants:
 * - Only structured-cloneable data crosses: no functions, no Database handles.
 * - Every request carries an id and gets exactly one response.
 * - Errors cross as { kind, message } and are rebuilt as StoreError; messages
 *   never carry keys or message content.
 */

import type { ChangesData, FetchOptions, MailboxChangeEvent, StoreErrorKind } from "./types.ts";

/** A write that should also read the changes in `folder` since `modseq`, right after it (Mailbox.follow). */
export interface FollowArgs {
  folder: string;
  modseq: number;
}

export interface WorkerRequest {
  t: "req";
  id: number;
  mailbox: string;
  op: string;
  args: unknown[];
  follow?: FollowArgs;
}

export interface WorkerChunk {
  t: "chunk";
  stream: number;
  data: Uint8Array;
}

export interface WorkerResponse {
  t: "res";
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { kind: StoreErrorKind; message: string };
  /** Answer to `follow`: read in the write's own task, after it. */
  changes?: ChangesData;
}

export interface WorkerEvent {
  t: "event";
  mailbox: string;
  event: MailboxChangeEvent;
}

/** Requests and chunks queued in one turn of the main thread's event loop, in order, as one message. */
export interface WorkerManyIn {
  t: "many";
  messages: (WorkerRequest | WorkerChunk)[];
}

export type ToWorker = WorkerRequest | WorkerChunk | WorkerManyIn;
/** Several responses and events of one group commit, in order, as one message. */
export interface WorkerMany {
  t: "many";
  messages: (WorkerResponse | WorkerEvent)[];
}

export type FromWorker = WorkerResponse | WorkerEvent | WorkerMany;

export interface OpenArgs {
  path: string;
  key: Uint8Array;
  create: boolean;
  minGeneration?: number;
  quotaBytes?: number;
  plaintextForBenchmark?: boolean;
  /** Reopen after a worker died: how many handles the main thread holds (default 1). */
  handles?: number;
}

/** One section of a fetched message: small ones inline, larger ones read by handle. */
export interface SectionHead {
  size: number;
  inline?: Uint8Array;
  handle?: number;
}

export interface FetchHead {
  uid: number;
  flags?: string[];
  internalDate?: number;
  size?: number;
  modseq?: number;
  /**
   * ENVELOPE and BODYSTRUCTURE as the head record's JSON text: a string crosses
   * threads as one copy, where the parsed objects would be serialized field by
   * field; the main thread parses it.
   */
  headItems?: string;
  /**
   * The worker's serial of the head record `headItems` came from: each record
   * it decodes gets a new one, never reused by that worker, so one worker's
   * equal serials always mean equal text (a content id, reused by SQLite
   * after the highest one is deleted, would not).
   */
  headKey?: number;
  sections?: SectionHead[];
}

/**
 * One round trip of a FETCH: consecutive messages in UID order. A message with
 * a section read by handle is the last of its batch, so its handles stay valid
 * until the next batch is asked for.
 */
export interface FetchBatch {
  heads: FetchHead[];
  /** No messages left after these. */
  done: boolean;
  /** The worker has dropped the cursor (done and nothing left to read by handle): no fetchClose needed. */
  closed: boolean;
}

/** fetchOpen answers with the cursor and its first batch. */
export interface FetchOpenResult extends FetchBatch {
  cursor: number;
}

export type FetchOpenArgs = [folder: string, uids: { start: number; end: number }[], options: FetchOptions];
