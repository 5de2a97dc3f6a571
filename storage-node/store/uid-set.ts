/**
 * UID set helpers. Invariant: ranges are inclusive; a reversed range ("5:2") means
 * the same as the ordered one; `end` may be Infinity.
 */

import type { UidSet } from "./types.ts";

export function uidInSet(uid: number, set: UidSet): boolean {
  for (const r of set) {
    const lo = Math.min(r.start, r.end);
    const hi = Math.max(r.start, r.end);
    if (uid >= lo && uid <= hi) return true;
  }
  return false;
}

/** Members of the ascending `uids` that are in `set`. */
export function filterUids(uids: readonly number[], set: UidSet): number[] {
  return uids.filter((u) => uidInSet(u, set));
}
