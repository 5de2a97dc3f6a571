import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { api, createAccount, fetchLimits, type ApiLimits, uniqueDomain, type ErrorBody, type TestAccount } from "./client.ts";

/** The delivery status of a webhook no node has reported on yet (see webhook-status.test.ts in test/mx). */
const NO_STATUS = { lastSuccessAt: null, lastFailureAt: null, lastFailure: null, abandoned: 0, lastAbandonedAt: null };

interface AliasBody {
  address: string;
  localPart: string;
  forwardTo: string[];
  webhooks: { id: string; url: string; signingKey?: string }[];
  imap: boolean;
  quotaBytes: number | null;
  mailboxId: string;
  passwordCount: number;
}

interface RouteBody {
  address: string;
  mailboxId: string | null;
  forwardTo: string[];
  webhooks: { id: string; url: string; signingKey: string }[];
  imap: boolean;
  quotaBytes: number | null;
}

let edge: EdgeHandle;
let limits: ApiLimits;
let alice: TestAccount;
let bob: TestAccount;
let domain: string;

beforeAll(async () => {
  edge = await startEdge();
  limits = await fetchLimits(edge);
  alice = await createAccount(edge, "alice");
  bob = await createAccount(edge, "bob");
  domain = uniqueDomain();
  await api(edge, "POST", "/v1/domains", { token: alice.apiToken, body: { name: domain } });
});
afterAll(async () => {
  await edge?.stop();
  if (edge) await rm(edge.persistDir, { recursive: true, force: true });
});

function aliasesPath(name = domain): string {
  return `/v1/domains/${name}/aliases`;
}

async function route(address: string) {
  return api<RouteBody | ErrorBody>(edge, "POST", "/v1/admin/directory/route", { token: edge.adminToken, body: { address } });
}

