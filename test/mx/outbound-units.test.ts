/**
 * Units of the forwarding path: SRS addresses (forward, reverse, forgery and
 * age checks) and next-hop resolution (static routes, DNS-over-HTTPS answers,
 * null MX, implicit MX).
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DnsResolverData } from "../../storage-node/mx/dns-resolver.ts";
import { NextHopError, NextHopResolver, parseStaticRoutes } from "../../storage-node/outbound/next-hops.ts";
import { Srs } from "../../storage-node/outbound/srs.ts";

const DAY = 86_400_000;

describe("SRS", () => {
  const secret = randomBytes(32);

  it("rewrites into the forwarding domain and reverses to the original sender", () => {
    const srs = new Srs(secret);
    const rewritten = srs.forward("alice@origin.example", "fwd.example");
    expect(rewritten).toMatch(/^SRS0=[A-Z2-7]{4}=[A-Z2-7]{2}=origin\.example=alice@fwd\.example$/);
    expect(srs.reverse(rewritten)).toBe("alice@origin.example");
    // Case-insensitive, as SMTP servers may fold case.
    expect(srs.reverse(rewritten.toLowerCase().replace("@fwd.example", "@FWD.example"))).toBe("alice@origin.example");
  });

  it("keeps the null sender and chains an earlier forwarder's SRS0 as SRS1", () => {
    const srs = new Srs(secret);
    expect(srs.forward("", "fwd.example")).toBe("");
    const first = new Srs(randomBytes(32)).forward("alice@origin.example", "first.example");
    const second = srs.forward(first, "fwd.example");
    expect(second).toMatch(/^SRS1=[A-Z2-7]{4}=first\.example==[A-Z2-7]{4}=[A-Z2-7]{2}=origin\.example=alice@fwd\.example$/);
    expect(srs.reverse(second)).toBe(first);
  });

  it("refuses forged, foreign and stale addresses", () => {
    let now = Date.now();
    const srs = new Srs(secret, () => now);
    const rewritten = srs.forward("alice@origin.example", "fwd.example");
    expect(new Srs(randomBytes(32)).reverse(rewritten)).toBeNull();
    expect(srs.reverse(rewritten.replace("=origin.example=", "=evil.example="))).toBeNull();
    expect(srs.reverse("alice@fwd.example")).toBeNull();
    now += 21 * DAY;
    expect(srs.reverse(rewritten)).toBe("alice@origin.example");
    now += 2 * DAY;
    expect(srs.reverse(rewritten)).toBeNull();
  });
});

describe("next hops", () => {
  let server: Server;
  let dohUrl = "";
  const noDns: DnsResolverData = {
    resolve: () => Promise.reject(new Error("no DNS in this test")),
    resolveMx: () => Promise.reject(Object.assign(new Error("no DNS in this test"), { code: "ESERVFAIL" })),
    resolveAddresses: () => Promise.reject(new Error("no DNS in this test")),
  };

  beforeAll(async () => {
    const answers: Record<string, unknown> = {
      "far.example": { Status: 0, Answer: [{ type: 15, data: "20 mx2.far.example." }, { type: 15, data: "10 mx1.far.example." }, { type: 5, data: "x." }] },
      "nullmx.example": { Status: 0, Answer: [{ type: 15, data: "0 ." }] },
      "nomx.example": { Status: 0 },
      "gone.example": { Status: 3 },
      "broken.example": { Status: 2 },
    };
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const answer = answers[url.searchParams.get("name") ?? ""];
      expect(url.searchParams.get("type")).toBe("MX");
      expect(req.headers.accept).toBe("application/dns-json");
      res.writeHead(200, { "content-type": "application/dns-json" }).end(JSON.stringify(answer ?? { Status: 3 }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address();
    dohUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/dns-query`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("parses static routes and prefers them, with * as the catch-all", async () => {
    const routes = parseStaticRoutes("far.example=10.0.0.1:2526; *=[::1]:2527");
    const resolver = new NextHopResolver({ staticRoutes: routes, resolver: noDns, dohUrl: "" });
    expect(await resolver.resolve("FAR.example")).toEqual([{ host: "10.0.0.1", port: 2526, source: "static" }]);
    expect(await resolver.resolve("other.example")).toEqual([{ host: "::1", port: 2527, source: "static" }]);
    expect(() => parseStaticRoutes("far.example")).toThrow();
    expect(() => parseStaticRoutes("far.example=host:99999")).toThrow();
  });

  it("orders MX answers from DNS-over-HTTPS by preference, falls back to the domain, refuses null MX", async () => {
    const resolver = new NextHopResolver({ staticRoutes: new Map(), resolver: noDns, dohUrl });
    expect(await resolver.resolve("far.example")).toEqual([
      { host: "mx1.far.example", port: 25, source: "mx" },
      { host: "mx2.far.example", port: 25, source: "mx" },
    ]);
    expect(await resolver.resolve("nomx.example")).toEqual([{ host: "nomx.example", port: 25, source: "implicit" }]);
    await expect(resolver.resolve("nullmx.example")).rejects.toMatchObject({ permanent: true });
    await expect(resolver.resolve("gone.example")).rejects.toMatchObject({ permanent: true });
    await expect(resolver.resolve("broken.example")).rejects.toMatchObject({ permanent: false });
    const plain = new NextHopResolver({ staticRoutes: new Map(), resolver: noDns, dohUrl: "" });
    await expect(plain.resolve("far.example")).rejects.toBeInstanceOf(NextHopError);
  });
});
