import { describe, expect, it } from "vitest";
import {
  PASSWORD_ALPHABET,
  PASSWORD_ENTROPY_BITS,
  generatePassword,
  isGeneratedPassword,
  normalizePassword,
} from "./password.ts";

describe("generatePassword", () => {
  it("carries at least 128 bits of entropy, as claimed by its shape", () => {
    expect(PASSWORD_ENTROPY_BITS).toBeGreaterThanOrEqual(128);
    const password = generatePassword();
    const symbols = password.replace(/-/g, "");
    // Each symbol is one of 32 equally likely values: 5 bits.
    expect(symbols.length * Math.log2(PASSWORD_ALPHABET.length)).toBe(PASSWORD_ENTROPY_BITS);
    expect(new Set(PASSWORD_ALPHABET).size).toBe(32);
  });

  it("is lower case, dash-separated groups, without look-alike characters", () => {
    for (let i = 0; i < 200; i++) {
      const password = generatePassword();
      expect(password).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){6}$/);
      expect(password).not.toMatch(/[lo01]/);
      expect(isGeneratedPassword(password)).toBe(true);
    }
  });

  it("never repeats", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => generatePassword()));
    expect(seen.size).toBe(1000);
  });

  it("uses the whole alphabet in every position", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 500; i++) {
      const first = generatePassword()[0];
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    // 500 draws over 32 symbols: a missing symbol has probability < 2^-21 per symbol.
    expect(counts.size).toBeGreaterThanOrEqual(30);
  });
});

describe("isGeneratedPassword / normalizePassword", () => {
  it("rejects other shapes", () => {
    const password = generatePassword();
    expect(isGeneratedPassword(password.toUpperCase())).toBe(false);
    expect(isGeneratedPassword(password.slice(1))).toBe(false);
    expect(isGeneratedPassword(password + "-abcd")).toBe(false);
    expect(isGeneratedPassword(password.replace(/-/g, ""))).toBe(false);
    expect(isGeneratedPassword("aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaal")).toBe(false);
  });

  it("undoes case and whitespace changes from typing", () => {
    const password = generatePassword();
    expect(normalizePassword(` ${password.toUpperCase()}\n`)).toBe(password);
  });
});
