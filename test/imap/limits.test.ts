/**
 * Every IMAP limit at its edge: line length, command size, literal size,
 * consecutive bad commands, connections per IP and per user, the
 * pre-authentication timeout, search nesting, and LITERAL+ discard size.
 * The server is started with small limits so each edge is cheap to reach.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connectClient, quote, startTestServer, type TestServer } from "./harness.ts";

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe("IMAP limits", () => {
  it("accepts a line of exactly maxLineBytes and refuses one byte more", async () => {
    server = await startTestServer({ limits: { maxLineBytes: 100 } });
    const client = await connectClient(server, { login: false });
    const exact = `A1 ID ("x" "${"y".repeat(100 - 'A1 ID ("x" "")'.length)}")`;
    expect(exact.length).toBe(100);
    expect((await client.command(exact.slice(3), "A1")).status).toBe("OK");
    client.write(`A2 ID ("x" "${"y".repeat(100 - 'A2 ID ("x" "")'.length + 1)}")\r\n`);
    expect(await client.readLine()).toBe("* BAD Command line too long.");
    expect((await client.command("NOOP")).status).toBe("OK");
    // An overlong line that announces a literal: its bytes could be taken for commands, so the server quits.
    client.write(`A3 LOGIN ${"u".repeat(120)} {5}\r\n`);
    expect(await client.readLine()).toBe("* BAD Command line too long.");
    expect(await client.readLine()).toBe("* BYE Too much invalid input.");
    expect(await client.readLine()).toBeNull();
  });

  it("checks a literal against the command byte cap before sending +", async () => {
    server = await startTestServer({ limits: { maxCommandBytes: 200 } });
    const client = await connectClient(server, { login: false });
    client.write("A1 LOGIN {150}\r\n");
    expect((await client.readLine())?.startsWith("+")).toBe(true);
    client.write(`${"u".repeat(150)} {100}\r\n`);
    expect(await client.readLine()).toBe("A1 BAD Command too long.");
    expect((await client.command("NOOP")).status).toBe("OK");
    client.close();
  });

  it("says BYE after maxBadCommands malformed commands in a row", async () => {
    server = await startTestServer({ limits: { maxBadCommands: 3 } });
    const client = await connectClient(server, { login: false });
    expect((await client.command("FROB")).status).toBe("BAD");
    expect((await client.command("FROB")).status).toBe("BAD");
    expect((await client.command("NOOP")).status).toBe("OK"); // resets the count
    expect((await client.command("FROB")).status).toBe("BAD");
    expect((await client.command("FROB")).status).toBe("BAD");
    client.write("A9 FROB\r\n");
    expect(await client.readLine()).toBe("A9 BAD Unknown command.");
    expect(await client.readLine()).toBe("* BYE Too many invalid commands.");
    expect(await client.readLine()).toBeNull();
  });

  it("caps connections per IP", async () => {
    server = await startTestServer({ limits: { maxConnectionsPerIp: 2 } });
    const first = await connectClient(server, { login: false });
    const second = await connectClient(server, { login: false });
    const third = await import("./harness.ts").then((h) => h.WireClient.connect((server as TestServer).port));
    expect(await third.readLine()).toBe("* BYE Too many connections from your address.");
    expect(await third.readLine()).toBeNull();
    first.close();
    await second.command("LOGOUT");
    second.close();
  });

  it("caps authenticated sessions per mailbox and frees the slot on logout", async () => {
    server = await startTestServer({ limits: { maxConnectionsPerUser: 1 } });
    const first = await connectClient(server);
    const second = await connectClient(server, { login: false });
    const refused = await second.command(`LOGIN ${server.user.address} ${quote(server.user.password)}`);
    expect(refused.tagged).toMatch(/NO \[LIMIT\]/);
    await first.command("LOGOUT");
    expect(await first.readLine()).toBeNull();
    expect((await second.command(`LOGIN ${server.user.address} ${quote(server.user.password)}`)).status).toBe("OK");
    second.close();
  });

  it("logs out an idle client before authentication", async () => {
    server = await startTestServer({ limits: { preauthTimeoutMs: 50 } });
    const client = await connectClient(server, { login: false });
    expect(await client.readLine()).toBe("* BYE Autologout; idle for too long.");
    expect(await client.readLine()).toBeNull();
  });

  it("caps search nesting at maxSearchDepth", async () => {
    server = await startTestServer({ limits: { maxSearchDepth: 3 } });
    const client = await connectClient(server);
    await client.command("SELECT INBOX");
    expect((await client.command("SEARCH NOT NOT NOT ALL")).status).toBe("OK");
    expect((await client.command("SEARCH NOT NOT NOT NOT ALL")).tagged).toMatch(/BAD Search criteria nested too deeply/);
    expect((await client.command("SEARCH ((((ALL))))")).status).toBe("BAD");
    client.close();
  });

  it("drops a refused LITERAL+ literal up to maxDiscardBytes and closes beyond it", async () => {
    server = await startTestServer({ limits: { maxCommandBytes: 100, maxDiscardBytes: 1000 } });
    const client = await connectClient(server, { login: false });
    client.write(`A1 LOGIN {1000+}\r\n${"x".repeat(1000)} pass\r\nA2 NOOP\r\n`);
    expect((await client.readTagged("A1")).status).toBe("BAD");
    expect((await client.readTagged("A2")).status).toBe("OK");
    client.write(`A3 LOGIN {1001+}\r\n${"x".repeat(1001)} pass\r\n`);
    expect(await client.readLine()).toBe("A3 BAD Command too long.");
    expect(await client.readLine()).toBe("* BYE Cannot recover from invalid input.");
    expect(await client.readLine()).toBeNull();
  });

  it("refuses quoted strings with NUL and literals with NUL outside literal8", async () => {
    server = await startTestServer();
    const client = await connectClient(server, { login: false });
    client.write('A1 LOGIN "a\0b" c\r\n');
    expect((await client.readTagged("A1")).status).toBe("BAD");
    client.write("A2 LOGIN {3+}\r\na\0b c\r\n");
    expect((await client.readTagged("A2")).tagged).toMatch(/BAD NUL in literal/);
    client.close();
  });
});

describe("idle timeouts after login", () => {
  it("logs out an authenticated client idle past authTimeoutMs, and IDLE past idleMaxMs", async () => {
    server = await startTestServer({ limits: { authTimeoutMs: 80, idleMaxMs: 80 } });
    const quiet = await connectClient(server);
    expect(await quiet.readLine()).toBe("* BYE Autologout; idle for too long.");
    const idler = await connectClient(server);
    await idler.command("SELECT INBOX");
    idler.write("I1 IDLE\r\n");
    expect(await idler.readLine()).toBe("+ idling");
    expect(await idler.readLine()).toBe("* BYE Autologout; idle for too long.");
  });
});

describe("byte reader memory", () => {
  it("holds at most one cap's worth of an endless line", async () => {
    const { ByteReader } = await import("../../storage-node/imap/wire/byte-reader.ts");
    const reader = new ByteReader(1 << 20);
    const line = reader.readLine(1024);
    let peak = 0;
    const chunk = Buffer.alloc(4096, 0x61);
    for (let i = 0; i < 2500; i++) {
      reader.push(chunk); // 10 MB without a line feed
      peak = Math.max(peak, reader.pending);
      await new Promise((resolve) => setImmediate(resolve));
    }
    reader.push(Buffer.from("tail {5+}\r\n"));
    const result = await line;
    expect(result?.tooLong).toBe(true);
    expect(result?.line.toString()).toMatch(/tail \{5\+\}$/);
    expect(peak).toBeLessThanOrEqual(1024 + 4096);
  });
});
