import { describe, expect, it } from "vitest";
import { HANDSHAKE_MAX_SKEW_MS, generateNodeKeyPair, handshakeHeaders, readHandshakeHeaders, signHandshake, verifyHandshake } from "./handshake.ts";

describe("tunnel handshake", () => {
  const keys = generateNodeKeyPair();

  it("verifies a fresh handshake signed with the node's key", () => {
    const data = signHandshake("node-1", keys.secretKey);
    expect(verifyHandshake(data, keys.publicKey)).toBe("ok");
  });

  it("survives a trip through HTTP headers", () => {
    const headers = new Headers(handshakeHeaders(signHandshake("node-1", keys.secretKey)));
    const data = readHandshakeHeaders((name) => headers.get(name));
    expect(data && verifyHandshake(data, keys.publicKey)).toBe("ok");
  });

  it("refuses a signature by another key", () => {
    const other = generateNodeKeyPair();
    expect(verifyHandshake(signHandshake("node-1", other.secretKey), keys.publicKey)).toBe("bad-signature");
  });

  it("refuses a handshake whose node id, time or nonce was altered", () => {
    const data = signHandshake("node-1", keys.secretKey);
    expect(verifyHandshake({ ...data, nodeId: "node-2" }, keys.publicKey)).toBe("bad-signature");
    expect(verifyHandshake({ ...data, timestamp: data.timestamp + 1 }, keys.publicKey)).toBe("bad-signature");
    expect(verifyHandshake({ ...data, nonce: data.nonce + "x" }, keys.publicKey)).toBe("bad-signature");
  });

  it("refuses a stale or future handshake", () => {
    const now = Date.now();
    expect(verifyHandshake(signHandshake("node-1", keys.secretKey, now - HANDSHAKE_MAX_SKEW_MS - 1), keys.publicKey, now)).toBe("stale");
    expect(verifyHandshake(signHandshake("node-1", keys.secretKey, now + HANDSHAKE_MAX_SKEW_MS + 1), keys.publicKey, now)).toBe("stale");
    expect(verifyHandshake(signHandshake("node-1", keys.secretKey, now - HANDSHAKE_MAX_SKEW_MS + 1000), keys.publicKey, now)).toBe("ok");
  });

  it("uses a new nonce every time", () => {
    expect(signHandshake("node-1", keys.secretKey).nonce).not.toBe(signHandshake("node-1", keys.secretKey).nonce);
  });

  it("rejects malformed header sets", () => {
    expect(readHandshakeHeaders(() => null)).toBeNull();
    const headers = new Headers(handshakeHeaders(signHandshake("node-1", keys.secretKey)));
    headers.set("x-sealbox-timestamp", "soon");
    expect(readHandshakeHeaders((name) => headers.get(name))).toBeNull();
    expect(verifyHandshake({ nodeId: "n", timestamp: Date.now(), nonce: "x", signature: "!!" }, keys.publicKey)).toBe("bad-signature");
  });
});
