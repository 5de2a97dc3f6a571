/**
 * The seal pool gives what shared/crypto/sealing.ts gives, on worker threads:
 * every sealed message opens with the secret key and its context, contexts
 * are not interchangeable, and a closed pool still seals (inline).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { utf8 } from "../../shared/crypto/encoding.ts";
import { generateSealingKeyPair, openSealed, SealError } from "../../shared/crypto/sealing.ts";
import { SealPool } from "../../storage-node/spool/seal-pool.ts";

describe("seal pool", () => {
  it("seals on workers what opens with the secret key, per context", async () => {
    const keys = generateSealingKeyPair();
    const pool = new SealPool(2);
    try {
      const inputs = Array.from({ length: 12 }, (_, i) => ({ body: new Uint8Array(randomBytes(1000 + i * 20_000)), context: utf8(`ctx${i}`) }));
      const sealed = await Promise.all(inputs.map((input) => pool.seal(keys.publicKey, input.body, input.context)));
      sealed.forEach((s, i) => expect(Buffer.from(openSealed(keys.secretKey, s, inputs[i].context)).equals(Buffer.from(inputs[i].body))).toBe(true));
      expect(() => openSealed(keys.secretKey, sealed[0], inputs[1].context)).toThrow(SealError);
      // The caller's plaintext is untouched (the worker wipes only its copy).
      expect(inputs[0].body.some((b) => b !== 0)).toBe(true);
      await expect(pool.seal(new Uint8Array(10), inputs[0].body, inputs[0].context)).rejects.toThrow();
    } finally {
      await pool.close();
    }
    const after = await pool.seal(keys.publicKey, utf8("late"), utf8("c"));
    expect(new TextDecoder().decode(openSealed(keys.secretKey, after, utf8("c")))).toBe("late");
  });
});
