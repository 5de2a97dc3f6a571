/**
 * neomutt (Debian's neomutt) against the server on the encrypted SQLite store,
 * scripted through a pseudo-terminal (test/support/neomutt.ts): it connects
 * with STARTTLS, trusting the self-signed certificate through its config,
 * lists INBOX, pipes a message out (compared byte for byte), reads one, flags
 * one, copies one to Archive, deletes and expunges one; a separate IMAP
 * session then checks every change on the server. An untrusted certificate
 * gets no login at all.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureSelfSignedCertificate } from "../../storage-node/tls/self-signed.ts";
import { runNeomutt } from "../support/neomutt.ts";
import { appendMessage, connectClient, message } from "./harness.ts";
import { startSyncServer, type SyncServer } from "./sync-fixtures.ts";

let sync: SyncServer;

const SUBJECTS = ["keep-me", "read-me", "flag-me", "delete-me", "copy-me"];
const source = (subject: string): string => message(subject, `Body of ${subject}.\r\nSecond line.\r\n`);

beforeAll(async () => {
  sync = await startSyncServer("sealbox-neomutt-");
  const client = await connectClient(sync.server);
  for (const subject of SUBJECTS) expect((await appendMessage(client, "INBOX", source(subject))).status).toBe("OK");
  client.close();
});
afterAll(async () => {
  await sync?.close();
});

describe("neomutt", () => {
  it("refuses to log in when the certificate is not trusted", async () => {
    const other = await ensureSelfSignedCertificate(path.join(sync.dir, "other-tls"), "localhost");
    expect(other.cert).toBeDefined();
    const before = sync.server.auth.calls;
    const screen = await runNeomutt({
      dir: sync.dir,
      port: sync.server.port,
      user: sync.server.user.address,
      password: sync.server.user.password,
      certificateFile: path.join(sync.dir, "other-tls", "self-signed.crt"),
      keys: "",
      answers: [{ prompt: "(r)eject, accept (o)nce", type: "r" }],
    });
    expect(screen).toContain("This certificate belongs to:");
    expect(sync.server.auth.calls).toBe(before);
  });

  it("lists, pipes, reads, flags, copies and deletes over STARTTLS; the server sees it all", async () => {
    const piped = path.join(sync.dir, "piped.eml");
    const copied = path.join(sync.dir, "copied.eml");
    const screen = await runNeomutt({
      dir: sync.dir,
      port: sync.server.port,
      user: sync.server.user.address,
      password: sync.server.user.password,
      certificateFile: sync.certFile,
      keys: [
        `<search>~s keep-me<enter><pipe-message>cat > ${piped}<enter>`,
        "<search>~s read-me<enter><display-message><exit>",
        "<search>~s flag-me<enter><flag-message>",
        "<search>~s delete-me<enter><delete-message>",
        "<search>~s copy-me<enter><copy-message>=Archive<enter>",
        "<sync-mailbox>",
        `<change-folder>=Archive<enter><pipe-message>cat > ${copied}<enter>`,
      ].join(""),
    });
    expect(sync.server.auth.calls).toBeGreaterThan(0);

    // The last screen is Archive's index, listing the one copied message.
    expect(screen).toMatch(/\+Archive \[Msgs:1 /);
    expect(screen).toContain("copy-me");
    // The piped and the copied message are the originals (neomutt hands them on with LF line ends).
    expect(await readFile(piped, "latin1")).toBe(source("keep-me").replace(/\r\n/g, "\n"));
    expect(await readFile(copied, "latin1")).toBe(source("copy-me").replace(/\r\n/g, "\n"));

    const client = await connectClient(sync.server);
    await client.command("SELECT INBOX");
    const inbox = await client.command("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    const bySubject = new Map<string, string>();
    for (let i = 0; i < inbox.lines.length; i++) {
      const flags = /FLAGS \(([^)]*)\)/.exec(inbox.lines[i])?.[1] ?? "";
      const subject = /Subject: (\S+)/.exec(inbox.lines[i])?.[1] ?? "";
      // neomutt records "seen before" as the keyword Old ($mark_old), as it does on any server with \* in PERMANENTFLAGS.
      bySubject.set(subject, flags.split(" ").filter((flag) => flag && flag !== "Old").sort().join(" "));
    }
    expect(Object.fromEntries(bySubject)).toEqual({ "keep-me": "", "read-me": "\\Seen", "flag-me": "\\Flagged", "copy-me": "" });
    const archive = await client.command("SELECT Archive");
    expect(archive.lines).toContain("* 1 EXISTS");
    const copy = await client.command("FETCH 1 (BODY.PEEK[])");
    expect(copy.lines[0]).toContain(source("copy-me"));
    client.close();
  });
});
