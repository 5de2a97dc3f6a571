import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EncodingError,
  constantTimeEqual,
  fromBase32,
  fromBase64,
  fromHex,
  randomBytes,
  randomChars,
  toBase32,
  toBase64,
  toHex,
  utf8,
} from "./encoding.ts";

/** Reference base64 through the platform's btoa, independent of our encoder. */
function referenceBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

describe("base64", () => {
  it("matches RFC 4648 §10 test vectors", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "Zg=="],
      ["fo", "Zm8="],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg=="],
      ["fooba", "Zm9vYmE="],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, encoded] of vectors) {
      expect(toBase64(utf8(plain))).toBe(encoded);
      expect(fromBase64(encoded)).toEqual(utf8(plain));
    }
  });

  it("agrees with btoa and round-trips arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).toBe(referenceBase64(bytes));
        expect(fromBase64(text)).toEqual(bytes);
      }),
    );
  });

  it("encodes every byte value, including the +/ symbols", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(toBase64(all)).toBe(referenceBase64(all));
    expect(fromBase64(toBase64(all))).toEqual(all);
    expect(toBase64(Uint8Array.of(0xfb, 0xff))).toBe("+/8=");
  });

  it.each([
    ["wrong length", "Zm9"],
    ["missing padding", "Zg"],
    ["character outside the alphabet", "Zm9*"],
    ["url-safe alphabet", "-_8="],
    ["embedded whitespace", "Zm9v\nYmFy"],
    ["padding in the middle", "Zg==Zm9v"],
    ["too much padding", "Z==="],
    ["only padding", "===="],
    ["non-zero trailing bits (one pad)", "Zm9="],
    ["non-zero trailing bits (two pads)", "Zh=="],
    ["non-ASCII", "Zm9é"],
  ])("rejects %s", (_label, text) => {
    expect(() => fromBase64(text)).toThrow(EncodingError);
  });

  it("does not echo the rejected input in the error", () => {
    const secret = "c2VjcmV0LXZhbHVl!";
    try {
      fromBase64(secret);
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain(secret);
    }
  });
});

describe("hex", () => {
  it("round-trips and uses lower case", () => {
    expect(toHex(Uint8Array.of(0, 1, 0xab, 0xff))).toBe("0001abff");
    expect(fromHex("0001ABff")).toEqual(Uint8Array.of(0, 1, 0xab, 0xff));
    expect(fromHex("")).toEqual(new Uint8Array(0));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      expect(fromHex(toHex(bytes))).toEqual(bytes);
    }));
  });

  it.each(["abc", "zz", "0x00", " 00", "+1"])("rejects %j", (text) => {
    expect(() => fromHex(text)).toThrow(EncodingError);
  });
});

describe("base32", () => {
  it("matches RFC 4648 §10 test vectors (without padding)", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "MY"],
      ["fo", "MZXQ"],
      ["foo", "MZXW6"],
      ["foob", "MZXW6YQ"],
      ["fooba", "MZXW6YTB"],
      ["foobar", "MZXW6YTBOI"],
    ];
    for (const [plain, encoded] of vectors) {
      expect(toBase32(utf8(plain))).toBe(encoded);
      expect(fromBase32(encoded)).toEqual(utf8(plain));
    }
  });

  it("accepts lower case, padding and spaces as people type them", () => {
    expect(fromBase32("mzxw 6ytb oi======")).toEqual(utf8("foobar"));
  });

  it("round-trips arbitrary bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      expect(fromBase32(toBase32(bytes))).toEqual(bytes);
    }));
  });

  it.each(["M", "MZX", "MZXW6Y", "MZ1W", "MZ!W"])("rejects %j", (text) => {
    expect(() => fromBase32(text)).toThrow(EncodingError);
  });
});

describe("randomness", () => {
  it("returns the requested number of bytes, beyond one getRandomValues call", () => {
    expect(randomBytes(0)).toHaveLength(0);
    const big = randomBytes(200_000);
    expect(big).toHaveLength(200_000);
    // The last 64 KiB window must be filled too: all-zero there has probability 2^-524288.
    expect(big.subarray(big.length - 65_536).some((b) => b !== 0)).toBe(true);
  });

  it("does not repeat itself", () => {
    expect(toHex(randomBytes(32))).not.toBe(toHex(randomBytes(32)));
  });

  it("rejects a negative or fractional length", () => {
    expect(() => randomBytes(-1)).toThrow(RangeError);
    expect(() => randomBytes(1.5)).toThrow(RangeError);
  });

  it("draws characters only from the given 32-symbol alphabet", () => {
    const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    const text = randomChars(4000, alphabet);
    expect(text).toMatch(/^[a-z2-7]{4000}$/);
    // 4000 draws over 32 symbols: every symbol shows up (missing one has probability < 2^-180).
    expect(new Set(text).size).toBe(32);
  });

  it("refuses an alphabet that is not 32 distinct symbols", () => {
    expect(() => randomChars(4, "abc")).toThrow(RangeError);
    expect(() => randomChars(4, "a".repeat(32))).toThrow(RangeError);
  });
});

describe("utf8", () => {
  it("encodes non-ASCII text", () => {
    expect(utf8("é€")).toEqual(Uint8Array.of(0xc3, 0xa9, 0xe2, 0x82, 0xac));
  });
});

describe("constantTimeEqual", () => {
  it("compares contents and lengths", () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(0x80, 2, 3), Uint8Array.of(0, 2, 3))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false);
  });
});
