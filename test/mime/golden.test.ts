/**
 * Golden corpus: for every message in test/golden/messages, Sealbox's
 * ENVELOPE, BODYSTRUCTURE, BODY, BODY[section] and BINARY[section] answers
 * equal the bytes Dovecot 2.3 gave for the same message (recorded by
 * scripts/golden-dovecot.ts; Dovecot is not needed at test time).
 *
 * Dovecot serves a bare-LF message with CRLF line ends (it converts on
 * APPEND), so each message is compared in that form; the bare-LF form is
 * checked separately for identical structure with its own sizes.
 */
import { describe, expect, it } from "vitest";
import { Buffer } from "node:buffer";
import { parseMessage } from "../../storage-node/mime/parse.ts";
import { formatBodyStructure, formatEnvelope } from "../../storage-node/mime/imap-format.ts";
import { extractBinarySection, extractSection, type SectionSpecifier } from "../../storage-node/mime/sections.ts";
import type { MimePartData } from "../../storage-node/mime/types.ts";
import { goldenAnswers, goldenMessage, goldenNames, imapValue, parseSectionName, toCrlf } from "./golden-files.ts";

/**
 * Where Sealbox deliberately answers differently from Dovecot, with the
 * reason. Keys are "<message> <item>".
 */
const EXCEPTIONS = new Map<string, { reason: string; ours: string }>([
  [
    "47-base64-garbage BINARY[1]",
    {
      reason:
        "Dovecot refuses BINARY with NO [PARSE] for base64 holding characters outside the alphabet; " +
        "RFC 2045 §6.8 says such characters are to be ignored, so Sealbox decodes what is there.",
      ours: "Hello World!",
    },
  ],
  [
    "59-qp-body BINARY[1]",
    {
      reason:
        "Dovecot refuses BINARY with NO [PARSE] for a malformed quoted-printable escape ('=ZZ'); " +
        "RFC 2045 §6.7 note (1) recommends keeping the '=' literally, which Sealbox does.",
      ours: "Softbreak and \xe9t\xe9 and bad =ZZ and trailing\r\nend",
    },
  ],
]);

const names = goldenNames();

function latin1(b: Uint8Array): string {
  return Buffer.from(b).toString("latin1");
}

describe("golden corpus against Dovecot", () => {
  it("has at least 40 messages", () => {
    expect(names.length).toBeGreaterThanOrEqual(40);
  });

  for (const name of names) {
    describe(name, () => {
      const answers = goldenAnswers(name);
      const raw = toCrlf(goldenMessage(name));
      const parsed = parseMessage(raw);
      const ours = new Map<string, string>([
        ["ENVELOPE", formatEnvelope(parsed.envelope)],
        ["BODYSTRUCTURE", formatBodyStructure(parsed.bodyStructure, true)],
        ["BODY", formatBodyStructure(parsed.bodyStructure, false)],
      ]);
      for (const [item, expected] of answers) {
        const key = `${name} ${item}`;
        const exception = EXCEPTIONS.get(key);
        if (exception) {
          it(`${item} (documented exception)`, () => {
            const spec = parseSectionName(item.slice(item.indexOf("[") + 1, -1));
            const got = extractBinarySection(raw, parsed.tree, spec.part);
            expect(got.ok && latin1(got.bytes)).toBe(exception.ours);
            expect(expected).not.toBe(exception.ours);
          });
          continue;
        }
        it(item, () => {
          if (ours.has(item)) {
            expect(ours.get(item)).toBe(expected);
          } else if (item.startsWith("BODY[")) {
            const spec = parseSectionName(item.slice(5, -1));
            const got = extractSection(raw, parsed.tree, { part: spec.part, specifier: spec.specifier as SectionSpecifier, fields: spec.fields });
            expect(latin1(got)).toBe(imapValue(expected) ?? "");
          } else if (item.startsWith("BINARY[")) {
            const spec = parseSectionName(item.slice(7, -1));
            const got = extractBinarySection(raw, parsed.tree, spec.part);
            if (expected.startsWith("ERROR")) {
              expect(got.ok).toBe(false);
              expect(expected).toContain("UNKNOWN-CTE");
            } else {
              expect(got.ok).toBe(true);
              if (got.ok) expect(latin1(got.bytes)).toBe(imapValue(expected) ?? "");
            }
          } else {
            throw new Error(`unexpected golden item ${item}`);
          }
        });
      }
    });
  }

  it("every documented exception names a recorded answer", () => {
    for (const key of EXCEPTIONS.keys()) {
      const [name, item] = key.split(" ");
      expect(goldenAnswers(name).has(item)).toBe(true);
    }
  });
});

function shape(n: MimePartData): unknown {
  return { path: n.path, type: n.contentType, kind: n.kind, children: n.children.map(shape) };
}

describe("bare-LF messages", () => {
  for (const name of names) {
    const raw = goldenMessage(name);
    if (Buffer.compare(raw, toCrlf(raw)) === 0) continue;
    it(`${name} parses to the same tree as its CRLF form, with offsets into its own bytes`, () => {
      const lf = parseMessage(raw);
      const crlf = parseMessage(toCrlf(raw));
      expect(shape(lf.tree)).toEqual(shape(crlf.tree));
      expect(lf.envelope).toEqual(crlf.envelope);
      expect(lf.size).toBe(raw.length);
      const walk = (a: MimePartData, b: MimePartData): void => {
        const body = (m: Uint8Array, n: MimePartData): string => latin1(m.subarray(n.bodyStart, n.bodyEnd)).replace(/\r\n/g, "\n");
        expect(body(raw, a)).toBe(body(toCrlf(raw), b));
        a.children.forEach((c, i) => walk(c, b.children[i]));
      };
      walk(lf.tree, crlf.tree);
    });
  }
});
