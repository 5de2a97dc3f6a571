import { beforeAll, describe, expect, it } from "vitest";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { fromBase64, toBase64, utf8 } from "./encoding.ts";
import { generateMailboxKey } from "./mailbox-key.ts";
import {
  SEALING_PUBLIC_KEY_BYTES,
  SEALING_SECRET_KEY_BYTES,
  SEAL_CHUNK_BYTES,
  SealError,
  generateSealingKeyPair,
  openSealed,
  seal,
  sealedLength,
  unwrapSealingSecret,
  wrapSealingSecret,
  type SealErrorReason,
  type SealingKeyPairData,
} from "./sealing.ts";

const HEADER = 1 + 1120;
const TAG = 16;
const FULL_CHUNK = SEAL_CHUNK_BYTES + TAG;

/** Pseudo-random but cheap test content, so a 20 MB message does not cost 20 MB of CSPRNG calls. */
function content(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function expectSealError(fn: () => unknown, reason: SealErrorReason): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SealError);
    expect((error as SealError).reason).toBe(reason);
    return;
  }
  expect.unreachable("expected a SealError");
}

/** Byte equality without vitest's deep diff, which is far too slow for megabytes. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

let keys: SealingKeyPairData;
beforeAll(() => {
  keys = generateSealingKeyPair();
});

describe("generateSealingKeyPair", () => {
  it("returns X-Wing sized keys, fresh each time", () => {
    expect(keys.publicKey).toHaveLength(SEALING_PUBLIC_KEY_BYTES);
    expect(keys.secretKey).toHaveLength(SEALING_SECRET_KEY_BYTES);
    const other = generateSealingKeyPair();
    expect(other.publicKey).not.toEqual(keys.publicKey);
    expect(other.secretKey).not.toEqual(keys.secretKey);
  });
});

describe("seal / openSealed round trip", () => {
  const sizes = [
    0,
    1,
    100,
    SEAL_CHUNK_BYTES - 1,
    SEAL_CHUNK_BYTES,
    SEAL_CHUNK_BYTES + 1,
    2 * SEAL_CHUNK_BYTES - 1,
    2 * SEAL_CHUNK_BYTES,
    2 * SEAL_CHUNK_BYTES + 1,
    5 * SEAL_CHUNK_BYTES + 12_345,
  ];
  it.each(sizes)("%i bytes", (size) => {
    const plaintext = content(size, size + 7);
    const sealed = seal(keys.publicKey, plaintext);
    expect(sealed).toHaveLength(sealedLength(size));
    expect(sealed[0]).toBe(1);
    expect(sameBytes(openSealed(keys.secretKey, sealed), plaintext)).toBe(true);
  });

  it("about 20 MB", () => {
    const plaintext = content(20 * 1024 * 1024 + 3, 99);
    const sealed = seal(keys.publicKey, plaintext);
    expect(sealed).toHaveLength(sealedLength(plaintext.length));
    const opened = openSealed(keys.secretKey, sealed);
    expect(opened.length).toBe(plaintext.length);
    expect(sameBytes(opened, plaintext)).toBe(true);
  });

  it("with a context, which must match exactly", () => {
    const context = utf8("alias_0123456789");
    const plaintext = utf8("Subject: hello\r\n\r\nbody\r\n");
    const sealed = seal(keys.publicKey, plaintext, context);
    expect(openSealed(keys.secretKey, sealed, context)).toEqual(plaintext);
    expectSealError(() => openSealed(keys.secretKey, sealed, utf8("alias_0123456788")), "authentication");
    expectSealError(() => openSealed(keys.secretKey, sealed), "authentication");
    expectSealError(() => openSealed(keys.secretKey, sealed, new Uint8Array(0)), "authentication");
    // An empty context is the same as none.
    const noContext = seal(keys.publicKey, plaintext);
    expect(openSealed(keys.secretKey, noContext, new Uint8Array(0))).toEqual(plaintext);
    expectSealError(() => openSealed(keys.secretKey, noContext, context), "authentication");
  });

  it("never repeats a ciphertext and does not contain the plaintext", () => {
    const plaintext = utf8("a secret line that must not appear in the sealed bytes ".repeat(20));
    const a = seal(keys.publicKey, plaintext);
    const b = seal(keys.publicKey, plaintext);
    expect(toBase64(a)).not.toBe(toBase64(b));
    const needle = Array.from(plaintext.subarray(0, 16)).join(",");
    expect(Array.from(a).join(",")).not.toContain(needle);
  });
});

describe("openSealed refuses altered messages", () => {
  // Three chunks: two full ones and a short last one.
  const plaintext = content(2 * SEAL_CHUNK_BYTES + 1000, 5);
  let sealed: Uint8Array;
  beforeAll(() => {
    sealed = seal(keys.publicKey, plaintext, utf8("ctx"));
  });
  const open = (bytes: Uint8Array) => openSealed(keys.secretKey, bytes, utf8("ctx"));
  const chunk = (i: number) => sealed.subarray(HEADER + i * FULL_CHUNK, Math.min(sealed.length, HEADER + (i + 1) * FULL_CHUNK));

  it("opens the unaltered message (control)", () => {
    expect(sameBytes(open(sealed), plaintext)).toBe(true);
  });

  it.each([
    ["the KEM ciphertext", 1 + 500],
    ["the first chunk's ciphertext", HEADER + 10],
    ["the first chunk's tag", HEADER + FULL_CHUNK - 1],
    ["a middle chunk", HEADER + FULL_CHUNK + 70_000 - SEAL_CHUNK_BYTES],
    ["the last byte", -1],
  ])("a flipped bit in %s", (_label, index) => {
    const altered = sealed.slice();
    altered[index < 0 ? altered.length + index : index] ^= 0x01;
    expectSealError(() => open(altered), "authentication");
  });

  it("an unknown version byte", () => {
    const altered = sealed.slice();
    altered[0] = 2;
    expectSealError(() => open(altered), "unsupported-version");
  });

  it("truncation at a chunk boundary (drops the last chunk)", () => {
    expectSealError(() => open(sealed.subarray(0, HEADER + 2 * FULL_CHUNK)), "authentication");
    expectSealError(() => open(sealed.subarray(0, HEADER + FULL_CHUNK)), "authentication");
  });

  it("truncation at a chunk boundary of a message whose last chunk is full", () => {
    const exact = content(2 * SEAL_CHUNK_BYTES, 6);
    const whole = seal(keys.publicKey, exact);
    expect(sameBytes(openSealed(keys.secretKey, whole), exact)).toBe(true);
    expectSealError(() => openSealed(keys.secretKey, whole.subarray(0, HEADER + FULL_CHUNK)), "authentication");
  });

  it("truncation inside a chunk", () => {
    expectSealError(() => open(sealed.subarray(0, sealed.length - 1)), "authentication");
    expectSealError(() => open(sealed.subarray(0, HEADER + FULL_CHUNK + 500)), "authentication");
  });

  it("truncation into a tag or the header", () => {
    expectSealError(() => open(sealed.subarray(0, HEADER + 2 * FULL_CHUNK + 5)), "malformed");
    expectSealError(() => open(sealed.subarray(0, HEADER)), "malformed");
    expectSealError(() => open(sealed.subarray(0, 10)), "malformed");
    expectSealError(() => open(new Uint8Array(0)), "malformed");
  });

  it("reordered chunks", () => {
    expectSealError(() => open(concat(sealed.subarray(0, HEADER), chunk(1), chunk(0), chunk(2))), "authentication");
  });

  it("a duplicated chunk", () => {
    expectSealError(() => open(concat(sealed.subarray(0, HEADER), chunk(0), chunk(0), chunk(1), chunk(2))), "authentication");
  });

  it("appended bytes", () => {
    expectSealError(() => open(concat(sealed, Uint8Array.of(0))), "authentication");
    expectSealError(() => open(concat(sealed, chunk(2))), "authentication");
  });

  it("a chunk spliced in from another message to the same key", () => {
    const other = seal(keys.publicKey, content(plaintext.length, 8), utf8("ctx"));
    const spliced = sealed.slice();
    spliced.set(other.subarray(HEADER + FULL_CHUNK, HEADER + 2 * FULL_CHUNK), HEADER + FULL_CHUNK);
    expectSealError(() => open(spliced), "authentication");
  });

  it("the wrong secret key", () => {
    const stranger = generateSealingKeyPair();
    expectSealError(() => openSealed(stranger.secretKey, sealed, utf8("ctx")), "authentication");
  });

  it("a secret key of the wrong length", () => {
    expectSealError(() => openSealed(new Uint8Array(31), sealed, utf8("ctx")), "invalid-key");
  });

  it("does not mention the content in the error", () => {
    const text = utf8("PRIVATE-MARKER-TEXT");
    const small = seal(keys.publicKey, text);
    small[small.length - 1] ^= 1;
    try {
      openSealed(keys.secretKey, small);
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain("PRIVATE-MARKER-TEXT");
    }
  });
});

describe("seal argument checks", () => {
  it("refuses a public key of the wrong length", () => {
    expect(() => seal(new Uint8Array(32), utf8("x"))).toThrow(RangeError);
    expect(() => seal(keys.publicKey.subarray(1), utf8("x"))).toThrow(RangeError);
  });
});

describe("wrapSealingSecret / unwrapSealingSecret", () => {
  const mailboxKey = generateMailboxKey();

  it("round-trips, and the unwrapped key opens mail sealed to the pair", () => {
    const wrapped = wrapSealingSecret(keys.secretKey, mailboxKey);
    expect(fromBase64(wrapped)).toHaveLength(1 + 24 + 32 + 16);
    const secretKey = unwrapSealingSecret(wrapped, mailboxKey);
    expect(secretKey).toEqual(keys.secretKey);
    expect(openSealed(secretKey, seal(keys.publicKey, utf8("hi")))).toEqual(utf8("hi"));
  });

  it("differs on every wrap", () => {
    expect(wrapSealingSecret(keys.secretKey, mailboxKey)).not.toBe(wrapSealingSecret(keys.secretKey, mailboxKey));
  });

  it("throws for the wrong mailbox key", () => {
    const wrapped = wrapSealingSecret(keys.secretKey, mailboxKey);
    expectSealError(() => unwrapSealingSecret(wrapped, generateMailboxKey()), "authentication");
    expectSealError(() => unwrapSealingSecret(wrapped, new Uint8Array(16)), "invalid-key");
  });

  it("throws for any altered byte, a wrong length or bad base64", () => {
    const wrapped = wrapSealingSecret(keys.secretKey, mailboxKey);
    const blob = fromBase64(wrapped);
    for (let i = 1; i < blob.length; i++) {
      const altered = blob.slice();
      altered[i] ^= 0x80;
      expectSealError(() => unwrapSealingSecret(toBase64(altered), mailboxKey), "authentication");
    }
    const badVersion = blob.slice();
    badVersion[0] = 9;
    expectSealError(() => unwrapSealingSecret(toBase64(badVersion), mailboxKey), "unsupported-version");
    expectSealError(() => unwrapSealingSecret(toBase64(blob.subarray(0, blob.length - 1)), mailboxKey), "malformed");
    expectSealError(() => unwrapSealingSecret("%%%", mailboxKey), "malformed");
  });

  it("uses a key separate from the mailbox key itself", () => {
    // Were the MK used directly as the wrap key, this decryption under the MK would succeed.
    const blob = fromBase64(wrapSealingSecret(keys.secretKey, mailboxKey));
    const direct = xchacha20poly1305(mailboxKey, blob.subarray(1, 25), blob.subarray(0, 1));
    expect(() => direct.decrypt(blob.subarray(25))).toThrow();
  });

  it("refuses wrong-length inputs when wrapping", () => {
    expect(() => wrapSealingSecret(new Uint8Array(31), mailboxKey)).toThrow(RangeError);
    expect(() => wrapSealingSecret(keys.secretKey, new Uint8Array(33))).toThrow(RangeError);
  });
});
