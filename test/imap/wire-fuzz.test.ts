/**
 * Property tests of the IMAP wire layer (fast-check):
 * - every command parser, fed arbitrary bytes, ends with a result or a
 *   protocol error — never a crash, never a hang — and never buffers a
 *   literal beyond the command byte cap;
 * - encode → parse round trips for strings, mailbox names and sequence sets;
 * - a real server survives arbitrary garbage on a real socket.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMMAND_TABLE } from "../../storage-node/imap/command-table.ts";
import { CommandError } from "../../storage-node/imap/command.ts";
import type { Session } from "../../storage-node/imap/session.ts";
import { DEFAULT_IMAP_LIMITS } from "../../storage-node/imap/session-limits.ts";
import { SequenceTracker } from "../../storage-node/imap/tracker.ts";
import { ByteReader, ConnectionClosedError } from "../../storage-node/imap/wire/byte-reader.ts";
import { CommandCursor, LiteralRefusedError, ParseError, type CursorHost } from "../../storage-node/imap/wire/command-cursor.ts";
import { formatUidSet } from "../../storage-node/imap/wire/format.ts";
import { MailboxNameError, decodeModifiedUtf7, encodeModifiedUtf7 } from "../../storage-node/imap/wire/mailbox-name.ts";
import { encodeString } from "../../storage-node/imap/wire/response-writer.ts";
import { connectClient, startTestServer, WireClient } from "./harness.ts";

const MAX_COMMAND = 4096;
const HOST: CursorHost = { maxLineBytes: 1024, maxCommandBytes: MAX_COMMAND, acceptsNonSync: () => true, sendContinuation: async () => {} };

/** The parsers' view of a session: flags and limits only (no socket, no store). */
function parserSession(utf8: boolean): Session {
  const selected = { name: "INBOX", readOnly: false, tracker: new SequenceTracker([1, 2, 3, 5, 8], 10) };
  const fake = {
    utf8,
    qresync: true,
    condstore: true,
    enabled: new Set<string>(["QRESYNC"]),
    limits: { ...DEFAULT_IMAP_LIMITS, maxCommandBytes: MAX_COMMAND, maxSearchDepth: 8 },
    savedSearch: [1, 2],
    selected,
    requireSelected: () => selected,
  };
  return fake as unknown as Session;
}

function readerOf(bytes: Buffer): ByteReader {
  const reader = new ByteReader(1 << 20);
  reader.push(bytes);
  reader.end();
  return reader;
}

function isProtocolError(error: unknown): boolean {
  return error instanceof ParseError || error instanceof CommandError || error instanceof LiteralRefusedError || error instanceof ConnectionClosedError;
}

const commandNames = [...COMMAND_TABLE.keys()];
const tokens = fc.constantFrom(
  " ", "(", ")", "[", "]", "<", ">", ".", "*", "%", ":", ",", "$", "\\", '"', "\\Seen", "NIL", "{3}\r\nabc", "{2+}\r\nab",
  "~{1}\r\n\0", "{99999999}\r\n", "BODY", "BODY.PEEK", "HEADER.FIELDS", "1:*", "UID", "OR", "NOT", "RETURN", "CHARSET", "UTF-8",
  "INBOX", "&AMk-", "&-", "&Jjo", "(\\Seen \\Deleted)", '"x\\"y"', "MODSEQ", "CHANGEDSINCE", "XREGEX", "0", "4294967296", "\r\n",
);
const argumentText = fc.array(fc.oneof(tokens, fc.string({ maxLength: 6 }), fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b).toString("latin1"))), { maxLength: 24 });

describe("command parsers under arbitrary input", () => {
  it("end in a value or a protocol error, never a crash or a hang", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...commandNames), argumentText, fc.boolean(), async (name, parts, utf8) => {
        const bytes = Buffer.from(parts.join(""), "latin1");
        const reader = readerOf(bytes);
        const first = await reader.readLine(HOST.maxLineBytes);
        const cursor = new CommandCursor(first && !first.tooLong ? first.line : Buffer.alloc(0), reader, HOST);
        const entry = COMMAND_TABLE.get(name)!;
        try {
          await entry.parseOnly(parserSession(utf8), cursor);
        } catch (error) {
          if (!isProtocolError(error)) throw error;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses a literal over the command cap before reading it", async () => {
    const reader = readerOf(Buffer.from(`x {${MAX_COMMAND}}\r\n`));
    const first = (await reader.readLine(1024))!;
    const cursor = new CommandCursor(first.line, reader, HOST);
    cursor.atom();
    cursor.sp();
    await expect(cursor.string({ maxBytes: Number.MAX_SAFE_INTEGER })).rejects.toBeInstanceOf(LiteralRefusedError);
  });
});

describe("round trips", () => {
  it("encodeString → string parser returns the same bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (raw, utf8) => {
        const value = Buffer.from(raw);
        const wire = encodeString(value, { utf8 });
        const reader = readerOf(Buffer.concat([wire, Buffer.from("\r\n")]));
        const first = (await reader.readLine(1 << 16))!;
        const cursor = new CommandCursor(first.line, reader, { ...HOST, maxLineBytes: 1 << 16, maxCommandBytes: 1 << 16 });
        const literal = cursor.literalMarker();
        const parsed = literal ? await cursor.literal({ ...literal, binary: true }, { maxBytes: 1 << 16 }) : cursor.quoted();
        expect(Buffer.compare(parsed, value)).toBe(0);
        cursor.end();
      }),
      { numRuns: 1000 },
    );
  });

  it("modified UTF-7 round-trips every well-formed name and is ASCII on the wire", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 20 }), (name) => {
        const wire = encodeModifiedUtf7(name);
        expect(/^[\x20-\x7e]*$/.test(wire)).toBe(true);
        expect(decodeModifiedUtf7(wire)).toBe(name);
      }),
      { numRuns: 2000 },
    );
  });

  it("modified UTF-7 decoding of arbitrary ASCII either fails cleanly or is canonical", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (text) => {
        try {
          const name = decodeModifiedUtf7(text);
          expect(encodeModifiedUtf7(name)).toBe(text);
        } catch (error) {
          expect(error).toBeInstanceOf(MailboxNameError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("formatted UID sets parse back to the same numbers", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 50 }), async (uids) => {
        const reader = readerOf(Buffer.from(`${formatUidSet(uids)}\r\n`));
        const cursor = new CommandCursor((await reader.readLine(1 << 16))!.line, reader, HOST);
        const set = cursor.sequenceSet();
        const tracker = new SequenceTracker([...uids].sort((a, b) => a - b), 0);
        expect(tracker.resolve(set, true, null)).toEqual([...uids].sort((a, b) => a - b));
      }),
      { numRuns: 500 },
    );
  });
});

describe("a real server under garbage", () => {
  it("keeps serving other clients after arbitrary bytes on one connection", async () => {
    const server = await startTestServer({ limits: { maxLineBytes: 512, maxCommandBytes: 2048 } });
    try {
      await fc.assert(
        fc.asyncProperty(argumentText, fc.boolean(), async (parts, login) => {
          const client = await connectClient(server, { login });
          client.write(Buffer.from(`G1 ${parts.join("")}\r\n`, "latin1"));
          client.close();
          const probe = await WireClient.connect(server.port);
          expect(await probe.readLine()).toMatch(/^\* OK /);
          expect((await probe.command("NOOP")).status).toBe("OK");
          probe.close();
        }),
        { numRuns: 60 },
      );
    } finally {
      await server.close();
    }
  });
});
