import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { api, createAccount, fetchLimits, type ApiLimits, uniqueDomain, type ErrorBody, type TestAccount } from "./client.ts";

interface DomainBody {
  name: string;
  aliasCount: number;
  createdAt: string;
}

let edge: EdgeHandle;
let limits: ApiLimits;
let alice: TestAccount;
let bob: TestAccount;

beforeAll(async () => {
  edge = await startEdge();
  limits = await fetchLimits(edge);
  alice = await createAccount(edge, "alice");
  bob = await createAccount(edge, "bob");
});
afterAll(async () => {
  await edge?.stop();
  if (edge) await rm(edge.persistDir, { recursive: true, force: true });
});

describe("domains", () => {
  it("claims, lists, reads and deletes a domain (name canonicalised to lower case)", async () => {
    const name = uniqueDomain();
    const created = await api<DomainBody>(edge, "POST", "/v1/domains", { token: alice.apiToken, body: { name: name.toUpperCase() } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name, aliasCount: 0 });

    const listed = await api<{ domains: DomainBody[] }>(edge, "GET", "/v1/domains", { token: alice.apiToken });
    expect(listed.status).toBe(200);
    expect(listed.body.domains.map((d) => d.name)).toContain(name);

    const got = await api<DomainBody>(edge, "GET", `/v1/domains/${name.toUpperCase()}`, { token: alice.apiToken });
    expect(got.status).toBe(200);
    expect(got.body.name).toBe(name);

    const deleted = await api(edge, "DELETE", `/v1/domains/${name}`, { token: alice.apiToken });
    expect(deleted.status).toBe(204);
    const gone = await api<ErrorBody>(edge, "GET", `/v1/domains/${name}`, { token: alice.apiToken });
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("domain-not-found");
  });

  it("rejects invalid names with 400 in the error shape", async () => {
    for (const name of ["localhost", "-bad.example", "bad-.example", "a..b", "x.123", "sp ace.example", "a".repeat(64) + ".example", "ünï.example", ""]) {
      const res = await api<ErrorBody>(edge, "POST", "/v1/domains", { token: alice.apiToken, body: { name } });
      expect(res.status, name).toBe(400);
      expect(["invalid-domain", "invalid-request"]).toContain(res.body.error.code);
    }
    const missing = await api<ErrorBody>(edge, "POST", "/v1/domains", { token: alice.apiToken, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe("invalid-request");
    expect(missing.body.error.message).toContain("body.name");
    const malformed = await api<ErrorBody>(edge, "POST", "/v1/domains", { token: alice.apiToken, rawBody: "{nope" });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe("bad-request");
    const badParam = await api<ErrorBody>(edge, "GET", "/v1/domains/not_a_domain", { token: alice.apiToken });
    expect(badParam.status).toBe(400);
  });

  it("answers 401 without a token and with a bad token on every domain route", async () => {
    const name = uniqueDomain();
    for (const token of [undefined, "sbx_" + "a".repeat(52), "garbage"]) {
      const results = await Promise.all([
        api<ErrorBody>(edge, "POST", "/v1/domains", { token, body: { name } }),
        api<ErrorBody>(edge, "GET", "/v1/domains", { token }),
        api<ErrorBody>(edge, "GET", `/v1/domains/${name}`, { token }),
        api<ErrorBody>(edge, "DELETE", `/v1/domains/${name}`, { token }),
      ]);
      for (const res of results) {
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe("unauthorized");
      }
    }
  });

  it("hides another account's domain: exactly the answer for a name nobody holds", async () => {
    const alices = uniqueDomain();
    expect((await api(edge, "POST", "/v1/domains", { token: alice.apiToken, body: { name: alices } })).status).toBe(201);
    const never = uniqueDomain();

    for (const method of ["GET", "DELETE"]) {
      const theirs = await api<ErrorBody>(edge, method, `/v1/domains/${alices}`, { token: bob.apiToken });
      const nobodys = await api<ErrorBody>(edge, method, `/v1/domains/${never}`, { token: bob.apiToken });
      expect(theirs.status).toBe(404);
      expect(theirs.body).toEqual(nobodys.body);
    }
    const bobList = await api<{ domains: DomainBody[] }>(edge, "GET", "/v1/domains", { token: bob.apiToken });
    expect(bobList.body.domains.map((d) => d.name)).not.toContain(alices);
    // Bob's DELETE did nothing.
    expect((await api(edge, "GET", `/v1/domains/${alices}`, { token: alice.apiToken })).status).toBe(200);
  });

  it("answers a claim of a held name with one 409, whoever holds it", async () => {
    const name = uniqueDomain();
    expect((await api(edge, "POST", "/v1/domains", { token: alice.apiToken, body: { name } })).status).toBe(201);
    const again = await api<ErrorBody>(edge, "POST", "/v1/domains", { token: alice.apiToken, body: { name } });
    const other = await api<ErrorBody>(edge, "POST", "/v1/domains", { token: bob.apiToken, body: { name } });
    expect(again.status).toBe(409);
    expect(other.status).toBe(409);
    expect(other.body).toEqual(again.body);
    expect(other.body.error.code).toBe("domain-unavailable");
  });

  it("limits an account to the maximum number of domains (at the limit accepted, one more refused)", async () => {
    const carol = await createAccount(edge, "carol");
    for (let i = 0; i < limits.domainsPerAccount; i++) {
      const res = await api(edge, "POST", "/v1/domains", { token: carol.apiToken, body: { name: uniqueDomain("many") } });
      expect(res.status).toBe(201);
    }
    const over = await api<ErrorBody>(edge, "POST", "/v1/domains", { token: carol.apiToken, body: { name: uniqueDomain("many") } });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe("too-many-domains");
  });
});
