/**
 * Engine-level checks of storage layout that the MailStore contract cannot see:
 * large parts stored once per mailbox and freed with their last reference,
 * compressed rows, schema version.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { STORE_BLOB_MIN_BYTES } from "../limits.ts";
import { SqliteMailboxEngine, prepareAppend } from "./sqlite-engine.ts";
import { SCHEMA_VERSION } from "./sqlite-schema.ts";

const dir = mkdtempSync(join(tmpdir(), "sealbox-engine-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withAttachment(subject: string, attachment: string): Uint8Array {
  return new TextEncoder().encode(
    [`Subject: ${subject}`, 'Content-Type: multipart/mixed; boundary="b"', "", "--b", "Content-Type: text/plain", "", "hi", "--b", "Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64", "", attachment, "--b--", ""].join("\r\n"),
  );
}

describe("SQLite engine storage layout", () => {
  it("stores a large part once across messages and folders and frees it with the last copy", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "blobs.sqlite"), key: randomBytes(32), create: true });
    const tx = <T>(f: () => T): T => e.db.transaction(f)();
    const count = (sql: string) => (e.db.prepare(sql).get() as { n: number }).n;
    const attachment = randomBytes(STORE_BLOB_MIN_BYTES).toString("base64");
    const a = withAttachment("one", attachment);
    const b = withAttachment("two, different header", attachment);
    tx(() => e.append("INBOX", prepareAppend(a), {}));
    tx(() => e.append("Archive", prepareAppend(b), {}));
    tx(() => e.copy("INBOX", [{ start: 1, end: 1 }], "Trash"));
    expect(count("SELECT count(*) AS n FROM blobs")).toBe(1);
    expect(count("SELECT refcount AS n FROM blobs")).toBe(2);
    expect(count("SELECT count(*) AS n FROM contents")).toBe(2);
    tx(() => e.storeFlags("INBOX", [{ start: 1, end: 1 }], { op: "add", flags: ["\\Deleted"] }));
    tx(() => e.expunge("INBOX"));
    expect(count("SELECT count(*) AS n FROM contents")).toBe(2); // the Trash copy still holds it
    tx(() => e.storeFlags("Trash", [{ start: 1, end: 1 }], { op: "add", flags: ["\\Deleted"] }));
    tx(() => e.expunge("Trash"));
    expect(count("SELECT count(*) AS n FROM contents")).toBe(1);
    expect(count("SELECT refcount AS n FROM blobs")).toBe(1);
    tx(() => e.deleteFolder("Archive"));
    expect(count("SELECT count(*) AS n FROM blobs")).toBe(0);
    expect(count("SELECT count(*) AS n FROM blob_chunks")).toBe(0);
    expect(count("SELECT count(*) AS n FROM segments")).toBe(0);
    expect(e.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    e.close();
  });

  it("compresses text before it reaches SQLite", () => {
    const e = SqliteMailboxEngine.open({ path: join(dir, "codec.sqlite"), key: randomBytes(32), create: true });
    const body = "compressible text ".repeat(2000);
    e.db.transaction(() => e.append("INBOX", prepareAppend(new TextEncoder().encode(`Subject: z\r\n\r\n${body}`)), {}))();
    // The 36 KB body is a large leaf: it lives in blob chunks, compressed.
    const chunk = e.db.prepare("SELECT codec, length(data) AS stored FROM blob_chunks").get() as { codec: number; stored: number };
    expect(chunk.codec).toBe(1);
    expect(chunk.stored).toBeLessThan(body.length / 4);
    const c = e.db.prepare("SELECT codec, length(body_text) AS stored FROM contents").get() as { codec: number; stored: number };
    expect(c.codec).toBe(1);
    expect(c.stored).toBeLessThan(body.length / 4);
    e.close();
  });
});
