/**
 * Per-connection view of the selected folder: the sequence-number map and the
 * changes not yet reported to this client (go-imap's tracker.go idea).
 *
 * Invariants:
 * - `uids` is ascending; sequence number n is `uids[n - 1]`. It changes only
 *   when this client is told: EXISTS appends, EXPUNGE/VANISHED removes.
 * - An expunge made by another session is held back (`pendingExpunges`) until
 *   an EXPUNGE response is allowed (RFC 3501 §7.4.1: never while responding to
 *   FETCH, STORE or SEARCH). Until then the message keeps its number, and
 *   EXISTS counts it.
 * - Sequence sets resolve only to UIDs the client has been told about; a
 *   message appended elsewhere is invisible until its EXISTS went out.
 * - Flag changes this session already reported itself (STORE, implicit \Seen)
 *   are not reported again by `sync`.
 * - `resyncModseq` never passes a change this client has not been told about:
 *   while expunges are held back it stays at the mod-sequence from before the
 *   first of them (RFC 7162 §3.2.10, RFC 5162 erratum 1810), so a client that
 *   resynchronizes from it loses nothing.
 * - A keyword reaches the client in FLAGS before any response that uses it
 *   (RFC 3501 §7.2.6): `keywords` is what the client was told; anything new is
 *   announced first (mailbox-flags.ts).
 * - \Recent (RFC 3501 §2.3.2) is the UID ranges this session claimed from the
 *   store (or peeked at, when read-only); it is never stored as a flag. After
 *   new mail's EXISTS, and after EXPUNGEs, RECENT follows when the count
 *   differs from the last one the client was told (as Dovecot does). Under IMAP4rev2 nothing is claimed (RFC 9051 dropped it).
 */

import type { ChangesData, Mailbox, RecentClaimData, UidSet } from "../store/types.ts";
import type { SequenceSet } from "./wire/command-cursor.ts";
import type { ResponseWriter } from "./wire/response-writer.ts";
import { CommandError } from "./command.ts";
import { writeMailboxFlags } from "./mailbox-flags.ts";
import { formatFlags, formatUidSet } from "./wire/format.ts";

/** How a session takes part in \Recent: claims (read-write), peeks (read-only), or not at all (IMAP4rev2). */
export type RecentMode = "claim" | "peek" | null;

export interface SyncOptions {
  allowExpunge: boolean;
  condstore: boolean;
  qresync: boolean;
  readOnly: boolean;
}

export class SequenceTracker {
  uids: number[];
  modseq: number;
  private pendingExpunges = new Set<number>();
  private reported = new Map<number, number>();
  /** `modseq` before the sync that first held an expunge back. */
  private pendingSince = 0;
  /** Keywords announced in FLAGS, and the same in lower case. */
  keywords: string[] = [];
  private keywordKeys = new Set<string>();
  /** Half-open UID ranges [start, end) that are \Recent in this session, ascending and disjoint. */
  private recentRanges: [number, number][] = [];
  /** Every UID below this was claimed by someone (this session's last claim or peek). */
  private claimedBelow = 0;
  /** The RECENT count the client was last told. */
  private reportedRecent = 0;
  /** Set by SELECT/EXAMINE; null (IMAP4rev2, or no selection yet) means no \Recent at all. */
  recentMode: RecentMode = null;

  constructor(uids: number[], modseq: number) {
    this.uids = uids;
    this.modseq = modseq;
  }

  get exists(): number {
    return this.uids.length;
  }

