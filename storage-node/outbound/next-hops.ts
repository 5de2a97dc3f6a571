/**
 * Where to deliver mail for a domain (RFC 5321 §5.1).
 *
 * Invariants:
 * - Static routes from the settings win ("domain=host:port;*=host:port"; "*"
 *   matches every domain) — so tests and smart-host setups deliver to a
 *   chosen server without DNS.
 * - Otherwise MX records (DNS-over-HTTPS when `dohUrl` is set, else the
 *   configured/system resolver), lowest preference first; no MX record means
 *   the domain itself (implicit MX); a null MX ("." , RFC 7505) means the
 *   domain accepts no mail: a permanent failure.
 * - A DNS failure is temporary (the queue retries); only "no such domain"
 *   and null MX are permanent.
 */
import { request } from "undici";
import type { DnsResolverData } from "../mx/dns-resolver.ts";

export interface NextHopData {
  host: string;
  port: number;
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

export type StaticRoutes = Map<string, NextHopData>;

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
  port?: number;
}

interface DohAnswer {
  Status: number;
  Answer?: { type: number; data: string }[];
}

export class NextHopResolver {
  private readonly options: NextHopResolverOptions;

  constructor(options: NextHopResolverOptions) {
    this.options = options;
  }

  async resolve(domain: string): Promise<NextHopData[]> {
    const key = domain.toLowerCase();
    const fixed = this.options.staticRoutes.get(key) ?? this.options.staticRoutes.get("*");
    if (fixed) return [fixed];
    const records = this.options.dohUrl ? await this.viaDoh(key) : await this.viaDns(key);
    if (records.length === 1 && (records[0].exchange === "" || records[0].exchange === ".")) {
      throw new NextHopError(true, "domain publishes a null MX");
    }
    const port = this.options.port ?? 25;
    if (records.length === 0) return [{ host: key, port }];
    return records.sort((a, b) => a.priority - b.priority).map((r) => ({ host: r.exchange.replace(/\.$/, ""), port }));
  }

  private async viaDns(domain: string): Promise<{ exchange: string; priority: number }[]> {
    try {
      return await this.options.resolver.resolveMx(domain);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ENODATA") return [];
      if (code === "ENOTFOUND") throw new NextHopError(true, "recipient domain does not exist");
      throw new NextHopError(false, "MX look-up failed");
    }
  }

  private async viaDoh(domain: string): Promise<{ exchange: string; priority: number }[]> {
    const url = new URL(this.options.dohUrl);
    url.searchParams.set("name", domain);
    url.searchParams.set("type", "MX");
    let answer: DohAnswer;
    try {
      const response = await request(url, { headers: { accept: "application/dns-json" }, signal: AbortSignal.timeout(10_000) });
      if (response.statusCode !== 200) {
        await response.body.dump();
        throw new Error("bad status");
      }
      answer = (await response.body.json()) as DohAnswer;
    } catch {
      throw new NextHopError(false, "MX look-up failed");
    }
    if (answer.Status === 3) throw new NextHopError(true, "recipient domain does not exist");
    if (answer.Status !== 0) throw new NextHopError(false, "MX look-up failed");
    const out: { exchange: string; priority: number }[] = [];
    for (const record of answer.Answer ?? []) {
      if (record.type !== 15) continue;
      const [priority, exchange] = record.data.trim().split(/\s+/);
      out.push({ priority: Number(priority), exchange: exchange ?? "" });
    }
    return out;
  }
}
