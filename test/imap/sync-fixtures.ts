/**
 * Shared fixtures for the two-way sync tests (mbsync-sync-back.test.ts,
 * offlineimap-sync-back.test.ts): a server over TLS on the encrypted SQLite
 * store, a seeded corpus from test/golden, and readers that describe the
 * server (through its own imapflow session) and a local Maildir in the same
 * terms, so a test can state both sides exactly.
 *
 * Invariants:
 * - A message is named by its corpus file (or by the name a test gave it);
 *   it is recognised on either side by its bytes with line ends normalised to
 *   LF and the sync tools' own tracking header (X-TUID) removed, because both
 *   tools store Maildir files with LF line ends.
 * - The server is only ever read through a separate IMAP session (imapflow),
 *   never through the store directly.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ImapFlow } from "imapflow";
import { createSqliteStore } from "../../storage-node/store/sqlite-store.ts";
import { ensureSelfSignedCertificate } from "../../storage-node/tls/self-signed.ts";
import { connectClient, startTestServer, type TestServer } from "./harness.ts";

const corpusDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../golden/messages");

/**
 * The seeded corpus: plain, bare-LF, multipart, attachments, message/rfc822,
 * encoded words, RFC 2231, 8-bit body and headers, empty body, groups, no
 * trailing newline, signed, threading, quoted-printable. None of them is one
 * that either tool rewrites or refuses (see mbsync.test.ts, offlineimap.test.ts).
 */
export const INBOX_CORPUS = [
  "01-simple-plain",
  "02-bare-lf",
  "03-only-subject",
  "04-alternative",
  "05-attachment",
  "07-rfc822-attached",
  "09-rfc822-toplevel",
  "11-ew-utf8-b",
  "12-ew-latin1-q",
  "20-rfc2231",
  "27-8bit-body",
  "28-8bit-headers",
] as const;
export const ARCHIVE_CORPUS = ["31-empty-body", "37-groups", "48-no-trailing-newline", "51-signed", "53-threading", "59-qp-body"] as const;

export interface SyncServer {
  dir: string;
  server: TestServer;
  certFile: string;
  /** Corpus and test-made messages by name: the original bytes. */
  sources: Map<string, Buffer>;
  close(): Promise<void>;
}

export async function startSyncServer(prefix: string): Promise<SyncServer> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const tls = await ensureSelfSignedCertificate(path.join(dir, "tls"), "localhost");
  const server = await startTestServer({ tls, store: createSqliteStore({ dataDir: path.join(dir, "data"), workers: 1 }) });
  return {
    dir,
    server,
    certFile: path.join(dir, "tls", "self-signed.crt"),
    sources: new Map(),
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** APPENDs the corpus (INBOX_CORPUS to INBOX, ARCHIVE_CORPUS to Archive), with the given server flags. */
export async function seedCorpus(sync: SyncServer, flags: Record<string, string> = {}): Promise<void> {
  for (const [folder, names] of [["INBOX", INBOX_CORPUS], ["Archive", ARCHIVE_CORPUS]] as const) {
    for (const name of names) {
      const source = await readFile(path.join(corpusDir, `${name}.eml`));
      sync.sources.set(name, source);
      await appendRaw(sync, folder, source, flags[name] ?? "");
    }
  }
}

/** APPEND over a fresh session; throws unless the server answers OK. */
export async function appendRaw(sync: SyncServer, folder: string, source: Buffer, flags = ""): Promise<void> {
  const client = await connectClient(sync.server);
  try {
    const tag = client.nextTag();
    client.write(Buffer.concat([Buffer.from(`${tag} APPEND ${folder} (${flags}) {${source.length}+}\r\n`), source, Buffer.from("\r\n")]));
    const result = await client.readTagged(tag);
    if (result.status !== "OK") throw new Error(`APPEND failed: ${result.tagged}`);
  } finally {
    client.close();
  }
}

/** Runs commands in a fresh session on `folder` (selected first); throws unless each answers OK. */
export async function serverCommands(sync: SyncServer, folder: string, commands: string[]): Promise<void> {
  const client = await connectClient(sync.server);
  try {
    const selected = await client.command(`SELECT ${folder}`);
    if (selected.status !== "OK") throw new Error(`SELECT failed: ${selected.tagged}`);
    for (const command of commands) {
      const result = await client.command(command);
      if (result.status !== "OK") throw new Error(`${command.split(" ")[0]} failed: ${result.tagged}`);
    }
  } finally {
    client.close();
  }
}

/** Bytes in the form both tools keep in Maildir: LF line ends, no X-TUID header. */
export function maildirForm(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString("latin1").replace(/^X-TUID: [^\n]*\n/m, "").replace(/\r\n/g, "\n"), "latin1");
}

function fingerprint(bytes: Buffer): string {
  return createHash("sha256").update(maildirForm(bytes)).digest("hex");
}

