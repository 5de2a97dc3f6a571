/**
 * Property tests of the two pieces the FETCH fast path rests on:
 * - the sequence tracker's set resolution (merged index windows) equals the
 *   plain definition (every number of every range, de-duplicated, ascending),
 *   and its EXPUNGE reporting numbers each message as the client sees it;
 * - the response writer's in-place buffer delivers exactly the bytes written,
 *   in order, and never changes a buffer after handing it to the sink.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CommandError } from "../../storage-node/imap/command.ts";
import { SequenceTracker } from "../../storage-node/imap/tracker.ts";
import type { SequenceSet } from "../../storage-node/imap/wire/command-cursor.ts";
import { ResponseWriter, type OutputSink } from "../../storage-node/imap/wire/response-writer.ts";

const uidLists = fc.uniqueArray(fc.integer({ min: 1, max: 300 }), { maxLength: 60 }).map((list) => list.sort((a, b) => a - b));
const bound = fc.oneof(fc.integer({ min: 1, max: 320 }), fc.constant("*" as const));
const ranges = fc.array(fc.record({ start: bound, end: bound }), { minLength: 1, maxLength: 6 });

/** The definition, written the slow obvious way. */
function naiveResolve(uids: number[], set: { start: number | "*"; end: number | "*" }[], byUid: boolean, lenient: boolean): number[] | "BAD" {
  const result = new Set<number>();
  for (const range of set) {
    if (byUid) {
      const max = uids.length > 0 ? uids[uids.length - 1] : 0;
      const a = range.start === "*" ? max : range.start;
      const b = range.end === "*" ? max : range.end;
      for (const uid of uids) if (uid >= Math.min(a, b) && uid <= Math.max(a, b)) result.add(uid);
    } else {
      if (uids.length === 0) {
        if (lenient) continue;
        return "BAD";
      }
      const a = range.start === "*" ? uids.length : range.start;
      const b = range.end === "*" ? uids.length : range.end;
      if (Math.max(a, b) > uids.length && !lenient) return "BAD";
      for (let seq = Math.min(a, b); seq <= Math.min(Math.max(a, b), uids.length); seq++) result.add(uids[seq - 1]);
    }
  }
  return [...result].sort((a, b) => a - b);
}

describe("SequenceTracker", () => {
  it("resolves sequence and UID sets like the definition", () => {
    fc.assert(
      fc.property(uidLists, ranges, fc.boolean(), fc.boolean(), (uids, set, byUid, lenient) => {
        const tracker = new SequenceTracker([...uids], 1);
        const sequenceSet: SequenceSet = { saved: false, ranges: set };
        const expected = naiveResolve(uids, set, byUid, lenient);
        let actual: number[] | "BAD";
        try {
          actual = tracker.resolve(sequenceSet, byUid, null, lenient);
        } catch (error) {
          if (!(error instanceof CommandError) || error.status !== "BAD") throw error;
          actual = "BAD";
        }
        expect(actual).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("resolves a saved result ($) to the UIDs still known", () => {
    const tracker = new SequenceTracker([2, 4, 6, 8], 1);
    expect(tracker.resolve({ saved: true, ranges: [] }, false, [1, 4, 8, 9], false)).toEqual([4, 8]);
    expect(tracker.resolve({ saved: true, ranges: [] }, false, null, false)).toEqual([]);
  });

  it("numbers EXPUNGEs as the client sees them while applying each one", () => {
    fc.assert(
      fc.property(
        uidLists.filter((list) => list.length > 0),
        fc.array(fc.nat(), { maxLength: 20 }),
        (uids, picks) => {
          const gone = [...new Set(picks.map((p) => uids[p % uids.length]))];
          const tracker = new SequenceTracker([...uids], 1);
          const lines: string[] = [];
          const writer = { untagged: (...parts: string[]) => lines.push(parts.join("")) } as unknown as ResponseWriter;
          tracker.reportExpunged(gone, writer, false);
          // Replay the responses the way a client does: each EXPUNGE removes that number now.
          const client = [...uids];
          for (const line of lines) client.splice(Number(/^(\d+) EXPUNGE$/.exec(line)?.[1]) - 1, 1);
          expect(client).toEqual(uids.filter((uid) => !gone.includes(uid)));
          expect(tracker.uids).toEqual(client);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("ResponseWriter", () => {
  it("delivers exactly what was written, and never touches a buffer the sink holds", async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("string" as const), text: fc.string({ unit: "grapheme", maxLength: 300 }) }),
      fc.record({ kind: fc.constant("latin1" as const), text: fc.string({ unit: "binary-ascii", maxLength: 300 }) }),
      fc.record({ kind: fc.constant("bytes" as const), bytes: fc.uint8Array({ maxLength: 20_000 }) }),
      fc.record({ kind: fc.constant("flush" as const) }),
      fc.record({ kind: fc.constant("maybe" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const received: { chunk: Buffer; copy: Buffer }[] = [];
        const sink: OutputSink = {
          write: (chunk) => {
            received.push({ chunk, copy: Buffer.from(chunk) });
            return true;
          },
          drain: async () => {},
        };
        const writer = new ResponseWriter(sink, 16 * 1024);
        const expected: Buffer[] = [];
        for (const o of ops) {
          if (o.kind === "string") {
            writer.write(o.text);
            expected.push(Buffer.from(o.text, "utf8"));
          } else if (o.kind === "latin1") {
            writer.writeLatin1(o.text);
            expected.push(Buffer.from(o.text, "latin1"));
          } else if (o.kind === "bytes") {
            writer.write(Buffer.from(o.bytes));
            expected.push(Buffer.from(o.bytes));
          } else if (o.kind === "flush") await writer.flush();
          else await writer.maybeFlush();
        }
        await writer.flush();
        expect(Buffer.concat(received.map((r) => r.chunk)).equals(Buffer.concat(expected))).toBe(true);
        for (const r of received) expect(r.chunk.equals(r.copy)).toBe(true);
        expect(writer.bytesWritten).toBe(Buffer.concat(expected).length);
      }),
      { numRuns: 200 },
    );
  });
});
