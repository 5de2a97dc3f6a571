import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DOMAIN_MAX_LENGTH, LOCAL_PART_MAX_LENGTH } from "../limits.ts";
import {
  normalizeAliasLocalPart,
  normalizeDomain,
  normalizeForwardAddress,
  normalizeWebhookUrl,
  parseAliasAddress,
} from "./address.ts";

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
const domain = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{2,6}$/))
  .map(([labels, tld]) => [...labels, tld].join("."));
const localPart = fc.stringMatching(/^[a-z0-9](?:[a-z0-9_-]{0,10}(?:\.[a-z0-9_-]{1,10})?[a-z0-9])?$/);

describe("normalizeDomain", () => {
  it("accepts host names in any case and returns them lower-cased, idempotently", () => {
    fc.assert(
      fc.property(domain, (name) => {
        const upper = name.toUpperCase();
        expect(normalizeDomain(upper)).toBe(name);
        expect(normalizeDomain(name)).toBe(name);
      }),
    );
  });

  it("refuses single labels, numeric TLDs, bad hyphens, empty labels and over-long names", () => {
    for (const bad of ["localhost", "1.2.3.4", "a.-b.example", "a-.example", "a..example", ".example", "example.", "a_b.example", "ü.example"]) {
      expect(normalizeDomain(bad), bad).toBeNull();
    }
    const label63 = "a".repeat(63);
    expect(normalizeDomain(`${label63}.example`)).not.toBeNull();
    expect(normalizeDomain(`${label63}a.example`)).toBeNull();
    const long = `${[label63, label63, label63].join(".")}.${"b".repeat(DOMAIN_MAX_LENGTH - 3 * 64 - 4)}.com`;
    expect(long.length).toBe(DOMAIN_MAX_LENGTH);
    expect(normalizeDomain(long)).toBe(long);
    expect(normalizeDomain(`a${long}`)).toBeNull();
    expect(normalizeDomain("xn--bcher-kva.example")).toBe("xn--bcher-kva.example");
  });

  it("never throws and only ever returns lower-case ASCII", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        const out = normalizeDomain(text);
        if (out !== null) expect(out).toMatch(/^[a-z0-9.-]+$/);
      }),
    );
  });
});

describe("alias local parts and addresses", () => {
  it("accepts the conservative dot-atom subset, case-insensitively, up to the length limit", () => {
    fc.assert(
      fc.property(localPart, (local) => {
        expect(normalizeAliasLocalPart(local.toUpperCase())).toBe(local);
      }),
    );
    expect(normalizeAliasLocalPart("a".repeat(LOCAL_PART_MAX_LENGTH))).not.toBeNull();
    expect(normalizeAliasLocalPart("a".repeat(LOCAL_PART_MAX_LENGTH + 1))).toBeNull();
  });

  it("refuses plus, quotes, leading/trailing/double dots and non-ASCII", () => {
    for (const bad of ["a+b", '"a"', ".a", "a.", "a..b", "ä", "a b", "", "-a", "a@b"]) {
      expect(normalizeAliasLocalPart(bad), bad).toBeNull();
    }
  });

  it("parses alias addresses into canonical parts, matching case-insensitively", () => {
    fc.assert(
      fc.property(localPart, domain, (local, name) => {
        expect(parseAliasAddress(`${local.toUpperCase()}@${name.toUpperCase()}`)).toEqual({ localPart: local, domain: name });
      }),
    );
    expect(parseAliasAddress("no-at-sign")).toBeNull();
    expect(parseAliasAddress("@example.org")).toBeNull();
    expect(parseAliasAddress("a@b@example.org")).toBeNull();
  });

  it("keeps a forward address's local part as given and lower-cases its domain", () => {
    expect(normalizeForwardAddress("John.Doe+tag@Example.ORG")).toBe("John.Doe+tag@example.org");
    expect(normalizeForwardAddress("o'brien@x.example")).toBe("o'brien@x.example");
    for (const bad of ["a b@x.example", '"q"@x.example', "a@[127.0.0.1]", "a@localhost", "a..b@x.example", "@x.example", "a@"]) {
      expect(normalizeForwardAddress(bad), bad).toBeNull();
    }
  });
});

describe("normalizeWebhookUrl", () => {
  const strict = { allowLoopback: false };
  const dev = { allowLoopback: true };

  it("accepts https URLs on host names", () => {
    expect(normalizeWebhookUrl("https://Hooks.Example.net/in?a=1", strict)).toBe("https://hooks.example.net/in?a=1");
    expect(normalizeWebhookUrl("https://hooks.example.net:8443/x", strict)).toBe("https://hooks.example.net:8443/x");
  });

  it("refuses other schemes, IP literals, user info, fragments and loopback", () => {
    for (const bad of [
      "http://hooks.example.net/",
      "ftp://hooks.example.net/",
      "https://10.0.0.1/",
      "https://[::1]/",
      "https://[fd00::1]/",
      "https://2130706433/",
      "https://user:pw@hooks.example.net/",
      "https://hooks.example.net/#frag",
      "https://localhost/",
      "http://127.0.0.1:8080/",
      "not a url",
    ]) {
      expect(normalizeWebhookUrl(bad, strict), bad).toBeNull();
    }
  });

  it("accepts http and loopback only when allowed", () => {
    expect(normalizeWebhookUrl("http://127.0.0.1:8080/hook", dev)).toBe("http://127.0.0.1:8080/hook");
    expect(normalizeWebhookUrl("http://localhost:8080/hook", dev)).toBe("http://localhost:8080/hook");
    expect(normalizeWebhookUrl("http://hooks.example.net/", dev)).toBeNull();
  });
});
