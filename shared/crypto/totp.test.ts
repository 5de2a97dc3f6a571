import { describe, expect, it } from "vitest";
import { fromBase32, toBase32, utf8 } from "./encoding.ts";
import {
  generateTotpSecret,
  hotpCode,
  matchTotp,
  totpCode,
  totpTimeStep,
  totpUri,
  verifyTotp,
} from "./totp.ts";

/** RFC 6238 Appendix B (and RFC 4226 Appendix D) secret: ASCII "12345678901234567890". */
const RFC_KEY = utf8("12345678901234567890");
const RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/** RFC 6238 Appendix B, SHA-1 rows: [Unix seconds, T in hex, 8-digit TOTP]. */
const RFC6238_SHA1: [number, string, string][] = [
  [59, "0000000000000001", "94287082"],
  [1111111109, "00000000023523EC", "07081804"],
  [1111111111, "00000000023523ED", "14050471"],
  [1234567890, "000000000273EF07", "89005924"],
  [2000000000, "0000000003F940AA", "69279037"],
  [20000000000, "0000000027BC86AA", "65353130"],
];

describe("HOTP (RFC 4226)", () => {
  it("matches Appendix D test values", () => {
    const expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
    expected.forEach((code, counter) => expect(hotpCode(RFC_KEY, counter)).toBe(code));
  });

  it("refuses bad counters and digit counts", () => {
    expect(() => hotpCode(RFC_KEY, -1)).toThrow(RangeError);
    expect(() => hotpCode(RFC_KEY, 1.5)).toThrow(RangeError);
    expect(() => hotpCode(RFC_KEY, 0, 5)).toThrow(RangeError);
  });
});

describe("TOTP (RFC 6238)", () => {
  it("encodes the RFC secret as expected", () => {
    expect(toBase32(RFC_KEY)).toBe(RFC_SECRET);
  });

  it.each(RFC6238_SHA1)("Appendix B at %i s", (seconds, stepHex, code8) => {
    expect(totpTimeStep(seconds * 1000)).toBe(parseInt(stepHex, 16));
    expect(hotpCode(RFC_KEY, totpTimeStep(seconds * 1000), 8)).toBe(code8);
    // Six digits are the low six of the eight (both are the same value modulo 10^n).
    expect(totpCode(RFC_SECRET, seconds * 1000)).toBe(code8.slice(2));
    expect(verifyTotp(RFC_SECRET, code8.slice(2), seconds * 1000)).toBe(true);
  });

  it("accepts the secret in lower case and with spaces, as apps display it", () => {
    expect(totpCode(RFC_SECRET.toLowerCase().replace(/(.{4})/g, "$1 "), 59_000)).toBe("287082");
  });

  it("keeps the code for the whole 30-second step", () => {
    expect(totpCode(RFC_SECRET, 1111111110_000)).toBe(totpCode(RFC_SECRET, 1111111119_999));
    expect(totpCode(RFC_SECRET, 1111111110_000)).not.toBe(totpCode(RFC_SECRET, 1111111109_999));
  });
});

describe("verifyTotp / matchTotp", () => {
  const secret = generateTotpSecret();
  const now = 1_750_000_000_000;
  const step = totpTimeStep(now);
  const codeAt = (s: number) => totpCode(secret, s * 30_000);

  it("accepts the current step and one either side by default, not two", () => {
    expect(verifyTotp(secret, codeAt(step), now)).toBe(true);
    expect(verifyTotp(secret, codeAt(step - 1), now)).toBe(true);
    expect(verifyTotp(secret, codeAt(step + 1), now)).toBe(true);
    // A code from two steps away could coincide by chance (1 in 10^6); skip that case.
    if (![step - 1, step, step + 1].some((s) => codeAt(s) === codeAt(step + 2))) {
      expect(verifyTotp(secret, codeAt(step + 2), now)).toBe(false);
    }
    if (![step - 1, step, step + 1].some((s) => codeAt(s) === codeAt(step - 2))) {
      expect(verifyTotp(secret, codeAt(step - 2), now)).toBe(false);
    }
  });

  it("honours window = 0 and a wider window", () => {
    if (codeAt(step - 1) !== codeAt(step)) expect(verifyTotp(secret, codeAt(step - 1), now, 0)).toBe(false);
    expect(verifyTotp(secret, codeAt(step), now, 0)).toBe(true);
    expect(verifyTotp(secret, codeAt(step - 3), now, 3)).toBe(true);
    expect(() => verifyTotp(secret, codeAt(step), now, -1)).toThrow(RangeError);
  });

  it("returns the matched step so callers can refuse replays", () => {
    expect(matchTotp(secret, codeAt(step), now)).toBe(codeAt(step - 1) === codeAt(step) ? step - 1 : step);
    expect(matchTotp(RFC_SECRET, "287082", 59_000)).toBe(1);
    expect(matchTotp(RFC_SECRET, "287082", 89_000)).toBe(1);
  });

  it("rejects a wrong code", () => {
    const right = codeAt(step);
    const wrong = ((Number(right) + 1) % 1_000_000).toString().padStart(6, "0");
    const nearby = [step - 1, step, step + 1].map(codeAt);
    if (!nearby.includes(wrong)) expect(verifyTotp(secret, wrong, now)).toBe(false);
  });

  it.each(["", "12345", "1234567", "12 456", "12345a", "１２３４５６", " 123456"])("rejects malformed code %j", (code) => {
    expect(verifyTotp(RFC_SECRET, code, 59_000)).toBe(false);
  });

  it("rejects a malformed or empty secret instead of throwing", () => {
    expect(verifyTotp("not base32!", "287082", 59_000)).toBe(false);
    expect(verifyTotp("", "287082", 59_000)).toBe(false);
  });

  it("does not look before the epoch", () => {
    expect(verifyTotp(RFC_SECRET, hotpCode(RFC_KEY, 0), 0)).toBe(true);
  });
});

describe("generateTotpSecret", () => {
  it("is 160 random bits in unpadded base32", () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(fromBase32(secret)).toHaveLength(20);
    expect(generateTotpSecret()).not.toBe(secret);
  });
});

describe("totpUri", () => {
  it("follows the otpauth Key URI format", () => {
    const uri = totpUri(RFC_SECRET, "alice@example.org", "Sealbox");
    const url = new URL(uri);
    expect(url.protocol).toBe("otpauth:");
    expect(uri.startsWith("otpauth://totp/Sealbox:alice%40example.org?")).toBe(true);
    expect(url.searchParams.get("secret")).toBe(RFC_SECRET);
    expect(url.searchParams.get("issuer")).toBe("Sealbox");
    expect(url.searchParams.get("algorithm")).toBe("SHA1");
    expect(url.searchParams.get("digits")).toBe("6");
    expect(url.searchParams.get("period")).toBe("30");
  });

  it("escapes spaces and separators in the label and issuer", () => {
    const uri = totpUri(RFC_SECRET, "bob:x@example.org", "Sealbox Test");
    expect(uri).toContain("otpauth://totp/Sealbox%20Test:bob%3Ax%40example.org?");
    expect(uri).toContain("issuer=Sealbox%20Test");
    expect(new URL(uri).searchParams.get("issuer")).toBe("Sealbox Test");
  });
});
