/**
 * offlineimap (Debian's offlineimap3) against the server over implicit TLS,
 * like the mbsync test: the 61-message corpus is appended over IMAP and pulled
 * into a Maildir, each file compared with its source byte for byte (offlineimap
 * stores LF line ends). Then a second run pushes a local flag change and a new
 * local message, and a second IMAP session sees both.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureSelfSignedCertificate } from "../../storage-node/tls/self-signed.ts";
import { connectClient, startTestServer, type TestServer } from "./harness.ts";

const run = promisify(execFile);

/**
 * offlineimap3 parses every message with Python's email package and writes the
 * generated form, which repairs MIME it finds malformed (adds missing blank
 * lines and closing boundaries, trims header whitespace). These corpus messages
 * are therefore checked by Message-ID only; the rest byte for byte. (mbsync
 * stores all of them unchanged: mbsync.test.ts.)
 */
const REWRITTEN_BY_OFFLINEIMAP = [
  "06-nested.eml",
  "08-rfc822-twice.eml",
  "21-multipart-no-boundary.eml",
  "22-never-closed.eml",
  "24-boundary-absent.eml",
  "25-same-boundary-nested.eml",
  "26-boundary-prefix.eml",
  "30-empty-parts.eml",
  "32-header-only-no-blank.eml",
  "43-folded.eml",
  "44-part-no-blank-line.eml",
  "45-rfc822-base64.eml",
  "50-empty-values.eml",
  "52-deep-nesting.eml",
  "56-boundary-trailing-junk.eml",
  "57-multipart-epilogue-only.eml",
  "58-message-global-like.eml",
  "61-header-whitespace.eml",
];
const corpusDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../golden/messages");

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sealbox-offlineimap-"));
  const tls = await ensureSelfSignedCertificate(path.join(dir, "tls"), "localhost");
  server = await startTestServer({ tls });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function sync(config: string): Promise<void> {
  await run("offlineimap", ["-c", config, "-o", "-u", "quiet"], { timeout: 120_000 });
}

async function maildirFiles(folder: string): Promise<{ file: string; bytes: Buffer }[]> {
  const out: { file: string; bytes: Buffer }[] = [];
  for (const sub of ["new", "cur"]) {
    for (const name of await readdir(path.join(folder, sub))) {
      const file = path.join(folder, sub, name);
      out.push({ file, bytes: await readFile(file) });
    }
  }
  return out;
}

describe("offlineimap", () => {
  it("pulls the corpus intact, then pushes a flag change and a new message", async () => {
    const names = (await readdir(corpusDir)).filter((name) => name.endsWith(".eml")).sort();
    expect(names.length).toBeGreaterThan(50);
    const sources = await Promise.all(names.map((name) => readFile(path.join(corpusDir, name))));
    const client = await connectClient(server);
    for (const source of sources) {
      const tag = client.nextTag();
      client.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX {${source.length}+}\r\n`), source, Buffer.from("\r\n")]));
      expect((await client.readTagged(tag)).status).toBe("OK");
    }

    const maildir = path.join(dir, "Maildir");
    await mkdir(maildir, { recursive: true });
    const config = path.join(dir, "offlineimaprc");
    await writeFile(
      config,
      [
        "[general]",
        "accounts = sealbox",
        `metadata = ${path.join(dir, "meta")}`,
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
        `remoteport = ${server.tlsPort}`,
        `remoteuser = ${server.user.address}`,
        `remotepass = ${server.user.password}`,
        "ssl = yes",
        `sslcacertfile = ${path.join(dir, "tls", "self-signed.crt")}`,
        "folderfilter = lambda folder: folder == 'INBOX'",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    await sync(config);

    const pulled = await maildirFiles(path.join(maildir, "INBOX"));
    expect(pulled).toHaveLength(sources.length);
    // Every message arrived (by Message-ID) ...
    const messageId = (bytes: Buffer): string => /^Message-ID:\s*(<[^>]*>)/im.exec(bytes.toString("latin1"))?.[1] ?? "";
    expect(pulled.map((entry) => messageId(entry.bytes)).sort()).toEqual(sources.map(messageId).sort());
    // ... byte for byte, except the ones offlineimap itself re-generates.
    const pulledBytes = new Set(pulled.map((entry) => entry.bytes.toString("base64")));
    const changed = names.filter((_, index) => !pulledBytes.has(Buffer.from(sources[index].toString("latin1").replace(/\r\n/g, "\n"), "latin1").toString("base64")));
    expect(changed).toEqual(REWRITTEN_BY_OFFLINEIMAP);

    // Mark one message \Seen and \Flagged locally (Maildir info ":2,FS"), and add a new message.
    const target = pulled.find((entry) => entry.bytes.toString("latin1").includes("Subject:")) ?? pulled[0];
    const base = path.basename(target.file).replace(/:2,.*$/, "");
    await rename(target.file, path.join(maildir, "INBOX", "cur", `${base}:2,FS`));
    const local = "From: Local <local@example.test>\nTo: alice@example.test\nSubject: written offline\nMessage-ID: <offline-1@example.test>\n\nComposed without a connection.\n";
    await writeFile(path.join(maildir, "INBOX", "new", `${Date.now()}.local1.host`), local);
    await sync(config);

    await client.command("SELECT INBOX");
    const flagged = await client.command("SEARCH FLAGGED SEEN");
    expect(flagged.lines).toHaveLength(1);
    expect(flagged.lines[0]).toMatch(/^\* SEARCH \d+$/);
    const found = await client.command('SEARCH SUBJECT "written offline"');
    const seq = /^\* SEARCH (\d+)$/.exec(found.lines[0] ?? "")?.[1];
    expect(seq).toBeDefined();
    const body = await client.command(`FETCH ${seq} (BODY.PEEK[TEXT])`);
    expect(body.lines[0]).toContain("Composed without a connection.");
    expect((await client.command("STATUS INBOX (MESSAGES)")).lines).toEqual([`* STATUS INBOX (MESSAGES ${sources.length + 1})`]);
    client.close();
  });
});
