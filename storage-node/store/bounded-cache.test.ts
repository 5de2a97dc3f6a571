import { describe, expect, it } from "vitest";
import { STORE_FETCH_HEAD_CACHE_BYTES, STORE_HEAD_CACHE_BYTES, STORE_SEARCH_CACHE_CHARS } from "../limits.ts";
import { BoundedCache } from "./bounded-cache.ts";

describe("BoundedCache", () => {
  for (const [name, max] of [
    ["STORE_SEARCH_CACHE_CHARS", STORE_SEARCH_CACHE_CHARS],
    ["STORE_HEAD_CACHE_BYTES", STORE_HEAD_CACHE_BYTES],
    ["STORE_FETCH_HEAD_CACHE_BYTES", STORE_FETCH_HEAD_CACHE_BYTES],
  ] as const) {
    it(`keeps a value costing exactly ${name}, never one costing one more`, () => {
      const c = new BoundedCache<number, string>(max);
      c.set(1, "exact", max);
      expect(c.get(1)).toBe("exact");
      expect(c.cost).toBe(max);
      // Too big: not kept, and nothing is evicted for it.
      c.set(2, "over", max + 1);
      expect(c.get(2)).toBeUndefined();
      expect(c.get(1)).toBe("exact");
      expect(c.cost).toBe(max);
    });
  }

  it("evicts the least recently used values first", () => {
    const c = new BoundedCache<string, number>(10);
    c.set("a", 1, 4);
    c.set("b", 2, 4);
    expect(c.get("a")).toBe(1); // "b" is now the oldest
    c.set("c", 3, 4);
    expect(c.get("b")).toBeUndefined();
    expect(c.get("a")).toBe(1);
    expect(c.get("c")).toBe(3);
    expect(c.cost).toBe(8);
    c.set("a", 4, 2); // replacing a key replaces its cost
    expect(c.cost).toBe(6);
    c.delete("c");
    expect(c.cost).toBe(2);
    c.clear();
    expect(c.cost).toBe(0);
    expect(c.get("a")).toBeUndefined();
  });
});
