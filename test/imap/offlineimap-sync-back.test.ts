/**
 * offlineimap (Debian's offlineimap3) syncing both ways with the server over
 * implicit TLS, on the encrypted SQLite store, like mbsync-sync-back.test.ts. A varied corpus is pulled into a Maildir; then the
 * Maildir is changed the way a user's mail client changes it (flags by
 * renaming files, a move between folders, a deletion, a new message, a new
 * folder) and pushed back, and a separate IMAP session checks the server:
 * flags, which folder holds which message, expunged ones gone, the uploaded
 * message byte for byte. Then the server changes (flags, expunge, a new
 * delivery) and the next sync brings them into the Maildir.
 *
 * offlineimap's own semantics, which the expectations follow: a locally
 * deleted (or moved-away) message is expunged on the server at once; a local
 * "T" (trashed) flag becomes \Deleted on the server and stays until the
 * server expunges; uploads go out unchanged apart from CRLF line ends.
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
  sync = await startSyncServer("sealbox-offlineimap-back-");
  maildir = path.join(sync.dir, "Maildir");
  await mkdir(maildir, { recursive: true });
  });
afterAll(async () => {
  await sync?.close();
});

async function offlineimap(): Promise<void> {
  const config = path.join(sync.dir, "offlineimaprc");
  await writeFile(
    config,
    [
      "[general]",
      "accounts = sealbox",
      `metadata = ${path.join(sync.dir, "meta")}`,
      "",
      "[Account sealbox]",
      "localrepository = local",
      "remoterepository = remote",
      "",
      "[Repository local]",
      "type = Maildir",
      `localfolders = ${maildir}`,
      "",
      "[Repository remote]",
      "type = IMAP",
      "remotehost = localhost",
      `remoteport = ${sync.server.tlsPort}`,
      `remoteuser = ${sync.server.user.address}`,
      `remotepass = ${sync.server.user.password}`,
      "ssl = yes",
      `sslcacertfile = ${sync.certFile}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  await run("offlineimap", ["-c", config, "-o", "-u", "quiet"], { timeout: 120_000 });
}
function byName(messages: LocalMessage[], name: string): LocalMessage {
  const found = messages.find((m) => m.name === name);
  if (!found) throw new Error(`${name} is not in the Maildir folder`);
  return found;
}
const LOCAL_NEW = "From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\nSubject: written offline\nDate: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <offline-oi@example.test>\n\nComposed without a connection.\n";
const LOCAL_PROJECT = "From: Alice <alice@example.test>\nTo: Carol <carol@example.test>\nSubject: project notes\nDate: Sat, 28 Nov 2026 12:05:00 +0000\nMessage-ID: <project-oi@example.test>\n\nNotes kept in a new folder.\n";
const SERVER_NEW = "From: Dave <dave@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: delivered later\r\nDate: Sat, 28 Nov 2026 13:00:00 +0000\r\nMessage-ID: <later-oi@example.test>\r\n\r\nArrived between two syncs.\r\n";

/** Every message on the server is byte for byte what was seeded or uploaded (LF → CRLF by offlineimap aside). */
function expectServerBytesIntact(state: Map<string, ServerMessage[]>): void {
  for (const messages of state.values()) {
    for (const message of messages) {
      expect(message.name.startsWith("?")).toBe(false);
      expect(maildirForm(message.bytes)).toEqual(maildirForm(sync.sources.get(message.name) ?? Buffer.alloc(0)));
    }
  }
}

describe("offlineimap two-way sync", () => {
  it("pulls the corpus with the server's flags, byte for byte", async () => {
    await seedCorpus(sync, { "04-alternative": "\\Seen", "05-attachment": "\\Flagged \\Seen", "37-groups": "\\Answered" });
    await offlineimap();
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
    // Moved keeping its file name, as mutt does; offlineimap sees the old folder's hash in it.
    await moveLocal(byName(inbox, "09-rfc822-toplevel"), path.join(maildir, "Archive"), false);
    await deleteLocal(byName(inbox, "11-ew-utf8-b"));
    await addLocal(sync, path.join(maildir, "INBOX"), "local-new", LOCAL_NEW);
    await addLocal(sync, path.join(maildir, "Projects"), "local-project", LOCAL_PROJECT);
    await offlineimap();

    const pushed = await serverState(sync);
    expect([...pushed.keys()].sort()).toEqual(["Archive", "Drafts", "INBOX", "Junk", "Projects", "Sent", "Trash"]);
    expect(describeServer(pushed, "INBOX")).toEqual([
      "01-simple-plain \\Seen",
      "02-bare-lf \\Flagged",
      "03-only-subject \\Answered \\Seen",
      "04-alternative \\Draft",
      "05-attachment \\Flagged \\Seen",
      "07-rfc822-attached \\Deleted",
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
    const uploaded = (pushed.get("INBOX") ?? []).find((m) => m.name === "local-new")?.bytes;
    expect(uploaded?.toString("latin1")).toBe(LOCAL_NEW.replace(/\n/g, "\r\n"));
    const project = (pushed.get("Projects") ?? [])[0]?.bytes;
    expect(project?.toString("latin1")).toBe(LOCAL_PROJECT.replace(/\n/g, "\r\n"));

    // A second run changes nothing on either side.
    await offlineimap();
    expect(describeServer(await serverState(sync), "INBOX")).toEqual(describeServer(pushed, "INBOX"));
    expect(describeLocal(await maildirState(sync, path.join(maildir, "INBOX")))).toEqual([
      "01-simple-plain S",
      "02-bare-lf F",
      "03-only-subject RS",
      "04-alternative D",
      "05-attachment FS",
      "07-rfc822-attached T",
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
      // Also expunges 07-rfc822-attached, trashed locally before.
      "EXPUNGE",
      `UID MOVE ${await uid("INBOX", "28-8bit-headers")} Archive`,
    ]);
    await appendRaw(sync, "INBOX", recordSource(sync, "server-new", SERVER_NEW), "\\Seen");
    await offlineimap();

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
    expect(byName(inbox, "server-new").bytes).toEqual(Buffer.from(SERVER_NEW.replace(/\r\n/g, "\n")));
    expect(byName(archive, "28-8bit-headers").bytes).toEqual(maildirForm(sync.sources.get("28-8bit-headers") ?? Buffer.alloc(0)));
    expectServerBytesIntact(await serverState(sync));
  });
});
