/**
 * TLS: the self-signed certificate helper, STARTTLS (including the
 * command-injection class: plaintext pipelined after STARTTLS must never be
 * executed), LOGINDISABLED on plaintext, and implicit TLS.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureSelfSignedCertificate } from "../../storage-node/tls/self-signed.ts";
import { connectClient, quote, startTestServer, type TestServer } from "./harness.ts";

let dir: string;
let tls: { key: string; cert: string };
let server: TestServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sealbox-imap-tls-"));
  tls = await ensureSelfSignedCertificate(path.join(dir, "tls"), "localhost");
  server = await startTestServer({ tls, loginDisabledOnPlaintext: true });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("self-signed certificate", () => {
  it("is made once, kept private, and reused", async () => {
    expect(tls.cert).toContain("BEGIN CERTIFICATE");
    const keyFile = path.join(dir, "tls", "self-signed.key");
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const again = await ensureSelfSignedCertificate(path.join(dir, "tls"), "localhost");
    expect(again.cert).toBe(tls.cert);
    expect(await readFile(keyFile, "utf8")).toBe(tls.key);
    await expect(ensureSelfSignedCertificate(path.join(dir, "x"), "bad host; rm -rf /")).rejects.toThrow(/invalid host name/);
  });
});

describe("STARTTLS", () => {
  it("advertises STARTTLS and LOGINDISABLED on plaintext and refuses LOGIN there", async () => {
    const client = await connectClient(server, { login: false });
    const caps = await client.command("CAPABILITY");
    expect(caps.lines[0]).toContain(" STARTTLS");
    expect(caps.lines[0]).toContain(" LOGINDISABLED");
    expect(caps.lines[0]).not.toContain("AUTH=PLAIN");
    const login = await client.command(`LOGIN ${server.user.address} ${quote(server.user.password)}`);
    expect(login.tagged).toMatch(/NO \[PRIVACYREQUIRED\]/);
    expect(server.auth.calls).toBe(0);
    client.close();
  });

  it("discards commands pipelined after STARTTLS before the handshake", async () => {
    const client = await connectClient(server, { login: false });
    client.write(`S1 STARTTLS\r\nS2 LOGIN ${server.user.address} ${quote(server.user.password)}\r\nS3 CAPABILITY\r\n`);
    expect(await client.readLine()).toBe("S1 OK Begin TLS negotiation now.");
    await client.upgrade();
    const caps = await client.command("CAPABILITY", "S4");
    // Nothing of S2/S3 was answered: the first response after the handshake is S4's.
    expect(caps.lines).toHaveLength(1);
    expect(caps.lines[0]).toContain("AUTH=PLAIN");
    expect(caps.lines[0]).not.toContain("STARTTLS");
    expect(caps.lines[0]).not.toContain("LOGINDISABLED");
    expect((await client.command("NOOP", "S5")).tagged).toBe("S5 OK NOOP completed.");
    expect((await client.command("SELECT INBOX", "S6")).status).toBe("BAD"); // S2 never logged in
    expect((await client.command(`LOGIN ${server.user.address} ${quote(server.user.password)}`, "S7")).status).toBe("OK");
    expect((await client.command("STARTTLS", "S8")).status).toBe("BAD");
    client.close();
  });

  it("serves implicit TLS", async () => {
    const client = await connectClient(server, { tls: true });
    expect((await client.command("SELECT INBOX")).status).toBe("OK");
    client.close();
  });
});
