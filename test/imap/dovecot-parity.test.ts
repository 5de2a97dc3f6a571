/**
 * Dovecot parity: the same wire transcript is run against Dovecot (Debian's
 * dovecot-imapd from a throwaway config on loopback, see ./dovecot.ts) and
 * against Sealbox, and the answers must be equal after normalisation. Every
 * normalisation is a documented, justified difference in `DIFFERENCES` below;
 * nothing else may differ.
 *
 * Covered: SELECT/EXAMINE (the parts that do not depend on capabilities),
 * FETCH FLAGS/UID/RFC822.SIZE/INTERNALDATE/ENVELOPE/BODYSTRUCTURE/BODY/
 * BODY[]/BODY[HEADER.FIELDS]/BODY[TEXT]/BODY[1]/partials, STORE (with and
 * without .SILENT, UID STORE), SEARCH, UID SEARCH, COPY and MOVE with COPYUID,
 * EXPUNGE sequence numbers (also as a second session sees them), STATUS,
 * LIST, LSUB, CREATE/DELETE/RENAME and the error statuses of bad requests.
 *
 * The test needs root (Dovecot drops its mail processes to `nobody`), as in CI
 * and on the development machines; dovecot-imapd is in .ci/apt-packages.txt.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type RunningDovecot } from "./dovecot.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { connect, type Target } from "./parity-runner.ts";

/**
 * The documented differences, each applied to both servers' lines (a rule
 * that does not match changes nothing).
 */
const DIFFERENCES: { why: string; apply(line: string, command: string): string | null }[] = [
  {
    why: "Human-readable text after a status or response code is free text (RFC 3501 §7.1); only status and code are compared.",
    apply: (line) => {
      const tagged = /^(\S+) (OK|NO|BAD)( \[[^\]]*\])?/.exec(line);
      if (!tagged) return line;
      return `${tagged[1] === "*" ? "*" : "<tag>"} ${tagged[2]}${tagged[3] ?? ""}`;
    },
  },
  {
    why: "CAPABILITY lists and codes differ by design (Sealbox adds XREGEX etc., Dovecot its own extensions); capabilities are tested elsewhere.",
    apply: (line) => (/^\* CAPABILITY /.test(line) ? null : line.replace(/ \[CAPABILITY [^\]]*\]/, "")),
  },
  {
    why: "UIDVALIDITY is chosen by each server (RFC 3501 §2.3.1.1); only its presence is compared, also inside APPENDUID/COPYUID (RFC 4315).",
    apply: (line) => line.replace(/UIDVALIDITY \d+/g, "UIDVALIDITY <v>").replace(/(APPENDUID|COPYUID) \d+/g, "$1 <v>"),
  },
  {
    why: "Dovecot sends HIGHESTMODSEQ in SELECT even without CONDSTORE; Sealbox only after CONDSTORE/QRESYNC is enabled (RFC 7162 §3.1.2.1 makes it optional).",
    apply: (line) => (/^\* OK \[HIGHESTMODSEQ \d+\]/.test(line) ? null : line),
  },
  {
    why: "Sealbox adds UID to unsolicited flag updates (RFC 3501 §7.4.2 allows any data items; clients then need no extra UID FETCH); Dovecot adds it only under CONDSTORE/QRESYNC.",
    apply: (line, command) => (command === "NOOP" ? line.replace(/^(\* \d+ FETCH \()UID \d+ /, "$1") : line),
  },
  {
    why: "LIST attributes are a set (RFC 3501 §7.2.2); the order each server prints them in is not compared.",
    apply: (line) => {
      const list = /^\* (LIST|LSUB) \(([^)]*)\)(.*)$/.exec(line);
      if (!list) return line;
      return `* ${list[1]} (${list[2].split(" ").filter(Boolean).sort().join(" ")})${list[3]}`;
    },
  },
];

function normalize(lines: string[], command: string): string[] {
  const out: string[] = [];
  for (const original of lines) {
    let line: string | null = original;
    for (const rule of DIFFERENCES) {
      if (line === null) break;
      line = rule.apply(line, command);
    }
    if (line !== null) out.push(line);
  }
  return out;
}

const DATE = '"14-Oct-2026 09:30:00 +0000"';

function mail(subject: string, extra = "", body = "Hello there.\r\nSecond line.\r\n"): string {
  return `From: Bob Example <bob@example.test>\r\nTo: Alice <alice@example.test>, carol@example.test\r\nCc: "Dave, Jr." <dave@example.test>\r\nSubject: ${subject}\r\nDate: Wed, 14 Oct 2026 09:30:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, "")}@example.test>\r\n${extra}\r\n${body}`;
}

