/**
 * Records Dovecot's answers for the golden MIME corpus.
 *
 *   node --import tsx scripts/golden-dovecot.ts [name…]
 *
 * Starts Dovecot (Debian's dovecot-imapd) from a throwaway directory with a
 * throwaway config: 127.0.0.1 on a free high port, one passwd-file user, mail
 * in a temporary maildir; nothing outside that directory is written, and the
 * directory is removed afterwards. For every `test/golden/messages/*.eml` it
 * APPENDs the exact bytes, FETCHes ENVELOPE, BODYSTRUCTURE and BODY, plus
 * BODY.PEEK/BINARY.PEEK sections for every part that Sealbox's parser finds,
 * and writes `test/golden/dovecot/<name>.txt`: one entry per item,
 * `<item> <length>\n<exact bytes>\n`.
 *
 * Dovecot stores maildir mail with LF line ends and reports sizes as if every
 * line ended in CRLF; the golden test therefore compares against the message
 * with bare LF turned into CRLF.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync, chownSync, mkdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";
import { parseMessage } from "../storage-node/mime/parse.ts";
import type { MimePartData } from "../storage-node/mime/types.ts";
import { freePort } from "../test/support/ports.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const messagesDir = join(root, "test/golden/messages");
const outDir = join(root, "test/golden/dovecot");

function writeConfig(dir: string, port: number): string {
  const conf = join(dir, "dovecot.conf");
  // The mail user is the unprivileged "nobody" account; only its two
  // directories inside the throwaway directory are handed to it.
  const uid = Number(execFileSync("id", ["-u", "nobody"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "nobody"]).toString().trim());
  for (const sub of ["mail", "home"]) {
    mkdirSync(join(dir, sub), { recursive: true });
    chownSync(join(dir, sub), uid, gid);
  }
  writeFileSync(join(dir, "passwd"), `golden:{PLAIN}golden:${uid}:${gid}::${dir}/home::userdb_mail=maildir:${dir}/mail\n`);
  writeFileSync(
    conf,
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      `protocols = imap`,
      `listen = 127.0.0.1`,
      `ssl = no`,
      `disable_plaintext_auth = no`,
      `auth_mechanisms = plain`,
      `mail_location = maildir:${dir}/mail`,
      `default_internal_user = dovecot`,
      `default_login_user = dovenull`,
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u ${dir}/passwd\n}`,
      `userdb {\n  driver = passwd-file\n  args = username_format=%u ${dir}/passwd\n}`,
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}`,
      `service stats {\n  unix_listener stats-reader {\n    mode = 0600\n  }\n  unix_listener stats-writer {\n    mode = 0666\n  }\n}`,
      "",
    ].join("\n"),
  );
  return conf;
}

/** Minimal IMAP client: reads whole responses, literals included. */
class Client {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private tag = 0;
  constructor(private readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
  }
  private async more(): Promise<void> {
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  /** One response (a line plus any literals it announces), without the final CRLF. */
  async readResponse(): Promise<Buffer> {
    let pos = 0;
    for (;;) {
      const nl = this.buf.indexOf("\r\n", pos);
      if (nl < 0) {
        await this.more();
        continue;
      }
      const m = /\{(\d+)\}$/.exec(this.buf.subarray(pos, nl).toString("latin1"));
      if (m) {
        const need = nl + 2 + Number(m[1]);
        while (this.buf.length < need) await this.more();
        pos = need;
        continue;
      }
      const resp = this.buf.subarray(0, nl);
      this.buf = this.buf.subarray(nl + 2);
      return resp;
    }
  }
  async command(text: string, literal?: Uint8Array): Promise<Buffer[]> {
    const tag = `g${++this.tag}`;
    if (literal) {
      this.sock.write(`${tag} ${text} {${literal.length}}\r\n`);
      const cont = await this.readResponse();
      if (cont[0] !== 0x2b) throw new Error(`no continuation: ${cont.toString("latin1")}`);
      this.sock.write(Buffer.concat([Buffer.from(literal), Buffer.from("\r\n")]));
    } else {
      this.sock.write(`${tag} ${text}\r\n`);
    }
    const out: Buffer[] = [];
    for (;;) {
      const r = await this.readResponse();
      if (r.subarray(0, tag.length + 1).toString("latin1") === `${tag} `) {
        if (!r.subarray(tag.length + 1).toString("latin1").startsWith("OK")) throw new Error(`${text.split(" ")[0]} failed: ${r.toString("latin1")}`);
        return out;
      }
      out.push(r);
    }
  }
}

async function connectWithRetry(port: number): Promise<Socket> {
  for (let i = 0; i < 100; i++) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(port, "127.0.0.1", () => resolve(s));
        s.once("error", reject);
      });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error("dovecot did not start");
}

