import { describe, expect, it } from "vitest";
import { generateMailboxKey, wrapMailboxKey } from "../../shared/crypto/mailbox-key.ts";
import { generatePassword } from "../../shared/crypto/password.ts";
import type { CredentialRecordData } from "../../shared/tunnel/records.ts";
import { AUTH_LIMITS } from "../limits.ts";
import { createLogger } from "../log.ts";
import { CredentialCache, EdgeUnavailableError } from "./credential-cache.ts";
import { EdgeAuthenticator } from "./edge-authenticator.ts";
import { LoginThrottle } from "./login-throttle.ts";

const logger = createLogger("silent");
const ctx = { ip: "192.0.2.1", protocol: "imap" as const };

function makeRecord(address: string, passwords: { id: string; password: string }[], mk = generateMailboxKey()): CredentialRecordData {
  return {
    address,
    aliasId: "alias-1",
    mailboxId: "mbx-1",
    homeNode: "node-1",
    imap: true,
    quotaBytes: null,
    generation: 3,
    sealingPublicKey: "",
    sealingSecretWrapped: "",
    passwords: passwords.map(({ id, password }) => ({ id, ...wrapMailboxKey(mk, password) })),
  };
}

describe("CredentialCache", () => {
  it("shares one edge request between concurrent look-ups and caches the answer", async () => {
    let calls = 0;
    const cache = new CredentialCache(async (address) => {
      calls++;
      return makeRecord(address, []);
    }, 60_000);
    const [a, b] = await Promise.all([cache.get("Bob@Example.test"), cache.get("bob@example.test")]);
    expect(a?.address).toBe("bob@example.test");
    expect(b).toBe(a);
    await cache.get("bob@example.test");
    expect(calls).toBe(1);
  });

  it("drops an entry at once on invalidate", async () => {
    let calls = 0;
    const cache = new CredentialCache(async (address) => {
      calls++;
      return makeRecord(address, []);
    }, 60_000);
    await cache.get("bob@example.test");
    cache.invalidate("BOB@example.test");
    expect(cache.has("bob@example.test")).toBe(false);
    await cache.get("bob@example.test");
    expect(calls).toBe(2);
  });

  it("does not cache a record fetched before an invalidation that raced with it", async () => {
    let release!: () => void;
    const cache = new CredentialCache(
      (address) => new Promise((resolve) => (release = () => resolve(makeRecord(address, [])))),
      60_000,
    );
    const pending = cache.get("bob@example.test");
    cache.invalidate("bob@example.test");
    release();
    await pending;
    expect(cache.has("bob@example.test")).toBe(false);
  });

  it("expires entries after the TTL", async () => {
    let calls = 0;
    const cache = new CredentialCache(async () => {
      calls++;
      return null;
    }, 1);
    await cache.get("x@example.test");
    await new Promise((r) => setTimeout(r, 5));
    await cache.get("x@example.test");
    expect(calls).toBe(2);
  });

  it("propagates an unreachable edge instead of caching 'unknown'", async () => {
    const cache = new CredentialCache(async () => {
      throw new EdgeUnavailableError();
    }, 60_000);
    await expect(cache.get("x@example.test")).rejects.toBeInstanceOf(EdgeUnavailableError);
    expect(cache.has("x@example.test")).toBe(false);
  });
});

