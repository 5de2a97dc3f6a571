/**
 * MTA-STS (RFC 8461) for forwarded mail, end to end on 127.0.0.1: a DNS stub
 * publishes MX, A and `_mta-sts` TXT records; an HTTPS policy server and a
 * STARTTLS sink present certificates from a CA the test creates (trusted
 * through the `outboundCaPath` setting). Enforce mode delivers only over
 * verified TLS and otherwise retries without a plaintext fallback; testing
 * mode delivers anyway; a failed policy fetch falls back per §5.1.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:https";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OUTBOUND_LIMITS } from "../../storage-node/limits.ts";
import { createLogger } from "../../storage-node/log.ts";
import { createDnsResolver } from "../../storage-node/mx/dns-resolver.ts";
import { MtaStsResolver, mxMatchesPolicy, parseMtaStsPolicy, parseMtaStsRecord } from "../../storage-node/outbound/mta-sts.ts";
import { createTestMailbox, eventually, uniqueName, type TestMailboxData } from "../support/api.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { startDnsStub, type DnsStub } from "./support/dns-stub.ts";
import { startInboundHarness, type InboundHarness } from "./support/inbound-harness.ts";
import { startSink, type Sink } from "./support/targets.ts";
import { createTestCa, type TestCa } from "./support/test-ca.ts";

interface PolicyAnswer {
  status: number;
  body: string;
  type?: string;
  location?: string;
}

const policy = (mode: string, mx: string[], maxAge = 86_400) => `version: STSv1\r\nmode: ${mode}\r\n${mx.map((m) => `mx: ${m}\r\n`).join("")}max_age: ${maxAge}\r\n`;

/** An HTTPS server answering /.well-known/mta-sts.txt per policy host name. */
async function startPolicyServer(tls: { key: string; cert: string }, answers: Map<string, PolicyAnswer>): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer(tls, (req, res) => {
    const host = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
    hits.push(host);
    const answer = req.url === "/.well-known/mta-sts.txt" ? answers.get(host) : undefined;
    if (!answer) return res.writeHead(404).end();
    res.writeHead(answer.status, { "content-type": answer.type ?? "text/plain", ...(answer.location ? { location: answer.location } : {}) }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0, hits };
}

describe("MTA-STS policy parsing", () => {
  it("reads the TXT record id and refuses ambiguous or malformed records", () => {
    expect(parseMtaStsRecord(["v=STSv1; id=20240101T00"])).toBe("20240101T00");
    expect(parseMtaStsRecord(["v=spf1 -all", "v=STSv1;id=abc;"])).toBe("abc");
    expect(parseMtaStsRecord(["v=STSv1; id=a", "v=STSv1; id=b"])).toBeNull();
    expect(parseMtaStsRecord(["v=STSv1; id=not-alnum"])).toBeNull();
    expect(parseMtaStsRecord(["v=STSv1"])).toBeNull();
    expect(parseMtaStsRecord([])).toBeNull();
  });

  it("parses policies, caps max_age and refuses invalid ones", () => {
    expect(parseMtaStsPolicy("version: STSv1\nmode: enforce\nmx: MX1.Example.\nmx: *.example.net\nmax_age: 600\n", "x")).toEqual({
      id: "x",
      mode: "enforce",
      mx: ["mx1.example", "*.example.net"],
      maxAgeSeconds: 600,
    });
    expect(parseMtaStsPolicy(policy("testing", ["a.example"], 99_999_999_999 % 1e10), "x").maxAgeSeconds).toBe(OUTBOUND_LIMITS.mtaStsMaxAgeSeconds);
    expect(parseMtaStsPolicy("version: STSv1\nmode: none\nmax_age: 1\n", "x").mode).toBe("none");
    expect(() => parseMtaStsPolicy("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n", "x")).toThrow();
    expect(() => parseMtaStsPolicy("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n", "x")).toThrow();
    expect(() => parseMtaStsPolicy("version: STSv1\nmode: enforce\nmax_age: 1\n", "x")).toThrow();
    expect(() => parseMtaStsPolicy("version: STSv1\nmode: enforce\nmx: a\nmax_age: -1\n", "x")).toThrow();
    expect(() => parseMtaStsPolicy("<html>", "x")).toThrow();
  });

  it("matches MX hosts exactly or by a one-label wildcard (§4.1)", () => {
    expect(mxMatchesPolicy("mx1.example.com", ["mx1.example.com"])).toBe(true);
    expect(mxMatchesPolicy("MX1.example.com.", ["mx1.example.com"])).toBe(true);
    expect(mxMatchesPolicy("mx1.example.com", ["*.example.com"])).toBe(true);
    expect(mxMatchesPolicy("a.mx1.example.com", ["*.example.com"])).toBe(false);
    expect(mxMatchesPolicy("example.com", ["*.example.com"])).toBe(false);
    expect(mxMatchesPolicy("mx1.example.org", ["mx1.example.com", "*.example.net"])).toBe(false);
  });
});

describe("MTA-STS policy discovery", () => {
  let ca: TestCa;
  let dns: DnsStub;
  let policies: Map<string, PolicyAnswer>;
  let web: Awaited<ReturnType<typeof startPolicyServer>>;

  beforeAll(async () => {
    ca = await createTestCa();
    dns = await startDnsStub({});
    policies = new Map();
    web = await startPolicyServer(await ca.issue(["mta-sts.cache.example", "mta-sts.size.example", "mta-sts.odd.example"]), policies);
    for (const name of ["cache", "size", "odd"]) dns.set(`mta-sts.${name}.example`, { A: ["127.0.0.1"] });
  });

  afterAll(async () => {
    web?.server.close();
    await dns?.close();
  });

  function discovery(now: () => number, trusted = true): MtaStsResolver {
    return new MtaStsResolver({ resolver: createDnsResolver(dns.server), ca: trusted ? ca.caPem : null, port: web.port, logger: createLogger("silent"), now });
  }

  it("caches by id and max_age and keeps a valid cached policy when the fetch fails (§5.1)", async () => {
    let now = 1_000_000;
    const sts = discovery(() => now);
    try {
      dns.set("_mta-sts.cache.example", { TXT: "v=STSv1; id=one" });
      policies.set("mta-sts.cache.example", { status: 200, body: policy("enforce", ["mx.cache.example"], 600) });
      expect(await sts.policyFor("cache.example")).toMatchObject({ id: "one", mode: "enforce" });
      const fetches = web.hits.filter((h) => h === "mta-sts.cache.example").length;
      // Same id: no new fetch.
      expect(await sts.policyFor("cache.example")).toMatchObject({ id: "one" });
      expect(web.hits.filter((h) => h === "mta-sts.cache.example")).toHaveLength(fetches);
      // New id but the policy host fails: the cached policy still holds.
      dns.set("_mta-sts.cache.example", { TXT: "v=STSv1; id=two" });
      policies.set("mta-sts.cache.example", { status: 500, body: "" });
      expect(await sts.policyFor("cache.example")).toMatchObject({ id: "one", mode: "enforce" });
      // The TXT record disappears: still the cached policy.
      dns.set("_mta-sts.cache.example", { A: ["127.0.0.1"] });
      expect(await sts.policyFor("cache.example")).toMatchObject({ id: "one" });
      // Past max_age with nothing fetchable: no policy (opportunistic).
      now += 601_000;
      dns.set("_mta-sts.cache.example", { TXT: "v=STSv1; id=two" });
      expect(await sts.policyFor("cache.example")).toBeNull();
      // A new policy is picked up when the id changes and the fetch works.
      policies.set("mta-sts.cache.example", { status: 200, body: policy("testing", ["mx.cache.example"]) });
      expect(await sts.policyFor("cache.example")).toMatchObject({ id: "two", mode: "testing" });
    } finally {
      await sts.close();
    }
  });

  it("treats redirects, non-text answers and untrusted certificates as fetch failures", async () => {
    const sts = discovery(() => Date.now());
    const untrusting = discovery(() => Date.now(), false);
    try {
      dns.set("_mta-sts.odd.example", { TXT: "v=STSv1; id=r1" });
      policies.set("mta-sts.odd.example", { status: 301, body: "", location: `https://mta-sts.cache.example:${web.port}/.well-known/mta-sts.txt` });
      expect(await sts.policyFor("odd.example")).toBeNull();
      dns.set("_mta-sts.odd.example", { TXT: "v=STSv1; id=r2" });
      policies.set("mta-sts.odd.example", { status: 200, body: policy("enforce", ["mx.odd.example"]), type: "text/html" });
      expect(await sts.policyFor("odd.example")).toBeNull();
      dns.set("_mta-sts.odd.example", { TXT: "v=STSv1; id=r3" });
      policies.set("mta-sts.odd.example", { status: 200, body: policy("enforce", ["mx.odd.example"]) });
      // The system CAs do not know the test CA.
      expect(await untrusting.policyFor("odd.example")).toBeNull();
      expect(await sts.policyFor("odd.example")).toMatchObject({ mode: "enforce" });
    } finally {
      await sts.close();
      await untrusting.close();
    }
  });

  it("accepts a policy of exactly mtaStsPolicyMaxBytes and refuses one byte more", async () => {
    const sts = discovery(() => Date.now());
    try {
      const core = policy("enforce", ["mx.size.example"]);
      const pad = (n: number) => core + "\n".repeat(n - Buffer.byteLength(core));
      dns.set("_mta-sts.size.example", { TXT: "v=STSv1; id=s1" });
      policies.set("mta-sts.size.example", { status: 200, body: pad(OUTBOUND_LIMITS.mtaStsPolicyMaxBytes) });
      expect(await sts.policyFor("size.example")).toMatchObject({ mode: "enforce" });
      const fresh = discovery(() => Date.now());
      try {
        dns.set("_mta-sts.size.example", { TXT: "v=STSv1; id=s2" });
        policies.set("mta-sts.size.example", { status: 200, body: pad(OUTBOUND_LIMITS.mtaStsPolicyMaxBytes + 1) });
        expect(await fresh.policyFor("size.example")).toBeNull();
      } finally {
        await fresh.close();
      }
    } finally {
      await sts.close();
    }
  });
});

describe("MTA-STS on forwarded mail", () => {
  let edge: EdgeHandle;
  let ca: TestCa;
  let dns: DnsStub;
  let web: Awaited<ReturnType<typeof startPolicyServer>>;
  let tlsSink: Sink;
  let plainSink: Sink;
  let h: InboundHarness;
  let plainHarness: InboundHarness;
  let owner: TestMailboxData;
  const policies = new Map<string, PolicyAnswer>();

  /** A domain with one MX host `mx.<domain>` at 127.0.0.1 and an MTA-STS policy. */
  function publish(domain: string, mode: string | null, mx = [`mx.${domain}`]): void {
    dns.set(domain, { MX: [{ preference: 10, exchange: `mx.${domain}` }] });
    dns.set(`mx.${domain}`, { A: ["127.0.0.1"] });
    if (mode === null) return;
    dns.set(`_mta-sts.${domain}`, { TXT: `v=STSv1; id=${randomBytes(4).toString("hex")}` });
    dns.set(`mta-sts.${domain}`, { A: ["127.0.0.1"] });
    policies.set(`mta-sts.${domain}`, { status: 200, body: policy(mode, mx) });
  }

  beforeAll(async () => {
    edge = await startEdge();
    ca = await createTestCa();
    dns = await startDnsStub({ "sender.example": "v=spf1 -all" });
    const domains = ["good.example", "wrong.example", "self.example", "testing.example", "nomatch.example", "nofetch.example", "plain.example"];
    web = await startPolicyServer(await ca.issue(domains.map((d) => `mta-sts.${d}`)), policies);
    // The sink picks its certificate by SNI: valid for good/testing/nomatch/nofetch, a valid chain for
    // another name for wrong.example, and self-signed (the default) for self.example.
    const valid = await ca.issue(["mx.good.example", "mx.testing.example", "mx.nomatch.example", "mx.nofetch.example"]);
    const otherName = await ca.issue(["mx.elsewhere.example"]);
    const selfSigned = await ca.selfSigned(["mx.self.example", "mx.testing.example"]);
    tlsSink = await startSink({
      tls: {
        ...selfSigned,
        sniOptions: {
          "mx.good.example": valid,
          "mx.nomatch.example": valid,
          "mx.nofetch.example": valid,
          "mx.wrong.example": otherName,
          "mx.self.example": selfSigned,
          "mx.testing.example": selfSigned,
        },
      },
    });
    plainSink = await startSink();
    publish("good.example", "enforce");
    publish("wrong.example", "enforce");
    publish("self.example", "enforce");
    publish("testing.example", "testing");
    publish("nomatch.example", "enforce", ["mail.other.example"]);
    publish("nofetch.example", "enforce");
    policies.set("mta-sts.nofetch.example", { status: 404, body: "" });
    publish("plain.example", "enforce");
    const settings = { dnsServers: dns.server, mtaStsPort: web.port, outboundCaPath: ca.caPath, outboundRetryBaseMs: 100 };
    h = await startInboundHarness(edge, { settings: { ...settings, outboundPort: tlsSink.port } });
    plainHarness = await startInboundHarness(edge, { settings: { ...settings, outboundPort: plainSink.port } });
    owner = await createTestMailbox(edge, "owner");
  });

  afterAll(async () => {
    await h?.close();
    await plainHarness?.close();
    await tlsSink?.close();
    await plainSink?.close();
    web?.server.close();
    await dns?.close();
    await edge?.stop();
  });

  async function forward(harness: InboundHarness, to: string): Promise<void> {
    const alias = `${uniqueName("fwd")}@${owner.domain}`;
    await owner.api.createAlias(alias, { imap: false, forwardTo: [to] });
    const raw = Buffer.from(`From: <bob@sender.example>\r\nTo: <${alias}>\r\nSubject: sts\r\n\r\nsecret body\r\n`);
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: harness.mxPort, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: "bob@sender.example", to: [alias] }, raw });
  }

  const delivered = (sink: Sink, rcpt: string) => sink.received.filter((m) => m.rcptTo.includes(rcpt));
  const addressLookups = (host: string) => dns.queries.filter((q) => q === `${host}/1`).length;

  it("enforce: delivers over STARTTLS to a matching MX with a valid certificate", async () => {
    await forward(h, "dest@good.example");
    await eventually(() => delivered(tlsSink, "dest@good.example").length === 1, 15_000, "the delivery");
    expect(delivered(tlsSink, "dest@good.example")[0].secure).toBe(true);
    expect(web.hits).toContain("mta-sts.good.example");
  });

  it.each([
    ["a certificate for another host name", "wrong.example"],
    ["a self-signed certificate", "self.example"],
    ["an MX host the policy does not list", "nomatch.example"],
  ])("enforce: %s is never delivered to, only retried", async (_what, domain) => {
    await forward(h, `dest@${domain}`);
    // Several queue runs (the look-up of the MX host happens once per run).
    await eventually(() => addressLookups(`mx.${domain}`) >= 3 || dns.queries.filter((q) => q === `${domain}/15`).length >= 3, 15_000, "retries");
    expect(delivered(tlsSink, `dest@${domain}`)).toHaveLength(0);
    expect(tlsSink.attempts.get(`dest@${domain}`)).toBeUndefined();
  });

  it("enforce: a next hop without STARTTLS gets no plaintext copy", async () => {
    const connections = plainSink.connections;
    await forward(plainHarness, "dest@plain.example");
    await eventually(() => plainSink.connections >= connections + 3, 15_000, "retries");
    expect(delivered(plainSink, "dest@plain.example")).toHaveLength(0);
    expect(plainSink.attempts.get("dest@plain.example")).toBeUndefined();
  });

  it("testing: delivers even though the certificate does not validate", async () => {
    await forward(h, "dest@testing.example");
    await eventually(() => delivered(tlsSink, "dest@testing.example").length === 1, 15_000, "the delivery");
  });

  it("a failed policy fetch without a cached policy delivers as without MTA-STS (§5.1)", async () => {
    await forward(h, "dest@nofetch.example");
    await eventually(() => delivered(tlsSink, "dest@nofetch.example").length === 1, 15_000, "the delivery");
    expect(web.hits).toContain("mta-sts.nofetch.example");
  });
});
