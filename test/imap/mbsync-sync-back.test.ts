/**
 * mbsync (isync) syncing both ways with the server over implicit TLS, on the
 * encrypted SQLite store. A varied corpus is pulled into a Maildir; then the
 * Maildir is changed the way a user's mail client changes it (flags by
 * renaming files, a move between folders, a deletion, a new message, a new
 * folder) and pushed back, and a separate IMAP session checks the server:
 * flags, which folder holds which message, expunged ones gone, the uploaded
 * message byte for byte. Then the server changes (flags, expunge, a new
 * delivery) and the next sync brings them into the Maildir.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addLocal,
  appendRaw,
  deleteLocal,
  describeLocal,
  describeServer,
  maildirForm,
  maildirState,
  moveLocal,
  recordSource,
  seedCorpus,
  serverCommands,
  serverState,
  setLocalFlags,
  startSyncServer,
  type LocalMessage,
  type ServerMessage,
  type SyncServer,
} from "./sync-fixtures.ts";

const run = promisify(execFile);

let sync: SyncServer;
let maildir: string;

beforeAll(async () => {
  sync = await startSyncServer("sealbox-mbsync-back-");
  maildir = path.join(sync.dir, "Maildir");
  await mkdir(maildir, { recursive: true });
  await mkdir(path.join(sync.dir, "state"), { recursive: true });
});
afterAll(async () => {
  await sync?.close();
});

/** Writes the config (Expunge None or Both) and runs one full two-way sync of every folder. */
async function mbsync(expunge: "None" | "Both"): Promise<void> {
  const config = path.join(sync.dir, "mbsyncrc");
  await writeFile(
    config,
    [
      "IMAPAccount sealbox",
      "Host localhost",
      `Port ${sync.server.tlsPort}`,
      `User ${sync.server.user.address}`,
      `Pass ${sync.server.user.password}`,
      "SSLType IMAPS",
      `CertificateFile ${sync.certFile}`,
      "",
      "IMAPStore remote",
      "Account sealbox",
      "",
      "MaildirStore local",
      `Path ${maildir}/`,
      `Inbox ${maildir}/INBOX`,
      "SubFolders Verbatim",
      "",
      "Channel sync",
      "Far :remote:",
      "Near :local:",
      "Patterns *",
      "Create Both",
      "Sync All",
      `Expunge ${expunge}`,
      `SyncState ${sync.dir}/state/`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  await run("mbsync", ["-q", "-c", config, "-a"], { timeout: 60_000 });
}

function byName(messages: LocalMessage[], name: string): LocalMessage {
  const found = messages.find((m) => m.name === name);
  if (!found) throw new Error(`${name} is not in the Maildir folder`);
  return found;
}

const LOCAL_NEW = "From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\nSubject: written offline\nDate: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <offline-mbsync@example.test>\n\nComposed without a connection.\n";
const LOCAL_PROJECT = "From: Alice <alice@example.test>\nTo: Carol <carol@example.test>\nSubject: project notes\nDate: Sat, 28 Nov 2026 12:05:00 +0000\nMessage-ID: <project-mbsync@example.test>\n\nNotes kept in a new folder.\n";
const SERVER_NEW = "From: Dave <dave@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: delivered later\r\nDate: Sat, 28 Nov 2026 13:00:00 +0000\r\nMessage-ID: <later-mbsync@example.test>\r\n\r\nArrived between two syncs.\r\n";

/** Every message on the server is byte for byte what was seeded or uploaded (CRLF restored by mbsync, X-TUID aside). */
function expectServerBytesIntact(state: Map<string, ServerMessage[]>): void {
  for (const messages of state.values()) {
    for (const message of messages) {
      expect(message.name.startsWith("?")).toBe(false);
      expect(maildirForm(message.bytes)).toEqual(maildirForm(sync.sources.get(message.name) ?? Buffer.alloc(0)));
    }
  }
}

describe("mbsync two-way sync", () => {
  it("pulls the corpus with the server's flags, byte for byte", async () => {
    await seedCorpus(sync, { "04-alternative": "\\Seen", "05-attachment": "\\Flagged \\Seen", "37-groups": "\\Answered" });
    await mbsync("None");
    const inbox = await maildirState(sync, path.join(maildir, "INBOX"));
    const archive = await maildirState(sync, path.join(maildir, "Archive"));
    expect(describeLocal(inbox)).toEqual([
      "01-simple-plain",
      "02-bare-lf",
      "03-only-subject",
      "04-alternative S",
      "05-attachment FS",
      "07-rfc822-attached",
      "09-rfc822-toplevel",
      "11-ew-utf8-b",
      "12-ew-latin1-q",
      "20-rfc2231",
      "27-8bit-body",
      "28-8bit-headers",
    ]);
    expect(describeLocal(archive)).toEqual(["31-empty-body", "37-groups R", "48-no-trailing-newline", "51-signed", "53-threading", "59-qp-body"]);
    for (const message of [...inbox, ...archive]) expect(maildirForm(message.bytes)).toEqual(maildirForm(sync.sources.get(message.name) ?? Buffer.alloc(0)));
  });

  it("pushes local flags, a move, a deletion, a new message and a new folder", async () => {
    const inbox = await maildirState(sync, path.join(maildir, "INBOX"));
    await setLocalFlags(byName(inbox, "01-simple-plain"), "S");
    await setLocalFlags(byName(inbox, "02-bare-lf"), "F");
    await setLocalFlags(byName(inbox, "03-only-subject"), "RS");
    await setLocalFlags(byName(inbox, "04-alternative"), "D"); // also clears \Seen
    await setLocalFlags(byName(inbox, "07-rfc822-attached"), "T");
    await moveLocal(byName(inbox, "09-rfc822-toplevel"), path.join(maildir, "Archive"), true);
    await deleteLocal(byName(inbox, "11-ew-utf8-b"));
    await addLocal(sync, path.join(maildir, "INBOX"), "local-new", LOCAL_NEW);
    await addLocal(sync, path.join(maildir, "Projects"), "local-project", LOCAL_PROJECT);

    // Without expunging, a trashed, a deleted and a moved-away message are \Deleted on the server.
    await mbsync("None");
    const pushed = await serverState(sync);
    expect([...pushed.keys()].sort()).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Projects", "Sent", "Trash"]);
    expect(describeServer(pushed, "INBOX")).toEqual([
      "01-simple-plain \\Seen",
      "02-bare-lf \\Flagged",
      "03-only-subject \\Answered \\Seen",
      "04-alternative \\Draft",
      "05-attachment \\Flagged \\Seen",
      "07-rfc822-attached \\Deleted",
      "09-rfc822-toplevel \\Deleted",
      "11-ew-utf8-b \\Deleted",
      "12-ew-latin1-q",
      "20-rfc2231",
      "27-8bit-body",
      "28-8bit-headers",
      "local-new",
    ]);
    expect(describeServer(pushed, "Archive")).toEqual([
      "09-rfc822-toplevel",
      "31-empty-body",
      "37-groups \\Answered",
      "48-no-trailing-newline",
      "51-signed",
      "53-threading",
      "59-qp-body",
    ]);
    expect(describeServer(pushed, "Projects")).toEqual(["local-project"]);
    expectServerBytesIntact(pushed);
    // The uploaded message byte for byte: mbsync sends CRLF and adds its X-TUID tracking header.
    const uploaded = (pushed.get("INBOX") ?? []).find((m) => m.name === "local-new")?.bytes.toString("latin1") ?? "";
    expect(uploaded.replace(/^X-TUID: [A-Za-z0-9+/]{12}\r\n/m, "")).toBe(LOCAL_NEW.replace(/\n/g, "\r\n"));
    expect(uploaded).toMatch(/^X-TUID: [A-Za-z0-9+/]{12}\r\n\r\n/m);

    // Expunging: the \Deleted ones are gone from the server and from the Maildir.
    await mbsync("Both");
    const expunged = await serverState(sync);
    const remaining = [
      "01-simple-plain \\Seen",
      "02-bare-lf \\Flagged",
      "03-only-subject \\Answered \\Seen",
      "04-alternative \\Draft",
      "05-attachment \\Flagged \\Seen",
      "12-ew-latin1-q",
      "20-rfc2231",
      "27-8bit-body",
      "28-8bit-headers",
      "local-new",
    ];
    expect(describeServer(expunged, "INBOX")).toEqual(remaining);
    expect(describeServer(expunged, "Archive")).toEqual(describeServer(pushed, "Archive"));
    expect(describeLocal(await maildirState(sync, path.join(maildir, "INBOX")))).toEqual([
      "01-simple-plain S",
      "02-bare-lf F",
      "03-only-subject RS",
      "04-alternative D",
      "05-attachment FS",
      "12-ew-latin1-q",
      "20-rfc2231",
      "27-8bit-body",
      "28-8bit-headers",
      "local-new",
    ]);
  });

  it("brings server flags, an expunge, a move and a new delivery into the Maildir", async () => {
    const uid = async (folder: string, name: string): Promise<number> => {
      const found = ((await serverState(sync)).get(folder) ?? []).find((m) => m.name === name);
      if (!found) throw new Error(`${name} is not in ${folder} on the server`);
      return found.uid;
    };
    await serverCommands(sync, "INBOX", [
      `UID STORE ${await uid("INBOX", "12-ew-latin1-q")} +FLAGS (\\Flagged)`,
      `UID STORE ${await uid("INBOX", "20-rfc2231")} +FLAGS (\\Seen \\Answered)`,
      `UID STORE ${await uid("INBOX", "02-bare-lf")} -FLAGS (\\Flagged)`,
      `UID STORE ${await uid("INBOX", "27-8bit-body")} +FLAGS (\\Deleted)`,
      "EXPUNGE",
      `UID MOVE ${await uid("INBOX", "28-8bit-headers")} Archive`,
    ]);
    await appendRaw(sync, "INBOX", recordSource(sync, "server-new", SERVER_NEW), "\\Seen");
    await mbsync("Both");

    const inbox = await maildirState(sync, path.join(maildir, "INBOX"));
    expect(describeLocal(inbox)).toEqual([
      "01-simple-plain S",
      "02-bare-lf",
      "03-only-subject RS",
      "04-alternative D",
      "05-attachment FS",
      "12-ew-latin1-q F",
      "20-rfc2231 RS",
      "local-new",
      "server-new S",
    ]);
    const archive = await maildirState(sync, path.join(maildir, "Archive"));
    expect(describeLocal(archive)).toEqual([
      "09-rfc822-toplevel",
      "28-8bit-headers",
      "31-empty-body",
      "37-groups R",
      "48-no-trailing-newline",
      "51-signed",
      "53-threading",
      "59-qp-body",
    ]);
    expect(maildirForm(byName(inbox, "server-new").bytes)).toEqual(Buffer.from(SERVER_NEW.replace(/\r\n/g, "\n")));
    expect(maildirForm(byName(archive, "28-8bit-headers").bytes)).toEqual(maildirForm(sync.sources.get("28-8bit-headers") ?? Buffer.alloc(0)));
    // Nothing else changed on the server meanwhile.
    expectServerBytesIntact(await serverState(sync));
  });
});
