/**
 * FolderData / FolderStatusData as every store answers them, from the
 * folder's own record and the counts of its messages.
 *
 * Invariants:
 * - LIST order: INBOX and its children first, then by name (code point order).
 * - `hasChildren` is true exactly when another folder's name lies below this one.
 */

import { isFolderDescendant } from "./folder-name.ts";
import type { FolderData, FolderStatusData } from "./types.ts";

/** What a folder itself records; the rest of FolderData is counted from its messages. */
export type FolderRecord = Pick<FolderData, "name" | "specialUse" | "subscribed" | "uidValidity" | "uidNext" | "highestModseq"> & {
  /** Keywords defined in the folder (flag-names.ts defineKeywords). */
  keywords: string[];
};

export interface FolderCounts {
  messages: number;
  unseen: number;
  deleted: number;
  size: number;
  firstUnseenUid: number | null;
  /** Messages not yet claimed as recent. */
  recent: number;
}

/** INBOX first, then by name. */
export function folderOrder(a: string, b: string): number {
  const ia = a === "INBOX" || a.startsWith("INBOX/") ? 0 : 1;
  const ib = b === "INBOX" || b.startsWith("INBOX/") ? 0 : 1;
  return ia - ib || (a < b ? -1 : a > b ? 1 : 0);
}

export function folderStatusData(f: FolderRecord, c: FolderCounts): FolderStatusData {
  return {
    name: f.name,
    specialUse: f.specialUse,
    subscribed: f.subscribed,
    uidValidity: f.uidValidity,
    uidNext: f.uidNext,
    highestModseq: f.highestModseq,
    messages: c.messages,
    unseen: c.unseen,
    deleted: c.deleted,
    size: c.size,
    firstUnseenUid: c.firstUnseenUid,
    recent: c.recent,
    keywords: [...f.keywords],
  };
}

/** Every folder in LIST order; `counts` is asked once per folder. */
export function folderList<F extends FolderRecord>(folders: readonly F[], counts: (f: F) => FolderCounts): FolderData[] {
  const names = folders.map((f) => f.name);
  return [...folders]
    .sort((a, b) => folderOrder(a.name, b.name))
    .map((f) => {
      const { deleted: _deleted, firstUnseenUid: _first, recent: _recent, keywords: _keywords, ...status } = folderStatusData(f, counts(f));
      return { ...status, hasChildren: names.some((n) => isFolderDescendant(n, f.name)) };
    });
}