/** Name of a message by its bytes; "?" plus the first header line for one the test never made. */
export function nameOf(sync: SyncServer, bytes: Buffer): string {
  const print = fingerprint(bytes);
  for (const [name, source] of sync.sources) if (fingerprint(source) === print) return name;
  return `?${bytes.toString("latin1").split("\n")[0]}`;
}

export interface ServerMessage {
  name: string;
  uid: number;
  flags: string[];
  bytes: Buffer;
}

/** Every folder's messages (name, uid, sorted flags, bytes), read through a new imapflow session. */
export async function serverState(sync: SyncServer): Promise<Map<string, ServerMessage[]>> {
  const client = new ImapFlow({
    host: "127.0.0.1",
    port: sync.server.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: sync.server.user.address, pass: sync.server.user.password },
    logger: false,
  });
  await client.connect();
  const state = new Map<string, ServerMessage[]>();
  try {
    for (const folder of await client.list()) {
      const lock = await client.getMailboxLock(folder.path);
      const messages: ServerMessage[] = [];
      try {
        if (client.mailbox && client.mailbox.exists > 0) {
          for await (const message of client.fetch("1:*", { uid: true, flags: true, source: true })) {
            const bytes = message.source ?? Buffer.alloc(0);
            messages.push({ name: nameOf(sync, bytes), uid: message.uid, flags: [...(message.flags ?? [])].sort(), bytes });
          }
        }
      } finally {
        lock.release();
      }
      state.set(folder.path, messages);
    }
  } finally {
    await client.logout();
  }
  return state;
}

/** "name flags" lines of one server folder, sorted by name: the form the tests assert on. */
export function describeServer(state: Map<string, ServerMessage[]>, folder: string): string[] {
  return (state.get(folder) ?? []).map((m) => `${m.name} ${m.flags.join(" ")}`.trim()).sort();
}

export interface LocalMessage {
  name: string;
  /** Full path of the file. */
  file: string;
  /** Maildir info flags (the letters after ":2,"), sorted. */
  flags: string;
  bytes: Buffer;
}

/** The messages of one Maildir folder (new/ and cur/). */
export async function maildirState(sync: SyncServer, folder: string): Promise<LocalMessage[]> {
  const out: LocalMessage[] = [];
  for (const sub of ["new", "cur"]) {
    let names: string[];
    try {
      names = await readdir(path.join(folder, sub));
    } catch {
      continue;
    }
    for (const entry of names) {
      const file = path.join(folder, sub, entry);
      const bytes = await readFile(file);
      const info = /:2,([A-Za-z]*)$/.exec(entry)?.[1] ?? "";
      out.push({ name: nameOf(sync, bytes), file, flags: [...info].sort().join(""), bytes });
    }
  }
  return out;
}

/** "name FLAGS" lines of one Maildir folder, sorted: the local counterpart of describeServer. */
export function describeLocal(messages: LocalMessage[]): string[] {
  return messages.map((m) => `${m.name} ${m.flags}`.trim()).sort();
}

/** Sets a local message's Maildir flags the way a mail client does: rename into cur/ with ":2,<letters>". */
export async function setLocalFlags(message: LocalMessage, letters: string): Promise<void> {
  const base = path.basename(message.file).replace(/:2,[A-Za-z]*$/, "");
  const folder = path.dirname(path.dirname(message.file));
  await rename(message.file, path.join(folder, "cur", `${base}:2,${[...letters].sort().join("")}`));
}

/**
 * Moves a local message to another Maildir folder the way a mail client does.
 * `stripUid` removes the sync tool's per-folder UID from the name (mbsync's
 * documented rule for clients that move files: the UID belongs to the old folder).
 */
export async function moveLocal(message: LocalMessage, toFolder: string, stripUid: boolean): Promise<void> {
  let base = path.basename(message.file);
  if (stripUid) base = base.replace(/,U=\d+/, "");
  await mkdir(path.join(toFolder, "cur"), { recursive: true });
  await rename(message.file, path.join(toFolder, "cur", base));
}

export async function deleteLocal(message: LocalMessage): Promise<void> {
  await unlink(message.file);
}

/** Creates a Maildir folder (cur, new, tmp) if absent. */
export async function makeMaildirFolder(folder: string): Promise<void> {
  for (const sub of ["cur", "new", "tmp"]) await mkdir(path.join(folder, sub), { recursive: true });
}

/** Writes a new message into a Maildir folder's new/ the way a local delivery does; records its bytes under `name`. */
export async function addLocal(sync: SyncServer, folder: string, name: string, text: string): Promise<Buffer> {
  await makeMaildirFolder(folder);
  const bytes = Buffer.from(text);
  sync.sources.set(name, bytes);
  await writeFile(path.join(folder, "tmp", `${name}.sealbox-test`), bytes);
  await rename(path.join(folder, "tmp", `${name}.sealbox-test`), path.join(folder, "new", `1800000000.${name}.sealbox-test`));
  return bytes;
}

/** Records a message the test delivers on the server itself. */
export function recordSource(sync: SyncServer, name: string, text: string): Buffer {
  const bytes = Buffer.from(text);
  sync.sources.set(name, bytes);
  return bytes;
}