function sectionSpecs(tree: MimePartData): string[] {
  const specs = ["HEADER", "TEXT", "1", "1.MIME", "9", "1.9"];
  const walk = (n: MimePartData, inMessage: boolean): void => {
    if (n.path.length > 0 && !inMessage) {
      const p = n.path.join(".");
      specs.push(p, `${p}.MIME`);
      if (n.kind === "message") specs.push(`${p}.HEADER`, `${p}.TEXT`, `${p}.HEADER.FIELDS (SUBJECT FROM)`, `${p}.1`);
    }
    if (n.kind === "message") for (const c of n.children) for (const cc of c.children) walk(cc, false);
    else for (const c of n.children) walk(c, false);
  };
  walk(tree, false);
  specs.push("HEADER.FIELDS (SUBJECT CONTENT-TYPE)", "HEADER.FIELDS.NOT (SUBJECT CONTENT-TYPE)");
  return [...new Set(specs)];
}

function binarySpecs(tree: MimePartData): string[] {
  const out: string[] = [];
  const walk = (n: MimePartData): void => {
    if (n.kind === "single" && n.path.length > 0) out.push(n.path.join("."));
    if (n.kind === "multipart") for (const c of n.children) walk(c);
  };
  if (tree.kind === "single") out.push("1");
  else walk(tree);
  return out;
}

/** Extracts the value of `item` from `* n FETCH (item value)`. */
function itemValue(responses: Buffer[], item: string): Buffer {
  for (const r of responses) {
    const head = r.subarray(0, 40).toString("latin1");
    if (!/^\* \d+ FETCH \(/.test(head)) continue;
    const open = r.indexOf("(") + 1;
    const s = r.subarray(open).toString("latin1");
    const want = `${item} `;
    if (s.startsWith(want)) return r.subarray(open + want.length, r.length - 1);
    // Dovecot may put UID or FLAGS first.
    const at = s.indexOf(` ${want}`);
    if (at >= 0) return r.subarray(open + at + 1 + want.length, r.length - 1);
  }
  throw new Error(`no ${item} in FETCH response`);
}

async function main(): Promise<void> {
  const only = new Set(process.argv.slice(2));
  const names = readdirSync(messagesDir)
    .filter((f) => f.endsWith(".eml"))
    .map((f) => f.slice(0, -4))
    .filter((n) => only.size === 0 || only.has(n))
    .sort();
  const dir = mkdtempSync(join(tmpdir(), "sealbox-golden-"));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const conf = writeConfig(dir, port);
  const dovecot: ChildProcess = spawn("/usr/sbin/dovecot", ["-F", "-c", conf], { stdio: ["ignore", "inherit", "inherit"] });
  try {
    const sock = await connectWithRetry(port);
    const client = new Client(sock);
    await client.readResponse();
    await client.command("LOGIN golden golden");
    await client.command("SELECT INBOX");
    mkdirSync(outDir, { recursive: true });
    let seq = 0;
    for (const name of names) {
      const raw = readFileSync(join(messagesDir, `${name}.eml`));
      await client.command("APPEND INBOX", raw);
      await client.command("NOOP");
      seq++;
      const parts: Buffer[] = [];
      const add = (item: string, value: Buffer): void => {
        parts.push(Buffer.from(`${item} ${value.length}\n`), value, Buffer.from("\n"));
      };
      for (const item of ["ENVELOPE", "BODYSTRUCTURE", "BODY"]) {
        add(item, itemValue(await client.command(`FETCH ${seq} (${item})`), item));
      }
      const tree = parseMessage(raw).tree;
      for (const spec of sectionSpecs(tree)) {
        const resp = await client.command(`FETCH ${seq} (BODY.PEEK[${spec}])`);
        const fieldsAt = spec.indexOf(" (");
        const shown = fieldsAt < 0 ? spec : spec.slice(0, fieldsAt) + " " + spec.slice(fieldsAt + 1);
        add(`BODY[${spec}]`, itemValue(resp, `BODY[${shown}]`));
      }
      for (const spec of binarySpecs(tree)) {
        try {
          add(`BINARY[${spec}]`, itemValue(await client.command(`FETCH ${seq} (BINARY.PEEK[${spec}])`), `BINARY[${spec}]`));
        } catch (e) {
          add(`BINARY[${spec}]`, Buffer.from(`ERROR ${(e as Error).message.split(": ").slice(-1)[0]}`));
        }
      }
      writeFileSync(join(outDir, `${name}.txt`), Buffer.concat(parts));
    }
    await client.command("LOGOUT").catch(() => []);
    sock.destroy();
    console.log(`recorded ${names.length} messages in ${outDir}`);
  } catch (e) {
    // The log is Dovecot's own (no message content); it explains setup failures.
    console.error(readFileSync(join(dir, "dovecot.log"), "latin1").split("\n").slice(-15).join("\n"));
    throw e;
  } finally {
    dovecot.kill("SIGTERM");
    await new Promise((r) => dovecot.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
