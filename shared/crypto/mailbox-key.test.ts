import { describe, expect, it } from "vitest";
import { fromBase64, toBase64 } from "./encoding.ts";
import {
  MAILBOX_KEY_BYTES,
  generateMailboxKey,
  unwrapMailboxKey,
  wrapMailboxKey,
  type WrappedMailboxKeyData,
} from "./mailbox-key.ts";
import { generatePassword } from "./password.ts";

function flipBit(base64: string, byteIndex: number, bit = 0): string {
  const bytes = fromBase64(base64);
  bytes[byteIndex] ^= 1 << bit;
  return toBase64(bytes);
}

describe("generateMailboxKey", () => {
  it("returns 32 fresh random bytes", () => {
    const a = generateMailboxKey();
    const b = generateMailboxKey();
    expect(a).toHaveLength(MAILBOX_KEY_BYTES);
    expect(a).not.toEqual(b);
  });
});

describe("wrapMailboxKey / unwrapMailboxKey", () => {
  const mailboxKey = generateMailboxKey();
  const password = generatePassword();
  const record = wrapMailboxKey(mailboxKey, password);

  it("round-trips with the right password", () => {
    expect(unwrapMailboxKey(record, password)).toEqual(mailboxKey);
  });

  it("stores a 16-byte salt and a versioned 73-byte blob, both base64", () => {
    expect(fromBase64(record.salt)).toHaveLength(16);
    const blob = fromBase64(record.wrappedKey);
    expect(blob).toHaveLength(1 + 24 + 32 + 16);
    expect(blob[0]).toBe(1);
  });

  it("does not contain the key or the password in the clear", () => {
    const blob = fromBase64(record.wrappedKey);
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    expect(hex(blob)).not.toContain(hex(mailboxKey.subarray(0, 8)));
    expect(JSON.stringify(record)).not.toContain(password);
  });

  it("returns null for a wrong password, including a near miss", () => {
    expect(unwrapMailboxKey(record, generatePassword())).toBeNull();
    const nearMiss = (password[0] === "a" ? "b" : "a") + password.slice(1);
    expect(unwrapMailboxKey(record, nearMiss)).toBeNull();
    expect(unwrapMailboxKey(record, password.toUpperCase())).toBeNull();
    expect(unwrapMailboxKey(record, "")).toBeNull();
  });

  it("returns null when any bit of the salt is flipped", () => {
    for (let i = 0; i < 16; i++) {
      expect(unwrapMailboxKey({ ...record, salt: flipBit(record.salt, i, i % 8) }, password)).toBeNull();
    }
  });

  it("returns null when any byte of the blob is altered (version, nonce, ciphertext, tag)", () => {
    const length = fromBase64(record.wrappedKey).length;
    for (let i = 0; i < length; i++) {
      expect(unwrapMailboxKey({ ...record, wrappedKey: flipBit(record.wrappedKey, i, i % 8) }, password)).toBeNull();
    }
  });

  it("returns null for truncated, extended, swapped or malformed records", () => {
    const blob = fromBase64(record.wrappedKey);
    const cases: WrappedMailboxKeyData[] = [
      { ...record, wrappedKey: toBase64(blob.subarray(0, blob.length - 1)) },
      { ...record, wrappedKey: toBase64(new Uint8Array([...blob, 0])) },
      { ...record, wrappedKey: "" },
      { ...record, wrappedKey: "not base64!" },
      { ...record, salt: "" },
      { ...record, salt: toBase64(fromBase64(record.salt).subarray(0, 15)) },
      { salt: record.wrappedKey, wrappedKey: record.salt },
    ];
    for (const bad of cases) expect(unwrapMailboxKey(bad, password)).toBeNull();
    // A salt from another wrap of the same key under the same password does not fit this blob.
    const other = wrapMailboxKey(mailboxKey, password);
    expect(unwrapMailboxKey({ salt: other.salt, wrappedKey: record.wrappedKey }, password)).toBeNull();
  });

  it("produces a different record each time for the same key and password", () => {
    const again = wrapMailboxKey(mailboxKey, password);
    expect(again.salt).not.toBe(record.salt);
    expect(again.wrappedKey).not.toBe(record.wrappedKey);
    expect(unwrapMailboxKey(again, password)).toEqual(mailboxKey);
  });

  it("keeps wraps under different passwords independent (one MK, several device passwords)", () => {
    const second = generatePassword();
    const secondRecord = wrapMailboxKey(mailboxKey, second);
    expect(unwrapMailboxKey(secondRecord, second)).toEqual(mailboxKey);
    expect(unwrapMailboxKey(secondRecord, password)).toBeNull();
    expect(unwrapMailboxKey(record, second)).toBeNull();
  });

  it("refuses a mailbox key that is not exactly 32 bytes", () => {
    for (const length of [0, 16, 31, 33, 64]) {
      expect(() => wrapMailboxKey(new Uint8Array(length), password)).toThrow(RangeError);
    }
  });

  it("refuses an empty password", () => {
    expect(() => wrapMailboxKey(mailboxKey, "")).toThrow(RangeError);
  });

  it("does not reveal the key or password in its errors", () => {
    try {
      wrapMailboxKey(new Uint8Array(31).fill(0x41), password);
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain(password);
      expect(String(error)).not.toContain("AAAA");
    }
  });
});
