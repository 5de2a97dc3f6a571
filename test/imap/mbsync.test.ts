/**
 * mbsync (isync) against the server over implicit TLS: a corpus of 61 real
 * and malformed messages is appended over IMAP, pulled into a Maildir, and
 * each file is compared with its source byte for byte (mbsync stores Maildir
 * files with LF line ends, so the source is compared in that form).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureSelfSignedCertificate } from "../../storage-node/tls/self-signed.ts";
import { connectClient, startTestServer, type TestServer } from "./harness.ts";

const run = promisify(execFile);
const corpusDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../golden/messages");

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sealbox-mbsync-"));
  const tls = await ensureSelfSignedCertificate(path.join(dir, "tls"), "localhost");
  server = await startTestServer({ tls });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("mbsync", () => {
  it("pulls a corpus into a Maildir with every message intact", async () => {
    const names = (await readdir(corpusDir)).filter((name) => name.endsWith(".eml")).sort();
    expect(names.length).toBeGreaterThan(50);
    const sources = await Promise.all(names.map((name) => readFile(path.join(corpusDir, name))));

    const client = await connectClient(server);
    for (const source of sources) {
      const tag = client.nextTag();
      client.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX {${source.length}+}\r\n`), source, Buffer.from("\r\n")]));
      expect((await client.readTagged(tag)).status).toBe("OK");
    }
    client.close();

    const maildir = path.join(dir, "Maildir");
    const config = path.join(dir, "mbsyncrc");
    await writeFile(
      config,
      [
        "IMAPAccount sealbox",
        "Host localhost",
        `Port ${server.tlsPort}`,
        `User ${server.user.address}`,
        `Pass ${server.user.password}`,
        "SSLType IMAPS",
        `CertificateFile ${path.join(dir, "tls", "self-signed.crt")}`,
        "",
        "IMAPStore remote",
        "Account sealbox",
        "",
        "MaildirStore local",
        `Path ${maildir}/`,
        `Inbox ${maildir}/INBOX`,
        "",
        "Channel sync",
        "Far :remote:",
        "Near :local:",
        "Patterns INBOX",
        "Create Near",
        "Sync Pull",
        `SyncState ${dir}/state/`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    await run("mkdir", ["-p", path.join(dir, "state"), maildir]);
    await run("mbsync", ["-c", config, "-a"], { timeout: 60_000 });

    const files: Buffer[] = [];
    for (const sub of ["new", "cur"]) {
      const folder = path.join(maildir, "INBOX", sub);
      for (const name of await readdir(folder)) {
        // mbsync writes its own tracking header (X-TUID) into every message it stores.
        const text = (await readFile(path.join(folder, name))).toString("latin1").replace(/^X-TUID: [^\n]*\n/m, "");
        files.push(Buffer.from(text, "latin1"));
      }
    }
    // mbsync itself refuses a message whose header never ends ("incomplete header; skipping").
    const expectedSources = sources.filter((_, index) => names[index] !== "32-header-only-no-blank.eml");
    expect(files).toHaveLength(expectedSources.length);
    const expected = expectedSources.map((source) => Buffer.from(source.toString("latin1").replace(/\r\n/g, "\n"), "latin1").toString("base64")).sort();
    const actual = files.map((file) => file.toString("base64")).sort();
    expect(actual).toEqual(expected);
  });
});
