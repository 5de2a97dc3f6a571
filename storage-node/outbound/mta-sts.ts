/**
 * MTA-STS (RFC 8461): a recipient domain's published demand that mail to it
 * travel over TLS to authenticated MX hosts.
 *
 * Discovery (§3.1): the TXT record `_mta-sts.<domain>` ("v=STSv1; id=…"),
 * then the policy from `https://mta-sts.<domain>/.well-known/mta-sts.txt`
 * (§3.3), fetched over HTTPS with a validated certificate, no redirects, at
 * most `OUTBOUND_LIMITS.mtaStsPolicyMaxBytes` within
 * `OUTBOUND_LIMITS.mtaStsFetchTimeoutMs`.
 *
 * Invariants:
 * - A policy is cached per domain until its max_age runs out (capped at
 *   `mtaStsMaxAgeSeconds`); it is fetched again only when the TXT id
 *   changes (§5.1) or the cache entry expired.
 * - §5.1 failures: no TXT record, a DNS failure or a failed/invalid policy
 *   fetch fall back to the cached policy while it is valid, else to "no
 *   policy" (opportunistic delivery). Never to a weaker policy than a valid
 *   cached one.
 * - The policy host is resolved by the node's resolver (the `dnsServers`
 *   settings) and dialled on `port` (443 in production); the certificate
 *   is checked against `ca` when given (a PEM bundle), else the system's CAs.
 * - Nothing of the policy body is logged; errors name the class of failure.
 */
import { isIP } from "node:net";
import type { LookupAddress } from "node:dns";
import { Agent, request } from "undici";
import { OUTBOUND_LIMITS } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { DnsResolverData } from "../mx/dns-resolver.ts";

export type MtaStsMode = "enforce" | "testing" | "none";

export interface MtaStsPolicyData {
  id: string;
  mode: MtaStsMode;
  /** MX host patterns: "mail.example.com" or "*.example.com" (one leftmost label). */
  mx: string[];
  maxAgeSeconds: number;
}

export class MtaStsPolicyError extends Error {
  override name = "MtaStsPolicyError";
}

/** The id of a `_mta-sts` TXT record set (§3.1), or null when it holds no single valid record. */
export function parseMtaStsRecord(records: string[]): string | null {
  const candidates = records.filter((r) => /^v=STSv1\s*(;|$)/.test(r));
  if (candidates.length !== 1) return null;
  let id: string | null = null;
  for (const field of candidates[0].split(";")) {
    const match = /^\s*([A-Za-z0-9_.-]+)=(.*?)\s*$/.exec(field);
    if (match?.[1] === "id") id = match[2];
  }
  return id !== null && /^[A-Za-z0-9]{1,32}$/.test(id) ? id : null;
}

/** Parses a policy body (§3.2); throws MtaStsPolicyError when it is not a valid STSv1 policy. */
export function parseMtaStsPolicy(text: string, id: string): MtaStsPolicyData {
  let version = "";
  let mode = "";
  let maxAge = Number.NaN;
  const mx: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon < 1) throw new MtaStsPolicyError("policy line without a key");
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "version") version = value;
    else if (key === "mode") mode = value;
    else if (key === "max_age") maxAge = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
    else if (key === "mx") mx.push(value.toLowerCase().replace(/\.$/, ""));
  }
  if (version !== "STSv1") throw new MtaStsPolicyError("policy version is not STSv1");
  if (mode !== "enforce" && mode !== "testing" && mode !== "none") throw new MtaStsPolicyError("policy mode is invalid");
  if (!Number.isFinite(maxAge)) throw new MtaStsPolicyError("policy max_age is invalid");
  if (mode !== "none" && mx.length === 0) throw new MtaStsPolicyError("policy lists no mx");
  return { id, mode, mx, maxAgeSeconds: Math.min(maxAge, OUTBOUND_LIMITS.mtaStsMaxAgeSeconds) };
}

/** §4.1: an MX host matches a pattern exactly, or "*.d" matches exactly one label in front of d. */
export function mxMatchesPolicy(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return patterns.some((pattern) => {
    if (!pattern.startsWith("*.")) return name === pattern;
    const dot = name.indexOf(".");
    return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
  });
}