describe("LoginThrottle", () => {
  it("blocks an IP after the per-IP failure limit, and only that IP", () => {
    const throttle = new LoginThrottle();
    const now = 1_000_000;
    for (let i = 0; i < AUTH_LIMITS.maxFailuresPerIp - 1; i++) throttle.recordFailure("198.51.100.1", `user${i}@example.test`, now);
    expect(throttle.isBlocked("198.51.100.1", "fresh@example.test", now)).toBe(false);
    throttle.recordFailure("198.51.100.1", "last@example.test", now);
    expect(throttle.isBlocked("198.51.100.1", "fresh@example.test", now)).toBe(true);
    expect(throttle.isBlocked("198.51.100.2", "fresh@example.test", now)).toBe(false);
    expect(throttle.isBlocked("198.51.100.1", "fresh@example.test", now + AUTH_LIMITS.failureWindowMs + 1)).toBe(false);
  });

  it("blocks an address after the per-address limit, from any IP", () => {
    const throttle = new LoginThrottle();
    const now = 5_000_000;
    for (let i = 0; i < AUTH_LIMITS.maxFailuresPerAddress; i++) throttle.recordFailure(`203.0.113.${i}`, "target@example.test", now);
    expect(throttle.isBlocked("203.0.113.200", "target@example.test", now)).toBe(true);
    expect(throttle.isBlocked("203.0.113.200", "other@example.test", now)).toBe(false);
  });
});

describe("EdgeAuthenticator", () => {
  const good = generatePassword();
  const second = generatePassword();

  function setup(records: Record<string, CredentialRecordData>) {
    const cache = new CredentialCache(async (address) => records[address] ?? null, 60_000);
    return new EdgeAuthenticator({ cache, logger, failureDelayMs: 1 });
  }

  it("accepts any of the alias's passwords and returns the unwrapped key", async () => {
    const mk = generateMailboxKey();
    const auth = setup({ "bob@example.test": makeRecord("bob@example.test", [{ id: "p1", password: good }, { id: "p2", password: second }], mk) });
    const first = await auth.authenticate("bob@example.test", good, ctx);
    expect(first?.passwordId).toBe("p1");
    expect(first?.mailboxKey).toEqual(mk);
    expect(first?.generation).toBe(3);
    const other = await auth.authenticate("BOB@example.test", second, ctx);
    expect(other?.passwordId).toBe("p2");
  });

  it("accepts a generated password typed with capitals, spaces or without dashes", async () => {
    const auth = setup({ "bob@example.test": makeRecord("bob@example.test", [{ id: "p1", password: good }]) });
    const typed = [good.toUpperCase(), good.replace(/-/g, ""), good.replace(/-/g, " "), " " + good[0].toUpperCase() + good.slice(1)];
    for (const variant of typed) expect((await auth.authenticate("bob@example.test", variant, ctx))?.passwordId).toBe("p1");
    expect(await auth.authenticate("bob@example.test", good.slice(0, -1), ctx)).toBeNull();
  });

  it("answers wrong password, unknown address and malformed input identically", async () => {
    const auth = setup({ "bob@example.test": makeRecord("bob@example.test", [{ id: "p1", password: good }]) });
    expect(await auth.authenticate("bob@example.test", second, ctx)).toBeNull();
    expect(await auth.authenticate("nobody@example.test", good, ctx)).toBeNull();
    expect(await auth.authenticate("", good, ctx)).toBeNull();
    expect(await auth.authenticate("bob@example.test", "x".repeat(AUTH_LIMITS.maxPasswordLength + 1), ctx)).toBeNull();
  });

  it("refuses even the right password once the address is throttled", async () => {
    const auth = setup({ "bob@example.test": makeRecord("bob@example.test", [{ id: "p1", password: good }]) });
    for (let i = 0; i < AUTH_LIMITS.maxFailuresPerAddress; i++) {
      expect(await auth.authenticate("bob@example.test", "wrong", { ip: `192.0.2.${i + 10}`, protocol: "imap" })).toBeNull();
    }
    expect(await auth.authenticate("bob@example.test", good, { ip: "192.0.2.99", protocol: "imap" })).toBeNull();
  });

  it("waits the failure delay before answering a failure", async () => {
    const cache = new CredentialCache(async () => null, 60_000);
    const auth = new EdgeAuthenticator({ cache, logger, failureDelayMs: 200 });
    let settled = false;
    const attempt = auth.authenticate("x@example.test", "y", ctx).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    await attempt;
    expect(settled).toBe(true);
  });
});
