/**
 * The DNS resolver of inbound checks (SPF, DKIM, DMARC, ARC) and of MX
 * look-ups for forwarding.
 *
 * Invariants:
 * - `dnsServers` (settings) points it at other servers ("ip" or "ip:port",
 *   comma-separated) so tests answer from a local stub; empty = the system's.
 * - Every query is bounded by `MX_LIMITS.dnsTimeoutMs` × `dnsTries`; a DNS
 *   failure yields mailauth's temperror, never a stuck transaction.
 */
import { promises as dns } from "node:dns";
import { MX_LIMITS } from "../limits.ts";

export type DnsResolveFunction = (name: string, rrtype: string) => Promise<unknown>;

export interface DnsResolverData {
  resolve: DnsResolveFunction;
  resolveMx(domain: string): Promise<{ exchange: string; priority: number }[]>;
}

export function createDnsResolver(dnsServers: string): DnsResolverData {
  const resolver = new dns.Resolver({ timeout: MX_LIMITS.dnsTimeoutMs, tries: MX_LIMITS.dnsTries });
  const servers = dnsServers
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (servers.length > 0) resolver.setServers(servers);
  return {
    resolve: (name, rrtype) => resolver.resolve(name, rrtype),
    resolveMx: (domain) => resolver.resolveMx(domain),
  };
}
