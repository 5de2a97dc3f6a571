/**
 * THREAD REFERENCES per thread partition (the SQLite store's threads table)
 * must equal RFC 5256 REFERENCES over the whole set: random messages with
 * shared ids, references, loops, duplicates and subjects; random subsets
 * stand for search results.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { threadKeys, threadReferences, threadReferencesGrouped, type SortableMessage } from "../../storage-node/store/sort-thread.ts";

const ids = fc.constantFrom("<a@x>", "<b@x>", "<c@x>", "<d@x>", "<e@x>", "<A@X>");

const message = fc.record({
  messageId: fc.option(ids, { nil: null }),
  inReplyTo: fc.option(ids, { nil: null }),
  references: fc.array(ids, { maxLength: 4 }),
  baseSubject: fc.constantFrom("", "lunch", "Lunch", "report"),
  isReply: fc.boolean(),
  sentDate: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }),
  internalDate: fc.integer({ min: 0, max: 5 }),
});

/** What the threads table computes: union of messages sharing any key. */
function partition(messages: SortableMessage[]): Map<number, number> {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    while (parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  const threadOf = new Map<number, string>();
  for (const m of messages) {
    const keys = [...threadKeys(m), `u:${m.uid}`];
    for (const k of keys) if (!parent.has(k)) parent.set(k, k);
    for (const k of keys.slice(1)) parent.set(find(k), find(keys[0]));
    threadOf.set(m.uid, keys[0]);
  }
  const ids = new Map<string, number>();
  return new Map([...threadOf].map(([uid, k]) => [uid, ids.get(find(k)) ?? (ids.set(find(k), ids.size), ids.size - 1)]));
}

describe("THREAD REFERENCES by partition", () => {
  it("equals threading the whole set, for every subset", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 14 }), fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }), (raw, keep) => {
        const all: SortableMessage[] = raw.map((m, i) => ({ ...m, uid: i + 1, size: 1, sortFrom: "", sortTo: "", sortCc: "", displayFrom: "", displayTo: "" }));
        const part = partition(all);
        for (const subset of [all, all.filter((_, i) => keep[i])]) {
          const groups = new Map<number, SortableMessage[]>();
          for (const m of subset) {
            const g = groups.get(part.get(m.uid)!) ?? [];
            g.push(m);
            groups.set(part.get(m.uid)!, g);
          }
          expect(threadReferencesGrouped([...groups.values()])).toEqual(threadReferences(subset));
        }
      }),
      { numRuns: 300 },
    );
  });
});
