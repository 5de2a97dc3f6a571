/**
 * Sender authentication at the MX: SPF (RFC 7208), DKIM (RFC 6376), DMARC
 * (RFC 7489) and ARC (RFC 8617), computed by mailauth, recorded in an
 * Authentication-Results header (RFC 8601) and a Received-SPF header.
 *
 * Invariants:
 * - The checks only record results: they never reject mail (policy belongs to
 *   the reader of the results: the mail client, the webhook consumer).
 * - A failure inside the checks (DNS down, a bug in a library) yields
 *   `temperror` results, never a lost or refused message.
 */
import { authenticate } from "mailauth";
import type { DnsResolverData } from "./dns-resolver.ts";

export interface AuthenticationInputData {
  raw: Uint8Array;
  ip: string;
  helo: string;
  mailFrom: string;
  hostname: string;
}

export interface AuthenticationResultsData {
  /** Header lines to prepend, CRLF-terminated. */
  headers: string;
  spf: string;
  dkim: { domain: string; result: string }[];
  dmarc: string;
  arc: string;
}

/** The authserv-id this MX writes into Authentication-Results: its hostname. */
export function authservId(hostname: string): string {
  return hostname.replace(/[^A-Za-z0-9.-]/g, "") || "localhost";
}

export async function authenticateMessage(input: AuthenticationInputData, resolver: DnsResolverData): Promise<AuthenticationResultsData> {
  const mta = authservId(input.hostname);
  try {
    const result = await authenticate(Buffer.from(input.raw.buffer, input.raw.byteOffset, input.raw.byteLength), {
      ip: input.ip,
      helo: input.helo,
      sender: input.mailFrom,
      mta,
      resolver: resolver.resolve as (name: string, rrtype: string) => Promise<string[][] | string[]>,
      disableBimi: true,
    });
    const arc = result.arc ? result.arc.status.result : "none";
    // mailauth leaves ARC out of the header when there is no chain; record "none" explicitly
    // (its Authentication-Results field is always the last header it returns).
    const headers = /\r\n arc=/.test(result.headers) ? result.headers : result.headers.replace(/\r\n$/, `;\r\n arc=${arc}\r\n`);
    return {
      headers,
      spf: result.spf ? result.spf.status.result : "none",
      dkim: result.dkim.results.map((r) => ({ domain: r.signingDomain, result: r.status.result })),
      dmarc: result.dmarc ? result.dmarc.status.result : "none",
      arc,
    };
  } catch {
    return {
      headers: `Authentication-Results: ${mta}; spf=temperror; dkim=temperror; dmarc=temperror; arc=temperror\r\n`,
      spf: "temperror",
      dkim: [],
      dmarc: "temperror",
      arc: "temperror",
    };
  }
}
