/**
 * Connection lifecycle: COMPRESS=DEFLATE, graceful server shutdown (BYE to
 * idle and idling sessions, in-flight commands finish), and the per-user slot
 * being freed when a client just disappears.
 */
import { describe, expect, it } from "vitest";
import { appendMessage, connectClient, message, quote, startTestServer } from "./harness.ts";

describe("COMPRESS=DEFLATE (RFC 4978)", () => {
  it("compresses both directions after the tagged OK, and only once", async () => {
    const server = await startTestServer();
    try {
      const client = await connectClient(server);
      expect((await client.command("COMPRESS DEFLATE")).tagged).toMatch(/OK DEFLATE active\.$/);
      client.compress();
      const raw = message("compressed", "z".repeat(5000) + "\r\n");
      expect((await appendMessage(client, "INBOX", raw)).status).toBe("OK");
      await client.command("SELECT INBOX");
      const fetch = await client.command("FETCH 1 BODY.PEEK[]");
      expect(fetch.lines).toEqual([`* 1 FETCH (BODY[] {${raw.length}}\r\n${raw})`]);
      expect((await client.command("COMPRESS DEFLATE")).tagged).toMatch(/NO \[COMPRESSIONACTIVE\]/);
      // The last deflated responses reach the client before the connection closes.
      const logout = await client.command("LOGOUT");
      expect([logout.lines, logout.status]).toEqual([["* BYE Logging out."], "OK"]);
      client.close();
    } finally {
      await server.close();
    }
  });
});

describe("graceful shutdown", () => {
  it("says BYE to waiting and idling sessions and closes them", async () => {
    const server = await startTestServer();
    const waiting = await connectClient(server);
    const idling = await connectClient(server);
    await idling.command("SELECT INBOX");
    idling.write("I1 IDLE\r\n");
    expect(await idling.readLine()).toBe("+ idling");
    const closed = server.close();
    expect(await waiting.readLine()).toBe("* BYE Server shutting down.");
    expect(await waiting.readLine()).toBeNull();
    expect(await idling.readLine()).toBe("* BYE Server shutting down.");
    await closed;
  });

  it("lets an in-flight APPEND finish before BYE", async () => {
    const server = await startTestServer();
    const client = await connectClient(server);
    const raw = message("late");
    client.write(`P1 APPEND INBOX {${raw.length}}\r\n`);
    expect(await client.readLine()).toBe("+ Ready for literal data");
    const closed = server.close();
    client.write(`${raw}\r\n`);
    expect((await client.readTagged("P1")).tagged).toMatch(/^P1 OK \[APPENDUID/);
    expect(await client.readLine()).toBe("* BYE Server shutting down.");
    expect(await client.readLine()).toBeNull();
    await closed;
  });
});

describe("per-user slots", () => {
  it("are released when a client disconnects without LOGOUT", async () => {
    const server = await startTestServer({ limits: { maxConnectionsPerUser: 1 } });
    try {
      const first = await connectClient(server);
      first.close();
      // The server notices the close, closes the mailbox handle and frees the slot.
      let status = "NO";
      for (let attempt = 0; attempt < 50 && status !== "OK"; attempt++) {
        const next = await connectClient(server, { login: false });
        status = (await next.command(`LOGIN ${server.user.address} ${quote(server.user.password)}`)).status;
        next.close();
        if (status !== "OK") await new Promise((resolve) => setImmediate(resolve));
      }
      expect(status).toBe("OK");
    } finally {
      await server.close();
    }
  });
});
