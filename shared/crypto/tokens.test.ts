import { describe, expect, it } from "vitest";
import { API_TOKEN_ENTROPY_BITS, generateApiToken, hashToken, isApiToken } from "./tokens.ts";

describe("generateApiToken", () => {
  it('starts with "sbx_" and carries at least 256 bits', () => {
    expect(API_TOKEN_ENTROPY_BITS).toBeGreaterThanOrEqual(256);
    const token = generateApiToken();
    expect(token).toMatch(/^sbx_[a-z2-7]{52}$/);
    expect((token.length - 4) * 5).toBe(API_TOKEN_ENTROPY_BITS);
    expect(isApiToken(token)).toBe(true);
  });

  it("never repeats", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => generateApiToken()));
    expect(seen.size).toBe(1000);
  });

  it("isApiToken rejects other shapes", () => {
    const token = generateApiToken();
    expect(isApiToken(token.slice(0, -1))).toBe(false);
    expect(isApiToken(token + "a")).toBe(false);
    expect(isApiToken(token.toUpperCase())).toBe(false);
    expect(isApiToken("xyz_" + token.slice(4))).toBe(false);
    expect(isApiToken("")).toBe(false);
  });
});

describe("hashToken", () => {
  it("is SHA-256 in lower-case hex (FIPS 180-2 vector)", () => {
    expect(hashToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("is deterministic and distinguishes tokens", () => {
    const a = generateApiToken();
    const b = generateApiToken();
    expect(hashToken(a)).toBe(hashToken(a));
    expect(hashToken(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(a)).not.toBe(hashToken(b));
    expect(hashToken(a)).not.toContain(a.slice(4));
  });
});
