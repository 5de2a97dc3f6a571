/**
 * The SQLite store's promises beyond the conformance suite: nothing readable
 * at rest, a wrong key changes nothing, resolved appends survive SIGKILL, and
 * one mailbox's heavy work does not hold up another's.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, readSync, statSync, openSync, writeSync, closeSync } from "node:fs";
import Database from "better-sqlite3-multiple-ciphers";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StoreError, type MailStore } from "../../storage-node/store/types.ts";
import { useStoreFixtures } from "./store-fixtures.ts";

const enc = new TextEncoder();
const fixtures = useStoreFixtures("at-rest");
const tempDir = fixtures.tempDir;
const store = (dataDir: string, workers = 2): MailStore => fixtures.store({ dataDir, workers });

function snapshot(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
}

function findMarkers(dir: string, markers: string[]): string[] {
  const hits: string[] = [];
  for (const [name, bytes] of snapshot(dir)) {
    for (const m of markers) {
      if (name.includes(m)) hits.push(`${m} in file name ${name}`);
      for (const form of [Buffer.from(m, "utf8"), Buffer.from(m, "utf16le"), Buffer.from(m.toUpperCase(), "utf8"), Buffer.from(m.toLowerCase(), "utf8")])
        if (bytes.includes(form)) hits.push(`${m} in ${name}`);
    }
  }
  return hits;
}

describe("SQLite store at rest", () => {
  it("leaves no plaintext marker in any file after a mixed workload", async () => {
    const dir = tempDir();
    const s = store(dir);
    const markers = ["Zanzibarquokka", "plumbusfrobnicate", "Wibblewocket", "QUUXATTACHMENTMARK", "secretfoldername"];
    const attachment = Buffer.from(("QUUXATTACHMENTMARK " + "lorem ipsum ").repeat(4000)).toString("base64");
    const msg = (i: number) =>
      enc.encode(
        [
          "From: Zanzibarquokka <sender@example.org>",
          "To: rcpt@example.net",
          `Subject: plumbusfrobnicate ${i}`,
          "MIME-Version: 1.0",
          'Content-Type: multipart/mixed; boundary="b"',
          "",
          "--b",
          "Content-Type: text/plain",
          "",
          `Wibblewocket body text number ${i}`,
          "--b",
          "Content-Type: text/plain; name=notes.txt",
          "Content-Disposition: attachment",
          "",
          ("QUUXATTACHMENTMARK plain attachment " + i + " ").repeat(2000),
          "--b",
          "Content-Type: application/octet-stream",
          "Content-Transfer-Encoding: base64",
          "",
          attachment,
          "--b--",
          "",
        ].join("\r\n"),
      );
    const id = "mbx" + randomBytes(8).toString("hex");
    const key = randomBytes(32);
    const mb = await s.open({ id, key, create: true });
    await mb.createFolder("secretfoldername/sub");
    for (let i = 0; i < 20; i++) await mb.append(i % 2 ? "INBOX" : "secretfoldername/sub", msg(i), { flags: ["$Wibblewocket"] });
    await mb.copy("INBOX", [{ start: 1, end: 5 }], "Archive");
    await mb.move("secretfoldername/sub", [{ start: 1, end: 3 }], "Trash");
    await mb.storeFlags("INBOX", [{ start: 1, end: Infinity }], { op: "add", flags: ["\\Deleted"] });
    await mb.expunge("INBOX", [{ start: 1, end: 4 }]);
    expect(await mb.search("Archive", { type: "text", value: "wocket" })).toHaveLength(5);
    expect(await mb.search("Archive", { type: "body", value: "quuxattach" })).toHaveLength(5);
    // While open (WAL and shared-memory files present) and after close.
    expect(readdirSync(dir).some((f) => f.endsWith("-wal"))).toBe(true);
    expect(findMarkers(dir, markers)).toEqual([]);
    await mb.close();
    expect(findMarkers(dir, markers)).toEqual([]);
    for (const f of readdirSync(dir)) expect(f.startsWith(id)).toBe(true);
  });

  it("refuses a wrong key without creating or changing any file, and never echoes the key", async () => {
    const dir = tempDir();
    const s = store(dir);
    const id = "mbx" + randomBytes(8).toString("hex");
    const key = randomBytes(32);
    const mb = await s.open({ id, key, create: true });
    await mb.append("INBOX", enc.encode("Subject: x\r\n\r\nhello\r\n"));
    await mb.close();
    const before = snapshot(dir);
    const wrong = randomBytes(32);
    let err: unknown;
    try {
      await s.open({ id, key: wrong });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).kind).toBe("bad-key");
    expect((err as StoreError).message).not.toContain(wrong.toString("hex"));
    const after = snapshot(dir);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, bytes] of before) expect(after.get(name)!.equals(bytes), name).toBe(true);
    // An unknown id with a key and no create: nothing appears.
    await expect(s.open({ id: "mbx" + randomBytes(8).toString("hex"), key })).rejects.toMatchObject({ kind: "not-found" });
    expect(readdirSync(dir).sort()).toEqual([...before.keys()].sort());
    // The right key still opens it.
    const again = await s.open({ id, key });
    expect(await again.uids("INBOX")).toEqual([1]);
    await again.close();
  });

  it("writes new mailboxes with AEGIS-256 and refuses a header that does not reserve what a page cipher needs", async () => {
    const dir = tempDir();
    const s = store(dir, 1);
    const id = "mbx" + randomBytes(8).toString("hex");
    const key = randomBytes(32);
    const mb = await s.open({ id, key, create: true });
    await mb.append("INBOX", new TextEncoder().encode("Subject: kept\r\n\r\nbody\r\n"));
    await mb.close();
    const path = join(dir, `${id}.sqlite`);
    const header = () => {
      const fd = openSync(path, "r");
      try {
        const b = Buffer.alloc(1);
        readSync(fd, b, 0, 1, 20);
        return b[0];
      } finally {
        closeSync(fd);
      }
    };
    const setHeader = (value: number) => {
      const fd = openSync(path, "r+");
      writeSync(fd, Buffer.from([value]), 0, 1, 20);
      closeSync(fd);
    };
    // AEGIS-256: a 32-byte nonce and a 32-byte tag per page.
    expect(header()).toBe(64);
    const size = statSync(path).size;
    // No reserved space: no cipher could keep its MAC. Refused, and the file is not touched.
    setHeader(0);
    await expect(s.open({ id, key })).rejects.toMatchObject({ kind: "corrupt" });
    // Claiming chacha20's 32 bytes does not make it a chacha20 file: the pages do not authenticate.
    setHeader(32);
    await expect(s.open({ id, key })).rejects.toBeInstanceOf(StoreError);
    expect(statSync(path).size).toBe(size);
    setHeader(64);
    const again = await s.open({ id, key });
    expect(await again.uids("INBOX")).toEqual([1]);
    await again.close();
  });

  it("still opens, reads and writes a mailbox file encrypted with chacha20", async () => {
    const dir = tempDir();
    const id = "mbx" + randomBytes(8).toString("hex");
    const key = randomBytes(32);
    const path = join(dir, `${id}.sqlite`);
    // The page layout of files written before AEGIS: chacha20, 32 reserved bytes per page.
    const db = new Database(path);
    db.pragma("cipher='chacha20'");
    db.pragma(`key="x'${key.toString("hex")}'"`);
    db.exec("BEGIN; CREATE TABLE _init(x); DROP TABLE _init; COMMIT;");
    db.close();
    const s = store(dir, 1);
    const mb = await s.open({ id, key });
    const { uid } = await mb.append("INBOX", new TextEncoder().encode("Subject: old file\r\n\r\nzebracrossing\r\n"));
    await mb.close();
    const again = await s.open({ id, key });
    expect(await again.search("INBOX", { type: "body", value: "zebracrossing" })).toEqual([uid]);
    await again.close();
    const fd = openSync(path, "r");
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 20);
    closeSync(fd);
    expect(b[0]).toBe(32);
    expect(readFileSync(path).includes("zebracrossing")).toBe(false);
  });

  it("keeps every append that resolved before the process was killed with SIGKILL", async () => {
    const dir = tempDir();
    const id = "mbx" + randomBytes(8).toString("hex");
    const key = randomBytes(32);
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "append-child.ts"), dir, id, key.toString("hex")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const resolved = new Map<number, number>();
    let buf = "";
    await new Promise<void>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", () => resolve());
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const m = /^(\d+) (\d+)$/.exec(line);
          if (m) resolved.set(Number(m[1]), Number(m[2]));
          if (resolved.size >= 300 && child.exitCode === null && !child.killed) child.kill("SIGKILL");
        }
      });
    });
    expect(child.signalCode).toBe("SIGKILL");
    expect(resolved.size).toBeGreaterThanOrEqual(300);
    const s = store(dir, 1);
    const mb = await s.open({ id, key });
    const present = new Set(await mb.uids("INBOX"));
    for (const uid of resolved.keys()) expect(present.has(uid), `uid ${uid}`).toBe(true);
    const sample = [...resolved.entries()].slice(-5);
    for (const [uid, n] of sample) {
      for await (const m of mb.fetch("INBOX", [{ start: uid, end: uid }], { envelope: true })) expect(m.envelope?.subject).toBe(`crash ${n}`);
    }
    await mb.close();
  });

  it("lets one mailbox answer while another is busy with a large fetch", async () => {
    const dir = tempDir();
    const s = store(dir, 2);
    const a = await s.open({ id: "mbx" + randomBytes(8).toString("hex"), key: randomBytes(32), create: true });
    const b = await s.open({ id: "mbx" + randomBytes(8).toString("hex"), key: randomBytes(32), create: true });
    const big = Buffer.alloc(20 * 1024 * 1024, "A");
    big.write("Subject: big\r\n\r\n");
    await a.append("INBOX", big);
    await b.append("INBOX", enc.encode("Subject: small\r\n\r\nx\r\n"));
    const order: string[] = [];
    const fetchA = (async () => {
      let n = 0;
      for await (const m of a.fetch("INBOX", [{ start: 1, end: 1 }], { sections: [{ part: [], specifier: "" }] }))
        for await (const c of m.sections![0].chunks) n += c.byteLength;
      order.push("a");
      return n;
    })();
    const statusB = b.status("INBOX").then((st) => {
      order.push("b");
      return st;
    });
    const [n, st] = await Promise.all([fetchA, statusB]);
    expect(n).toBe(big.byteLength);
    expect(st.messages).toBe(1);
    expect(order).toEqual(["b", "a"]);
    await a.close();
    await b.close();
  });
});

