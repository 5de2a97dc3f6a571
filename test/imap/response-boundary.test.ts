/**
 * ResponseBoundaryTracker (wire/response-boundary.ts): where a proxy may add
 * its own BYE. Checked on transcripts with literals and literal8 split at
 * every byte, and as a property: however a stream of whole responses is cut
 * into chunks, the tracker is at a boundary after the last one and only
 * there, and sees a BYE only when the stream carried one outside a literal.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ResponseBoundaryTracker } from "../../storage-node/imap/wire/response-boundary.ts";

const FETCH = '* 1 FETCH (UID 7 BODY[] {14}\r\n* BYE inside\r\n FLAGS (\\Seen))\r\n';
const BINARY = "* 2 FETCH (BINARY[1] ~{4}\r\n\r\n\r\n)\r\n";

/** Positions (byte offsets) at which the tracker reports a boundary when fed one byte at a time. */
function boundaries(text: string): number[] {
  const tracker = new ResponseBoundaryTracker();
  const bytes = Buffer.from(text, "latin1");
  const at: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    tracker.track(bytes.subarray(i, i + 1));
    if (tracker.atBoundary) at.push(i + 1);
  }
  return at;
}

describe("ResponseBoundaryTracker", () => {
  it("skips literal and literal8 data, and stands at a boundary only after whole responses", () => {
    expect(boundaries(`${FETCH}a1 OK done\r\n`)).toEqual([FETCH.length, FETCH.length + "a1 OK done\r\n".length]);
    expect(boundaries(BINARY)).toEqual([BINARY.length]);
    expect(boundaries("* 3 FETCH (BODY[] {0}\r\n)\r\n")).toEqual(["* 3 FETCH (BODY[] {0}\r\n)\r\n".length]);
    const fresh = new ResponseBoundaryTracker();
    expect(fresh.atBoundary).toBe(true);
    fresh.track(Buffer.from("+ idling"));
    expect(fresh.atBoundary).toBe(false);
  });

  it("notices an untagged BYE, but not one inside a literal", () => {
    const tracker = new ResponseBoundaryTracker();
    tracker.track(Buffer.from(FETCH, "latin1"));
    expect(tracker.byeSeen).toBe(false);
    tracker.track(Buffer.from("* BY"));
    tracker.track(Buffer.from("E Server shutting down.\r\n"));
    expect(tracker.byeSeen).toBe(true);
    expect(tracker.atBoundary).toBe(true);
  });

  it("agrees with the response boundaries however the stream is cut", () => {
    const response = fc.oneof(
      fc.constantFrom("* 4 EXISTS\r\n", "a1 OK [READ-WRITE] SELECT completed.\r\n", "+ Ready for literal data\r\n", FETCH, BINARY, "* BYE Autologout.\r\n"),
      fc.uint8Array({ maxLength: 40 }).map((body) => `* 9 FETCH (BODY[] {${body.length}}\r\n${Buffer.from(body).toString("latin1")})\r\n`),
    );
    fc.assert(
      fc.property(fc.array(response, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1 }), (responses, cuts) => {
        const bytes = Buffer.from(responses.join(""), "latin1");
        const tracker = new ResponseBoundaryTracker();
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const next = Math.min(bytes.length, at + cuts[i % cuts.length]);
          tracker.track(bytes.subarray(at, next));
          at = next;
        }
        expect(tracker.atBoundary).toBe(true);
        expect(tracker.byeSeen).toBe(responses.includes("* BYE Autologout.\r\n"));
        tracker.track(bytes.subarray(0, bytes.length - 1));
        expect(tracker.atBoundary).toBe(false);
      }),
    );
  });
});