export interface MtaStsResolverOptions {
  resolver: DnsResolverData;
  /** PEM CA bundle replacing the system's CAs (tests, closed networks); null = system CAs. */
  ca: string | null;
  /** HTTPS port of policy hosts (443 in production). */
  port: number;
  logger: Logger;
  now?: () => number;
}

interface CachedPolicy {
  policy: MtaStsPolicyData;
  expiresAt: number;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export class MtaStsResolver {
  private readonly options: MtaStsResolverOptions;
  private readonly agent: Agent;
  private readonly cache = new Map<string, CachedPolicy>();
  private readonly pending = new Map<string, Promise<MtaStsPolicyData | null>>();

  constructor(options: MtaStsResolverOptions) {
    this.options = options;
    const lookup = (hostname: string, lookupOptions: { all?: boolean }, callback: LookupCallback) => {
      options.resolver.resolveAddresses(hostname).then(
        (list) => {
          if (list.length === 0) return callback(Object.assign(new Error("policy host has no address"), { code: "ENOTFOUND" }), []);
          if (lookupOptions.all) return callback(null, list.map((address) => ({ address, family: isIP(address) })));
          callback(null, list[0], isIP(list[0]));
        },
        () => callback(Object.assign(new Error("policy host look-up failed"), { code: "EAI_AGAIN" }), []),
      );
    };
    this.agent = new Agent({
      connect: { timeout: OUTBOUND_LIMITS.mtaStsFetchTimeoutMs, lookup, ...(options.ca ? { ca: options.ca } : {}), rejectUnauthorized: true },
      keepAliveTimeout: 1_000,
    });
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** The policy in force for `domain`, or null (no MTA-STS: deliver opportunistically). */
  async policyFor(domain: string): Promise<MtaStsPolicyData | null> {
    const key = domain.toLowerCase().replace(/\.$/, "");
    const running = this.pending.get(key);
    if (running) return running;
    const lookup = this.discover(key).finally(() => this.pending.delete(key));
    this.pending.set(key, lookup);
    return lookup;
  }

  private async discover(domain: string): Promise<MtaStsPolicyData | null> {
    let cached: CachedPolicy | undefined = this.cache.get(domain);
    if (cached && cached.expiresAt <= this.now()) {
      this.cache.delete(domain);
      cached = undefined;
    }
    let id: string | null = null;
    try {
      const answer = (await this.options.resolver.resolve(`_mta-sts.${domain}`, "TXT")) as string[][];
      id = parseMtaStsRecord(answer.map((chunks) => chunks.join("")));
    } catch {
      id = null;
    }
    if (id === null) return cached?.policy ?? null;
    if (cached && cached.policy.id === id) return cached.policy;
    try {
      const policy = parseMtaStsPolicy(await this.fetchPolicy(domain), id);
      this.remember(domain, policy);
      return policy;
    } catch (error) {
      this.options.logger.warn({ domain, error: error instanceof Error ? error.name : "error" }, "MTA-STS policy fetch failed");
      return cached?.policy ?? null;
    }
  }

  private remember(domain: string, policy: MtaStsPolicyData): void {
    this.cache.delete(domain);
    while (this.cache.size >= OUTBOUND_LIMITS.mtaStsMaxCachedPolicies) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    this.cache.set(domain, { policy, expiresAt: this.now() + policy.maxAgeSeconds * 1000 });
  }

  private async fetchPolicy(domain: string): Promise<string> {
    const signal = AbortSignal.timeout(OUTBOUND_LIMITS.mtaStsFetchTimeoutMs);
    const url = `https://mta-sts.${domain}${this.options.port === 443 ? "" : `:${this.options.port}`}/.well-known/mta-sts.txt`;
    const response = await request(url, { dispatcher: this.agent, signal, headers: { "user-agent": "Sealbox-MTA-STS/1" } });
    // §3.3: only a 200 counts (redirects are not followed), and the body is text/plain.
    const type = String(response.headers["content-type"] ?? "");
    if (response.statusCode !== 200 || !/^text\/plain\s*(;|$)/i.test(type)) {
      await response.body.dump();
      throw new MtaStsPolicyError("policy host answered without a policy");
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > OUTBOUND_LIMITS.mtaStsPolicyMaxBytes) {
        response.body.destroy();
        throw new MtaStsPolicyError("policy is too large");
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
