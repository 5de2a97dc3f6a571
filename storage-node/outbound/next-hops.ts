/**
 * Where to deliver mail for a domain (RFC 5321 §5.1).
 *
 * Invariants:
 * - Static routes from the settings win ("domain=host:port;*=host:port"; "*"
 *   matches every domain) — so tests and smart-host setups deliver to a
 *   chosen server without DNS. Their host is dialled as given.
 * - Otherwise MX records (DNS-over-HTTPS when `dohUrl` is set, else the
 *   configured/system resolver), lowest preference first; no MX record means
 *   the domain itself (implicit MX); a null MX ("." , RFC 7505) means the
 *   domain accepts no mail: a permanent failure. Hosts found this way are
 *   dialled on `port` (the `outboundPort` setting, 25 in production) at the
 *   addresses the same resolver gives (`addresses()`), never through the
 *   system's resolver, so DNS settings apply to the whole path.
 * - A DNS failure is temporary (the queue retries); only "no such domain",
 *   null MX and an implicit MX without any address are permanent.
 */
import { isIP } from "node:net";
import { request } from "undici";
import type { DnsResolverData } from "../mx/dns-resolver.ts";

export interface NextHopData {
  host: string;
  port: number;
  /** "static": a configured route; "mx": an MX host; "implicit": the domain itself (no MX). */
  source: "static" | "mx" | "implicit";
}

export class NextHopError extends Error {
  override name = "NextHopError";
  constructor(
    readonly permanent: boolean,
    message: string,
  ) {
    super(message);
  }
}

export type StaticRoutes = Map<string, Omit<NextHopData, "source">>;

export function parseStaticRoutes(text: string): StaticRoutes {
  const routes: StaticRoutes = new Map();
  for (const item of text.split(/[;,\s]+/).filter((s) => s.length > 0)) {
    const eq = item.indexOf("=");
    const colon = item.lastIndexOf(":");
    if (eq < 1 || colon < eq + 2) throw new Error("staticRoutes entries look like domain=host:port");
    const port = Number(item.slice(colon + 1));
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error("staticRoutes entries look like domain=host:port");
    routes.set(item.slice(0, eq).toLowerCase(), { host: item.slice(eq + 1, colon).replace(/^\[|\]$/g, ""), port });
  }
  return routes;
}

export interface NextHopResolverOptions {
  staticRoutes: StaticRoutes;
  resolver: DnsResolverData;
  dohUrl: string;
  /** SMTP port of hosts found in DNS (default 25). */
  port?: number;
}

interface DohAnswer {
  Status: number;
  Answer?: { type: number; data: string }[];
}

const DOH_TYPES = { MX: 15, A: 1, AAAA: 28 } as const;

export class NextHopResolver {
  private readonly options: NextHopResolverOptions;

  constructor(options: NextHopResolverOptions) {
    this.options = options;
  }

  async resolve(domain: string): Promise<NextHopData[]> {
    const key = domain.toLowerCase();
    const fixed = this.options.staticRoutes.get(key) ?? this.options.staticRoutes.get("*");
    if (fixed) return [{ ...fixed, source: "static" }];
    const records = this.options.dohUrl ? await this.mxViaDoh(key) : await this.mxViaDns(key);
    if (records.length === 1 && (records[0].exchange === "" || records[0].exchange === ".")) {
      throw new NextHopError(true, "domain publishes a null MX");
    }
    const port = this.options.port ?? 25;
    if (records.length === 0) return [{ host: key, port, source: "implicit" }];
    return records
      .sort((a, b) => a.priority - b.priority)
      .map((r) => ({ host: r.exchange.replace(/\.$/, "").toLowerCase(), port, source: "mx" as const }));
  }

  /**
   * The addresses to dial for a hop, IPv4 first. [] = the name has none (or
   * does not exist); a DNS failure throws a temporary NextHopError.
   */
  async addresses(hop: NextHopData): Promise<string[]> {
    if (hop.source === "static" || isIP(hop.host) !== 0) return [hop.host];
    if (this.options.dohUrl) {
      const [v4, v6] = await Promise.all([this.doh(hop.host, "A"), this.doh(hop.host, "AAAA")]);
      if (v4 === null && v6 === null) throw new NextHopError(false, "address look-up failed");
      return [...(v4 ?? []), ...(v6 ?? [])].map((data) => data.trim()).filter((ip) => isIP(ip) !== 0);
    }
    try {
      return await this.options.resolver.resolveAddresses(hop.host);
    } catch {
      throw new NextHopError(false, "address look-up failed");
    }
  }

  private async mxViaDns(domain: string): Promise<{ exchange: string; priority: number }[]> {
    try {
      return await this.options.resolver.resolveMx(domain);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ENODATA") return [];
      if (code === "ENOTFOUND") throw new NextHopError(true, "recipient domain does not exist");
      throw new NextHopError(false, "MX look-up failed");
    }
  }

  /** Record data of one type; [] for NODATA/NXDOMAIN, null when the look-up failed. */
  private async doh(name: string, type: keyof typeof DOH_TYPES): Promise<string[] | null> {
    const answer = await this.dohQuery(name, type).catch(() => null);
    if (answer === null) return null;
    if (answer.Status === 3) return [];
    if (answer.Status !== 0) return null;
    return (answer.Answer ?? []).filter((r) => r.type === DOH_TYPES[type]).map((r) => r.data);
  }

  private async dohQuery(name: string, type: keyof typeof DOH_TYPES): Promise<DohAnswer> {
    const url = new URL(this.options.dohUrl);
    url.searchParams.set("name", name);
    url.searchParams.set("type", type);
    const response = await request(url, { headers: { accept: "application/dns-json" }, signal: AbortSignal.timeout(10_000) });
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new Error("bad status");
    }
    return (await response.body.json()) as DohAnswer;
  }

  private async mxViaDoh(domain: string): Promise<{ exchange: string; priority: number }[]> {
    let answer: DohAnswer;
    try {
      answer = await this.dohQuery(domain, "MX");
    } catch {
      throw new NextHopError(false, "MX look-up failed");
    }
    if (answer.Status === 3) throw new NextHopError(true, "recipient domain does not exist");
    if (answer.Status !== 0) throw new NextHopError(false, "MX look-up failed");
    const out: { exchange: string; priority: number }[] = [];
    for (const record of answer.Answer ?? []) {
      if (record.type !== DOH_TYPES.MX) continue;
      const [priority, exchange] = record.data.trim().split(/\s+/);
      out.push({ priority: Number(priority), exchange: exchange ?? "" });
    }
    return out;
  }
}
