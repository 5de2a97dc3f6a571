/**
 * The DNS resolver of inbound checks (SPF, DKIM, DMARC, ARC) and of the
 * outbound look-ups of forwarding (MX, the A/AAAA addresses of next hops and
 * of MTA-STS policy hosts, MTA-STS TXT records).
 *
 * Invariants:
 * - `dnsServers` (settings) points it at other servers ("ip" or "ip:port",
 *   comma-separated) so tests answer from a local stub; empty = the system's.
 * - Every query is bounded by `MX_LIMITS.dnsTimeoutMs` × `dnsTries`; a DNS
 *   failure yields mailauth's temperror, never a stuck transaction.
 * - `resolveAddresses` answers [] only when the name exists without
 *   addresses or does not exist (NODATA / NXDOMAIN); any other failure
 *   rejects, so callers can tell "no server" from "DNS is down".
 */
import { promises as dns } from "node:dns";
import { MX_LIMITS } from "../limits.ts";

export type DnsResolveFunction = (name: string, rrtype: string) => Promise<unknown>;

export interface DnsResolverData {
  resolve: DnsResolveFunction;
  resolveMx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  /** IPv4 then IPv6 addresses of a host name (RFC 5321 §5.1: A and AAAA). */
  resolveAddresses(host: string): Promise<string[]>;
}

const ABSENT = new Set(["ENODATA", "ENOTFOUND"]);

export function createDnsResolver(dnsServers: string): DnsResolverData {
  const resolver = new dns.Resolver({ timeout: MX_LIMITS.dnsTimeoutMs, tries: MX_LIMITS.dnsTries });
  const servers = dnsServers
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (servers.length > 0) resolver.setServers(servers);
  const family = async (lookup: Promise<string[]>): Promise<string[] | Error> => {
    try {
      return await lookup;
    } catch (error) {
      if (ABSENT.has((error as { code?: string }).code ?? "")) return [];
      return error instanceof Error ? error : new Error("DNS look-up failed");
    }
  };
  return {
    resolve: (name, rrtype) => resolver.resolve(name, rrtype),
    resolveMx: (domain) => resolver.resolveMx(domain),
    async resolveAddresses(host) {
      const [v4, v6] = await Promise.all([family(resolver.resolve4(host)), family(resolver.resolve6(host))]);
      // One family failing while the other answered is still an answer.
      if (v4 instanceof Error && v6 instanceof Error) throw v4;
      return [...(v4 instanceof Error ? [] : v4), ...(v6 instanceof Error ? [] : v6)];
    },
  };
}