const MULTIPART = mail(
  "multipart",
  'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n',
  '--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 menu\r\n--b1\r\nContent-Type: application/octet-stream; name="a.bin"\r\nContent-Disposition: attachment; filename="a.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n--b1--\r\n',
);

/**
 * A step whose answers differ on purpose: both servers' normalised answers are
 * stated exactly, so a change on either side fails the test.
 */
interface KnownDifference {
  why: string;
  dovecot: string[];
  sealbox: string[];
}

type Step =
  | string
  | { append: string; folder: string; flags?: string }
  | { second: string }
  | { send: string; differs: KnownDifference };

/** The transcript: each step is sent by the main session (or the second one) and its full answer recorded. */
const TRANSCRIPT: Step[] = [
  "CREATE Parity",
  "CREATE Parity/Sub",
  "CREATE Parity",
  { append: mail("first"), folder: "INBOX" },
  { append: mail("second"), folder: "INBOX", flags: "\\Flagged" },
  { append: MULTIPART, folder: "INBOX", flags: "\\Seen $Work" },
  { append: mail("fourth", "", "lazy dog\r\n"), folder: "INBOX" },
  { append: mail("fifth"), folder: "INBOX" },
  'LIST "" Parity*',
  'LIST "" "Parity/%"',
  {
    send: 'LSUB "" Parity*',
    differs: {
      why: "CREATE subscribes the new folder in Sealbox (the store's choice, as Gmail and Fastmail do; RFC 3501 §6.3.3 neither requires nor forbids it); Dovecot subscribes nothing unless configured to.",
      dovecot: ["<tag> OK"],
      sealbox: ['* LSUB () "/" Parity', '* LSUB () "/" Parity/Sub', "<tag> OK"],
    },
  },
  "UNSUBSCRIBE Parity/Sub",
  "SUBSCRIBE Parity",
  'LSUB "" Parity*',
  "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)",
  "STATUS Parity (MESSAGES UIDNEXT UNSEEN)",
  {
    send: "STATUS Nowhere (MESSAGES)",
    differs: {
      why: "Sealbox answers every missing mailbox with RFC 5530 NONEXISTENT (one mapping in store-error-codes.ts); Dovecot 2.3 gives it for SELECT but a plain NO for STATUS.",
      dovecot: ["<tag> NO"],
      sealbox: ["<tag> NO [NONEXISTENT]"],
    },
  },
  "EXAMINE INBOX",
  {
    send: "STORE 1 +FLAGS (\\Seen)",
    differs: {
      why: "STORE in a mailbox opened with EXAMINE: Sealbox refuses with NO [READ-ONLY] so the client knows nothing changed; Dovecot answers OK and changes nothing.",
      dovecot: ["<tag> OK"],
      sealbox: ["<tag> NO [READ-ONLY]"],
    },
  },
  "SELECT INBOX",
  { second: "SELECT INBOX" },
  "FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)",
  "FETCH 1:3 (ENVELOPE)",
  "FETCH 3 (BODYSTRUCTURE)",
  "FETCH 3 (BODY)",
  "FETCH 1 (BODY.PEEK[])",
  "FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject From)])",
  "FETCH 2 (BODY.PEEK[HEADER.FIELDS.NOT (Subject From Message-ID)])",
  "FETCH 2 (BODY.PEEK[TEXT])",
  "FETCH 3 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[1]<2.5>)",
  "FETCH 1 (BODY.PEEK[]<0.20> BODY.PEEK[]<10000.5>)",
  "FETCH 1 (RFC822.HEADER)",
  "FETCH 4 (BODY[TEXT])",
  "FETCH 4 (FLAGS)",
  "UID FETCH 2:4 (FLAGS)",
  "FETCH 9 (FLAGS)",
  {
    send: "FETCH 1 (BODY.PEEK[7])",
    differs: {
      why: "A part number that names no part: the store contract says not-found, so Sealbox answers NO [NONEXISTENT]; Dovecot returns an empty string. RFC 3501 does not say; RFC 9051 §6.4.5 leaves it to the server.",
      dovecot: ["* 1 FETCH (BODY[7] {0}\r\n)", "<tag> OK"],
      sealbox: ["<tag> NO [NONEXISTENT]"],
    },
  },
  "STORE 1 +FLAGS (\\Answered)",
  "STORE 1:2 +FLAGS.SILENT (\\Draft)",
  "STORE 2 -FLAGS (\\Flagged \\Draft)",
  "STORE 5 FLAGS (\\Deleted $Label)",
  "UID STORE 3 +FLAGS ($Other)",
  "SEARCH ALL",
  "SEARCH UNSEEN",
  "SEARCH FLAGGED",
  "SEARCH SUBJECT fourth",
  "SEARCH BODY lazy",
  "SEARCH TEXT carol",
  "SEARCH FROM bob NOT SUBJECT first",
  "SEARCH OR ANSWERED DELETED",
  "SEARCH KEYWORD $Work",
  "SEARCH LARGER 400",
  "SEARCH 2:4 SEEN",
  "SEARCH SINCE 1-Oct-2026",
  "UID SEARCH UID 2:*",
  "SEARCH HEADER Message-ID <fifth@example.test>",
  "COPY 1:2 Parity",
  "UID COPY 3 Parity",
  "COPY 1 Nowhere",
  "MOVE 4 Parity/Sub",
  { second: "NOOP" },
  "EXPUNGE",
  { second: "NOOP" },
  "FETCH 1:* (UID FLAGS)",
  { second: "FETCH 1:* (UID)" },
  "STATUS Parity (MESSAGES UIDNEXT UNSEEN)",
  "STORE 1,3 +FLAGS.SILENT (\\Deleted)",
  "UID EXPUNGE 3",
  "FETCH 1:* (UID FLAGS)",
  "EXPUNGE",
  "SEARCH ALL",
  "CLOSE",
  "SELECT Parity",
  "FETCH 1:* (UID FLAGS ENVELOPE)",
  "RENAME Parity/Sub Parity/Renamed",
  'LIST "" Parity*',
  "DELETE Parity/Renamed",
  "UNSELECT",
  "DELETE Nowhere",
  'LIST "" Parity*',
  "FETCH 1 (FLAGS)",
];