describe("aliases", () => {
  it("creates an alias with forwards, webhooks (signing key returned once) and settings", async () => {
    const created = await api<AliasBody>(edge, "POST", aliasesPath(), {
      token: alice.apiToken,
      body: {
        localPart: "Info",
        forwardTo: ["Someone@Elsewhere.EXAMPLE", "b.c+tag@other.example"],
        webhooks: [{ url: "https://hooks.example.net/in?x=1" }],
        imap: true,
        quotaBytes: 1_000_000,
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      address: `info@${domain}`,
      localPart: "info",
      forwardTo: ["Someone@elsewhere.example", "b.c+tag@other.example"],
      imap: true,
      quotaBytes: 1_000_000,
      passwordCount: 0,
    });
    expect(created.body.mailboxId).toMatch(/^mbx_[0-9a-f]{32}$/);
    expect(created.body.mailboxId).not.toContain("info");
    const [hook] = created.body.webhooks;
    expect(hook.url).toBe("https://hooks.example.net/in?x=1");
    expect(hook.signingKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);

    const got = await api<AliasBody>(edge, "GET", `${aliasesPath()}/INFO`, { token: alice.apiToken });
    expect(got.status).toBe(200);
    expect(got.body.webhooks).toEqual([{ id: hook.id, url: hook.url, status: NO_STATUS }]);

    const listed = await api<{ aliases: AliasBody[] }>(edge, "GET", aliasesPath(), { token: alice.apiToken });
    expect(listed.body.aliases.map((a) => a.address)).toContain(`info@${domain}`);

    // The MX sees the route, matched case-insensitively, with the signing key for the node.
    const routed = await route(`INFO@${domain.toUpperCase()}`);
    expect(routed.status).toBe(200);
    expect(routed.body).toMatchObject({
      address: `info@${domain}`,
      mailboxId: null,
      forwardTo: ["Someone@elsewhere.example", "b.c+tag@other.example"],
      webhooks: [{ id: hook.id, url: hook.url, signingKey: hook.signingKey }],
    });
  });

  it("updates destinations: lists replace, kept webhook URLs keep their key, new ones get a new key once", async () => {
    const created = await api<AliasBody>(edge, "POST", aliasesPath(), {
      token: alice.apiToken,
      body: { localPart: "sales", webhooks: [{ url: "https://a.example.net/" }] },
    });
    const kept = created.body.webhooks[0];
    const updated = await api<AliasBody>(edge, "PATCH", `${aliasesPath()}/sales`, {
      token: alice.apiToken,
      body: { webhooks: [{ url: "https://b.example.net/" }, { url: "https://a.example.net/" }], forwardTo: ["x@y.example"], imap: false, quotaBytes: null },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.imap).toBe(false);
    expect(updated.body.forwardTo).toEqual(["x@y.example"]);
    expect(updated.body.webhooks.map((w) => w.url)).toEqual(["https://b.example.net/", "https://a.example.net/"]);
    const fresh = updated.body.webhooks[0];
    expect(fresh.signingKey).toBeDefined();
    expect(updated.body.webhooks[1]).toEqual({ id: kept.id, url: kept.url, status: NO_STATUS });

    const routed = (await route(`sales@${domain}`)).body as RouteBody;
    expect(routed.imap).toBe(false);
    expect(routed.webhooks).toEqual([
      { id: fresh.id, url: fresh.url, signingKey: fresh.signingKey },
      { id: kept.id, url: kept.url, signingKey: kept.signingKey },
    ]);

    // The list carries each alias's own destinations.
    const listed = await api<{ aliases: AliasBody[] }>(edge, "GET", aliasesPath(), { token: alice.apiToken });
    const byAddress = new Map(listed.body.aliases.map((a) => [a.address, a]));
    expect(byAddress.get(`sales@${domain}`)?.forwardTo).toEqual(["x@y.example"]);
    expect(byAddress.get(`sales@${domain}`)?.webhooks).toEqual([
      { id: fresh.id, url: fresh.url, status: NO_STATUS },
      { id: kept.id, url: kept.url, status: NO_STATUS },
    ]);
    expect(byAddress.get(`info@${domain}`)?.forwardTo).toEqual(["Someone@elsewhere.example", "b.c+tag@other.example"]);

    const cleared = await api<ErrorBody>(edge, "PATCH", `${aliasesPath()}/sales`, {
      token: alice.apiToken,
      body: { webhooks: [], forwardTo: [] },
    });
    expect(cleared.status).toBe(400);
    expect(cleared.body.error.code).toBe("no-destination");
  });

  it("deletes an alias; the route disappears", async () => {
    await api(edge, "POST", aliasesPath(), { token: alice.apiToken, body: { localPart: "temp" } });
    expect((await route(`temp@${domain}`)).status).toBe(200);
    expect((await api(edge, "DELETE", `${aliasesPath()}/temp`, { token: alice.apiToken })).status).toBe(204);
    expect((await route(`temp@${domain}`)).status).toBe(404);
    const again = await api<ErrorBody>(edge, "GET", `${aliasesPath()}/temp`, { token: alice.apiToken });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("alias-not-found");
  });

  it("refuses a duplicate alias with 409", async () => {
    await api(edge, "POST", aliasesPath(), { token: alice.apiToken, body: { localPart: "dup" } });
    const again = await api<ErrorBody>(edge, "POST", aliasesPath(), { token: alice.apiToken, body: { localPart: "DUP" } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("alias-exists");
  });

  it("validates local parts, addresses, URLs and settings with 400", async () => {
    const cases: [unknown, string][] = [
      [{ localPart: ".lead" }, "invalid-local-part"],
      [{ localPart: "a..b" }, "invalid-local-part"],
      [{ localPart: "plus+tag" }, "invalid-local-part"],
      [{ localPart: "x".repeat(65) }, "invalid-request"],
      [{ localPart: "ok1", forwardTo: ["not-an-address"] }, "invalid-forward-address"],
      [{ localPart: "ok1", forwardTo: ["a@localhost"] }, "invalid-forward-address"],
      [{ localPart: "ok1", forwardTo: ["a b@x.example"] }, "invalid-forward-address"],
      [{ localPart: "ok1", forwardTo: ["a@x.example", "A@X.example"] }, "duplicate-forward-address"],
      [{ localPart: "ok1", forwardTo: [`ok1@${domain}`] }, "forward-loop"],
      [{ localPart: "ok1", forwardTo: Array.from({ length: limits.forwardsPerAlias + 1 }, (_, i) => `f${i}@x.example`) }, "too-many-forwards"],
      [{ localPart: "ok1", webhooks: [{ url: "ftp://x.example/" }] }, "invalid-webhook-url"],
      [{ localPart: "ok1", webhooks: [{ url: "https://user:pw@x.example/" }] }, "invalid-webhook-url"],
      [{ localPart: "ok1", webhooks: [{ url: "https://10.0.0.1/" }] }, "invalid-webhook-url"],
      [{ localPart: "ok1", webhooks: [{ url: "https://[fd00::1]/" }] }, "invalid-webhook-url"],
      [{ localPart: "ok1", webhooks: [{ url: "http://public.example/" }] }, "invalid-webhook-url"],
      [{ localPart: "ok1", webhooks: [{ url: "not a url" }] }, "invalid-webhook-url"],
      [{ localPart: "ok1", webhooks: Array.from({ length: limits.webhooksPerAlias + 1 }, (_, i) => ({ url: `https://h${i}.example/` })) }, "too-many-webhooks"],
      [{ localPart: "ok1", imap: false }, "no-destination"],
      [{ localPart: "ok1", quotaBytes: -1 }, "invalid-request"],
      [{ localPart: "ok1", quotaBytes: 1.5 }, "invalid-request"],
      [{ localPart: "ok1", imap: "yes" }, "invalid-request"],
      [{ localPart: "ok1", unknownField: 1 }, "invalid-request"],
      [{}, "invalid-request"],
    ];
    for (const [body, code] of cases) {
      const res = await api<ErrorBody>(edge, "POST", aliasesPath(), { token: alice.apiToken, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code, JSON.stringify(body)).toBe(code);
    }
    // Nothing was created by any refused request.
    expect((await api(edge, "GET", `${aliasesPath()}/ok1`, { token: alice.apiToken })).status).toBe(404);
  });

  it("validates path parameters and update bodies with 400 on every alias route", async () => {
    await api(edge, "POST", aliasesPath(), { token: alice.apiToken, body: { localPart: "params" } });
    const long = "x".repeat(limits.localPartMaxLength + 1);
    const requests: [string, string, unknown][] = [
      ["GET", `${aliasesPath()}/${long}`, undefined],
      ["PATCH", `${aliasesPath()}/${long}`, { imap: true }],
      ["DELETE", `${aliasesPath()}/${long}`, undefined],
      ["GET", `${aliasesPath()}/${long}/passwords`, undefined],
      ["DELETE", `${aliasesPath()}/params/passwords/${"p".repeat(65)}`, undefined],
      ["GET", aliasesPath("bad_domain"), undefined],
      ["PATCH", `${aliasesPath()}/params`, { imap: "yes" }],
      ["PATCH", `${aliasesPath()}/params`, { quotaBytes: -5 }],
      ["PATCH", `${aliasesPath()}/params`, { forwardTo: "a@b.example" }],
      ["PATCH", `${aliasesPath()}/params`, { webhooks: [{ url: "https://h.example/", extra: 1 }] }],
      ["PATCH", `${aliasesPath()}/params`, { localPart: "renamed" }],
      ["PATCH", `${aliasesPath()}/params`, { forwardTo: ["nope"] }],
    ];
    for (const [method, path, body] of requests) {
      const res = await api<ErrorBody>(edge, method, path, { token: alice.apiToken, body });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error.code).toMatch(/^invalid-/);
    }
    const unchanged = await api<AliasBody>(edge, "GET", `${aliasesPath()}/params`, { token: alice.apiToken });
    expect(unchanged.body).toMatchObject({ imap: true, forwardTo: [], quotaBytes: null });
  });

  it("accepts forwards and webhooks exactly up to their limits", async () => {
    const res = await api<AliasBody>(edge, "POST", aliasesPath(), {
      token: alice.apiToken,
      body: {
        localPart: "full",
        forwardTo: Array.from({ length: limits.forwardsPerAlias }, (_, i) => `f${i}@x.example`),
        webhooks: Array.from({ length: limits.webhooksPerAlias }, (_, i) => ({ url: `https://h${i}.example/` })),
        quotaBytes: limits.quotaBytesMax,
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.forwardTo).toHaveLength(limits.forwardsPerAlias);
    expect(res.body.webhooks).toHaveLength(limits.webhooksPerAlias);
    const over = await api<ErrorBody>(edge, "PATCH", `${aliasesPath()}/full`, { token: alice.apiToken, body: { quotaBytes: limits.quotaBytesMax + 1 } });
    expect(over.status).toBe(400);
  });

  it("accepts loopback webhook URLs only when the edge allows them (tests do)", async () => {
    const res = await api<AliasBody>(edge, "POST", aliasesPath(), {
      token: alice.apiToken,
      body: { localPart: "hooked", imap: false, webhooks: [{ url: "http://127.0.0.1:9/hook" }] },
    });
    expect(res.status).toBe(201);
  });

  it("answers 401 without a token and with a bad token on every alias route", async () => {
    for (const token of [undefined, "sbx_" + "b".repeat(52)]) {
      const results = await Promise.all([
        api<ErrorBody>(edge, "POST", aliasesPath(), { token, body: { localPart: "x" } }),
        api<ErrorBody>(edge, "GET", aliasesPath(), { token }),
        api<ErrorBody>(edge, "GET", `${aliasesPath()}/info`, { token }),
        api<ErrorBody>(edge, "PATCH", `${aliasesPath()}/info`, { token, body: { imap: true } }),
        api<ErrorBody>(edge, "DELETE", `${aliasesPath()}/info`, { token }),
      ]);
      for (const res of results) {
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe("unauthorized");
      }
    }
  });

  it("hides another account's aliases: exactly the answers for a domain nobody holds", async () => {
    await api(edge, "POST", aliasesPath(), { token: alice.apiToken, body: { localPart: "secret" } });
    const never = uniqueDomain();
    const requests: [string, string, unknown][] = [
      ["GET", "", undefined],
      ["POST", "", { localPart: "new" }],
      ["GET", "/secret", undefined],
      ["PATCH", "/secret", { imap: true }],
      ["DELETE", "/secret", undefined],
      ["GET", "/secret/passwords", undefined],
      ["POST", "/secret/passwords", { label: "x" }],
      ["DELETE", "/secret/passwords/pwd_00", undefined],
    ];
    for (const [method, suffix, body] of requests) {
      const theirs = await api<ErrorBody>(edge, method, `${aliasesPath(domain)}${suffix}`, { token: bob.apiToken, body });
      const nobodys = await api<ErrorBody>(edge, method, `${aliasesPath(never)}${suffix}`, { token: bob.apiToken, body });
      expect(theirs.status, `${method} ${suffix}`).toBe(404);
      expect(theirs.body, `${method} ${suffix}`).toEqual(nobodys.body);
    }
    // Bob's attempts changed nothing.
    const still = await api<AliasBody>(edge, "GET", `${aliasesPath()}/secret`, { token: alice.apiToken });
    expect(still.status).toBe(200);
    expect(still.body.passwordCount).toBe(0);
  });

  it("deleting a domain deletes its aliases", async () => {
    const other = uniqueDomain();
    await api(edge, "POST", "/v1/domains", { token: alice.apiToken, body: { name: other } });
    await api(edge, "POST", aliasesPath(other), { token: alice.apiToken, body: { localPart: "gone" } });
    expect((await route(`gone@${other}`)).status).toBe(200);
    expect((await api(edge, "DELETE", `/v1/domains/${other}`, { token: alice.apiToken })).status).toBe(204);
    expect((await route(`gone@${other}`)).status).toBe(404);
  });
});