  /** Sequence number of `uid`, or 0 when the client does not know it. */
  seqOf(uid: number): number {
    let low = 0;
    let high = this.uids.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const value = this.uids[mid];
      if (value === uid) return mid + 1;
      if (value < uid) low = mid + 1;
      else high = mid - 1;
    }
    return 0;
  }

  /** The highest mod-sequence a client may resynchronize from (HIGHESTMODSEQ response code). */
  get resyncModseq(): number {
    return this.pendingExpunges.size > 0 ? this.pendingSince : this.modseq;
  }

  /**
   * Makes sure the client knows every keyword in `keywords`: when one is new,
   * FLAGS and PERMANENTFLAGS go out (before the caller writes what uses it).
   */
  announceKeywords(keywords: readonly string[], out: ResponseWriter, readOnly: boolean): void {
    let grown = false;
    for (const keyword of keywords) {
      if (keyword.startsWith("\\")) continue;
      const key = keyword.toLowerCase();
      if (this.keywordKeys.has(key)) continue;
      this.keywordKeys.add(key);
      this.keywords.push(keyword);
      grown = true;
    }
    if (grown) writeMailboxFlags(out, this.keywords, readOnly);
  }

  /** Sets the keywords SELECT announced. */
  setKeywords(keywords: readonly string[]): void {
    this.keywords = [...keywords];
    this.keywordKeys = new Set(keywords.map((keyword) => keyword.toLowerCase()));
  }

  /** Adds a claim (or peek) from the store: its UIDs are \Recent here. */
  addRecent(claim: RecentClaimData): void {
    if (claim.uidNext > this.claimedBelow) this.claimedBelow = claim.uidNext;
    if (claim.uidNext <= claim.firstUid) return;
    const last = this.recentRanges[this.recentRanges.length - 1];
    if (last && last[1] >= claim.firstUid) last[1] = Math.max(last[1], claim.uidNext);
    else this.recentRanges.push([claim.firstUid, claim.uidNext]);
  }

  /** True when a claim may still give this session some of `uids` (ascending): they are past every claim so far. */
  needsClaim(uids: readonly number[]): boolean {
    return uids.length > 0 && uids[uids.length - 1] >= this.claimedBelow;
  }

  isRecent(uid: number): boolean {
    for (const [start, end] of this.recentRanges) if (uid >= start && uid < end) return true;
    return false;
  }

  /** Messages the client knows that are \Recent in this session. */
  get recentCount(): number {
    let count = 0;
    for (const [start, end] of this.recentRanges) count += this.lowerBound(end) - this.lowerBound(start);
    return count;
  }

  /** The \Recent UIDs as a store set (SEARCH RECENT/NEW/OLD); empty when there are none. */
  recentUidSet(): UidSet {
    return this.recentRanges.map(([start, end]) => ({ start, end: end - 1 }));
  }

  /** A message's flags as this session shows them: with \Recent when it is recent here. */
  flagsOf(uid: number, flags: readonly string[]): string[] {
    return this.recentRanges.length > 0 && this.isRecent(uid) ? [...flags, "\\Recent"] : [...flags];
  }

  /** Writes `n RECENT` when forced (SELECT) or when the count changed since the client was last told. */
  reportRecent(out: ResponseWriter, force: boolean): void {
    const count = this.recentCount;
    if (!force && count === this.reportedRecent) return;
    out.untagged(`${count} RECENT`);
    this.reportedRecent = count;
  }

  get hasPendingExpunges(): boolean {
    return this.pendingExpunges.size > 0;
  }

  isPendingExpunge(uid: number): boolean {
    return this.pendingExpunges.has(uid);
  }

  /** Marks a flag change as already sent to this client. */
  markReported(uid: number, modseq: number): void {
    this.reported.set(uid, modseq);
  }

  /**
   * Resolves a sequence set (or a UID set) to the known UIDs it names, ascending.
   * RFC 3501 §6.4.8: "*" in a UID set is the largest UID in use, so "n:*" always
   * includes the last message even when n is larger.
   */
  resolve(set: SequenceSet, byUid: boolean, saved: number[] | null, lenient = false): number[] {
    if (set.saved) {
      if (saved === null) return [];
      return saved.filter((uid) => this.seqOf(uid) > 0);
    }
    // Each range becomes a half-open index window [from, to) into `uids`; windows are merged,
    // so the answer is sliced out in O(ranges · log ranges + answer), never built from a Set.
    const windows: [number, number][] = [];
    const last = this.uids.length;
    if (byUid) {
      const maxUid = last > 0 ? this.uids[last - 1] : 0;
      for (const range of set.ranges) {
        let start = range.start === "*" ? maxUid : range.start;
        let end = range.end === "*" ? maxUid : range.end;
        if (start > end) [start, end] = [end, start];
        const from = this.lowerBound(start);
        const to = end >= maxUid ? last : this.lowerBound(end + 1);
        if (from < to) windows.push([from, to]);
      }
    } else {
      for (const range of set.ranges) {
        if (last === 0) {
          if (lenient) continue;
          throw new CommandError("BAD", null, "No messages in the mailbox");
        }
        let start = range.start === "*" ? last : range.start;
        let end = range.end === "*" ? last : range.end;
        if (start > end) [start, end] = [end, start];
        // A sequence number beyond EXISTS is a client error, except in SEARCH criteria.
        if (end > last) {
          if (!lenient) throw new CommandError("BAD", null, "Invalid message sequence number");
          end = last;
        }
        if (start <= end) windows.push([start - 1, end]);
      }
    }
    if (windows.length === 0) return [];
    if (windows.length === 1) return this.uids.slice(windows[0][0], windows[0][1]);
    windows.sort((a, b) => a[0] - b[0]);
    const result: number[] = [];
    let [from, to] = windows[0];
    for (let i = 1; i <= windows.length; i++) {
      const next = windows[i];
      if (next !== undefined && next[0] <= to) {
        if (next[1] > to) to = next[1];
        continue;
      }
      for (let j = from; j < to; j++) result.push(this.uids[j]);
      if (next !== undefined) [from, to] = next;
    }
    return result;
  }

  private lowerBound(uid: number): number {
    let low = 0;
    let high = this.uids.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.uids[mid] < uid) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Removes UIDs this session expunged itself and writes EXPUNGE or VANISHED for them. */
  reportExpunged(expunged: readonly number[], out: ResponseWriter, qresync: boolean): void {
    const known = expunged.filter((uid) => this.seqOf(uid) > 0).sort((a, b) => a - b);
    if (known.length === 0) return;
    if (qresync) {
      // RFC 7162 §3.2.10: VANISHED replaces EXPUNGE once QRESYNC is enabled.
      out.untagged("VANISHED ", formatUidSet(known));
    } else {
      // Descending order keeps the numbers of not-yet-reported messages stable:
      // each number is the one the client has before this EXPUNGE is applied.
      for (let i = known.length - 1; i >= 0; i--) out.untagged(`${this.seqOf(known[i])} EXPUNGE`);
    }
    // One pass over the map instead of a splice per message.
    const removed = new Set(known);
    this.uids = this.uids.filter((uid) => !removed.has(uid));
    for (const uid of known) this.pendingExpunges.delete(uid);
    if (this.recentMode !== null) this.reportRecent(out, false);
  }

  /** Brings the client up to date with changes made by other sessions. */
  async sync(mailbox: Mailbox, folder: string, out: ResponseWriter, options: SyncOptions): Promise<void> {
    const changes: ChangesData = await mailbox.changesSince(folder, this.modseq);
    await this.apply(changes, mailbox, folder, out, options);
  }

  /**
   * `sync` when nothing changed since the last one (no change event came):
   * only what was held back may go out now, without asking the store.
   */
  async syncUnchanged(mailbox: Mailbox, folder: string, out: ResponseWriter, options: SyncOptions): Promise<void> {
    await this.apply({ highestModseq: this.modseq, changed: [], expunged: [], keywords: [] }, mailbox, folder, out, options);
  }

  private async apply(changes: ChangesData, mailbox: Mailbox, folder: string, out: ResponseWriter, options: SyncOptions): Promise<void> {
    this.announceKeywords(changes.keywords, out, options.readOnly);
    const expunged = new Set(changes.expunged);
    if (this.pendingExpunges.size === 0) this.pendingSince = this.modseq;
    for (const uid of changes.expunged) if (this.seqOf(uid) > 0) this.pendingExpunges.add(uid);
    const maxUid = this.uids.length > 0 ? this.uids[this.uids.length - 1] : 0;
    const added: number[] = [];
    // Flag updates first, numbered as the client knows the messages now; then
    // EXPUNGEs; then EXISTS (the order Dovecot uses too, so clients see the
    // same sequence of events from both).
    for (const change of changes.changed) {
      if (expunged.has(change.uid)) continue;
      if (change.uid > maxUid) {
        added.push(change.uid);
        continue;
      }
      const seq = this.seqOf(change.uid);
      if (seq === 0 || this.pendingExpunges.has(change.uid)) continue;
      const reportedModseq = this.reported.get(change.uid);
      if (reportedModseq !== undefined && reportedModseq >= change.modseq) continue;
      const modseq = options.condstore ? ` MODSEQ (${change.modseq})` : "";
      out.untagged(`${seq} FETCH (UID ${change.uid} FLAGS ${formatFlags(this.flagsOf(change.uid, change.flags))}${modseq})`);
    }
    if (options.allowExpunge && this.pendingExpunges.size > 0) {
      this.reportExpunged([...this.pendingExpunges], out, options.qresync);
    }
    if (added.length > 0) {
      added.sort((a, b) => a - b);
      // RFC 3501 §2.3.2: new mail is recent for the first session told about it.
      if (this.recentMode !== null && this.needsClaim(added)) this.addRecent(await mailbox.claimRecent(folder, { peek: this.recentMode === "peek" }));
      for (const uid of added) if (this.uids[this.uids.length - 1] !== uid) this.uids.push(uid);
      out.untagged(`${this.uids.length} EXISTS`);
      if (this.recentMode !== null) this.reportRecent(out, false);
    }
    this.reported.clear();
    if (changes.highestModseq > this.modseq) this.modseq = changes.highestModseq;
  }
}

/** UID list → store UidSet (compact ranges). */
export function toUidSet(uids: readonly number[]): UidSet {
  const ranges: { start: number; end: number }[] = [];
  for (const uid of uids) {
    const last = ranges[ranges.length - 1];
    if (last && last.end + 1 === uid) last.end = uid;
    else ranges.push({ start: uid, end: uid });
  }
  return ranges;
}