/** Runs the transcript; returns, per step, the raw lines (untagged + tagged). */
async function record(target: Target): Promise<string[][]> {
  const main = await connect(target);
  const second = await connect(target);
  const answers: string[][] = [];
  let tag = 0;
  try {
    for (const step of TRANSCRIPT) {
      const t = `P${++tag}`;
      if (typeof step === "string" || !("append" in step)) {
        const client = typeof step === "object" && "second" in step ? second : main;
        const result = await client.command(commandOf(step), t);
        answers.push([...result.lines, result.tagged]);
      } else {
        const bytes = Buffer.from(step.append);
        main.write(Buffer.concat([Buffer.from(`${t} APPEND ${step.folder} (${step.flags ?? ""}) ${DATE} {${bytes.length}+}\r\n`), bytes, Buffer.from("\r\n")]));
        const result = await main.readTagged(t);
        answers.push([...result.lines, result.tagged]);
      }
    }
  } finally {
    main.close();
    second.close();
  }
  return answers;
}

function commandOf(step: Step): string {
  if (typeof step === "string") return step;
  if ("second" in step) return step.second;
  if ("send" in step) return step.send;
  return `APPEND ${step.folder}`;
}

function label(step: Step): string {
  if (typeof step === "object" && "second" in step) return `(second session) ${step.second}`;
  if (typeof step === "object" && "append" in step) return `APPEND ${step.folder} (${step.flags ?? ""})`;
  return commandOf(step);
}

let dovecot: RunningDovecot;
let sealbox: TestServer;
let dovecotAnswers: string[][];
let sealboxAnswers: string[][];

beforeAll(async () => {
  dovecot = await startDovecot({ users: [{ user: "parity", password: "parity-password" }], fsync: false });
  sealbox = await startTestServer();
  [dovecotAnswers, sealboxAnswers] = await Promise.all([
    record({ port: dovecot.port, user: "parity", password: "parity-password" }),
    record({ port: sealbox.port, user: sealbox.user.address, password: sealbox.user.password }),
  ]);
}, 60_000);

afterAll(async () => {
  await sealbox?.close();
  await dovecot?.stop();
});

describe("Dovecot parity", () => {
  it("both servers answered every step", () => {
    expect(dovecotAnswers).toHaveLength(TRANSCRIPT.length);
    expect(sealboxAnswers).toHaveLength(TRANSCRIPT.length);
  });

  it.each(TRANSCRIPT.map((step, index) => [index + 1, label(step)] as const))("step %i: %s", (index) => {
    const step = TRANSCRIPT[index - 1];
    const command = commandOf(step);
    const sealboxLines = normalize(sealboxAnswers[index - 1], command);
    const dovecotLines = normalize(dovecotAnswers[index - 1], command);
    if (typeof step === "object" && "differs" in step) {
      expect(dovecotLines).toEqual(step.differs.dovecot);
      expect(sealboxLines).toEqual(step.differs.sealbox);
    } else expect(sealboxLines).toEqual(dovecotLines);
  });
});
