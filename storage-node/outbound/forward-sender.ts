/**
 * Delivers one forward job over SMTP to the recipient domain's next hops.
 *
 * Invariants:
 * - The envelope sender is SRS-rewritten into the alias's domain (the null
 *   sender of a bounce stays null); the message bytes are the stored ones,
 *   DKIM-signed as the alias's domain when a key is configured.
 * - A 5xx reply or a permanent DNS answer fails the job for good (→ DSN); a
 *   4xx, a timeout, a network or TLS error moves to the next address / hop
 *   (RFC 5321 §5.1: every address of every MX, by preference), and when
 *   every one failed the queue retries later.
 * - TLS by the recipient domain's MTA-STS policy (RFC 8461 §5), for hosts
 *   found in DNS (a static route is a smart host: no policy applies):
 *   · enforce: only MX hosts matching the policy, only over STARTTLS with a
 *     certificate valid for the MX host name (`ca` or the system's CAs);
 *     no plaintext fallback — failures are retried, and in the end bounced;
 *   · testing: the same checks, but a failure is logged and the message
 *     goes out as without a policy;
 *   · none / no policy: opportunistic STARTTLS (RFC 7435), certificate not
 *     verified, as MTAs do without DANE/MTA-STS.
 * - ARC (RFC 8617): with a DKIM key, forwarded mail (not our DSNs) is also
 *   ARC-sealed as the alias's domain, carrying the Authentication-Results
 *   this MX recorded at receipt, so the final receiver can trust the
 *   original SPF/DKIM results. Sealed only when the chain at receipt was
 *   absent (cv=none) or valid (cv=pass) (§5.1.2); a sealing error sends the
 *   message unsealed rather than not at all.
 * - Logs carry the recipient domain and the failure class, never addresses
 *   or content.
 */
import { isIP } from "node:net";
import { sealMessage } from "mailauth";
import nodemailer from "nodemailer";
import type { Logger } from "../log.ts";
import { OUTBOUND_LIMITS } from "../limits.ts";
import type { ForwardTargetData } from "../mx/delivery.ts";
import type { JobOutcomeData } from "../spool/job-queue.ts";
import type { SpoolJobData, SpooledMessageData } from "../spool/spool-database.ts";
import { mxMatchesPolicy, type MtaStsResolver } from "./mta-sts.ts";
import { NextHopError, type NextHopData, type NextHopResolver } from "./next-hops.ts";
import type { Srs } from "./srs.ts";

export interface ForwardJobTargetData extends ForwardTargetData {
  /** A DSN we generated: sent from the null sender, without SRS. */
  bounce?: boolean;
}

export interface DkimKeyData {
  selector: string;
  privateKey: string;
}

export interface ForwardSenderOptions {
  hostname: string;
  srs: Srs;
  hops: NextHopResolver;
  dkim: DkimKeyData | null;
  logger: Logger;
  /** MTA-STS policy discovery; null = every delivery is opportunistic. */
  mtaSts?: MtaStsResolver | null;
  /** PEM CA bundle for verifying MX certificates under an MTA-STS policy; null = the system's. */
  ca?: string | null;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

interface SmtpSendError {
  responseCode?: number;
  response?: string;
  code?: string;
  /** The socket's own error code when nodemailer relabelled it (ESOCKET). */
  originalCode?: string;
}

/** OpenSSL/Node codes of a failed handshake or certificate check (as opposed to TCP failures). */
const TLS_ERROR_CODES = /CERT|SELF_SIGNED|UNABLE_TO_|HOSTNAME|PURPOSE|^ERR_TLS_|^ERR_SSL_/;

function isTlsFailure(e: SmtpSendError): boolean {
  return e.code === "ETLS" || TLS_ERROR_CODES.test(e.originalCode ?? "");
}

type AttemptResult = { kind: "done" } | { kind: "permanent"; reason: string } | { kind: "temporary"; reason: string; tls: boolean };

interface AttemptData {
  hop: NextHopData;
  address: string;
  /** Require STARTTLS and a certificate valid for the hop's host name. */
  verified: boolean;
  from: string;
  to: string;
  raw: Buffer;
  dkimDomain: string | null;
  signal?: AbortSignal;
}

export class ForwardSender {
  private readonly options: ForwardSenderOptions;

  constructor(options: ForwardSenderOptions) {
    this.options = options;
  }

  async send(job: SpoolJobData, message: SpooledMessageData, signal?: AbortSignal): Promise<JobOutcomeData> {
    let target: ForwardJobTargetData;
    try {
      target = JSON.parse(job.target) as ForwardJobTargetData;
    } catch {
      return { kind: "fail", reason: "malformed forward job" };
    }
    const aliasDomain = domainOf(target.alias);
    const domain = domainOf(target.to);
    const from = target.bounce ? "" : this.options.srs.forward(message.envelope.mailFrom, aliasDomain);
    let hops: NextHopData[];
    try {
      hops = await this.options.hops.resolve(domain);
    } catch (error) {
      if (error instanceof NextHopError) return error.permanent ? { kind: "fail", reason: error.message } : { kind: "retry", reason: error.message };
      return { kind: "retry", reason: "next hop look-up failed" };
    }
    const policy = hops.length > 0 && hops[0].source !== "static" && this.options.mtaSts ? await this.options.mtaSts.policyFor(domain) : null;
    const checked = policy !== null && policy.mode !== "none";
    const enforce = policy?.mode === "enforce";
    if (checked) {
      const matching = hops.filter((hop) => mxMatchesPolicy(hop.host, policy.mx));
      if (matching.length < hops.length) {
        this.options.logger.warn({ domain, mode: policy.mode, unmatched: hops.length - matching.length }, "MX hosts outside the MTA-STS policy");
      }
      if (enforce) {
        if (matching.length === 0) return { kind: "retry", reason: "4.7.5 no MX host matches the recipient domain's MTA-STS policy" };
        hops = matching;
      }
    }
    const stored = Buffer.from(message.raw.buffer, message.raw.byteOffset, message.raw.byteLength);
    const raw = this.options.dkim && !target.bounce ? await this.seal(stored, message.authResults, aliasDomain, this.options.dkim) : stored;
    const base = { from, to: target.to, raw, dkimDomain: this.options.dkim && !target.bounce ? aliasDomain : null, signal };
    let last = "no next hop";
    for (const hop of hops) {
      let addresses: string[];
      try {
        addresses = await this.options.hops.addresses(hop);
      } catch (error) {
        last = error instanceof NextHopError ? error.message : "address look-up failed";
        continue;
      }
      if (addresses.length === 0) {
        if (hop.source === "implicit") return { kind: "fail", reason: "recipient domain has no MX and no address" };
        last = "MX host has no address";
        continue;
      }
      for (const address of addresses) {
        if (signal?.aborted) return { kind: "retry", reason: "shutting down" };
        let result = await this.attempt({ ...base, hop, address, verified: checked });
        if (result.kind === "temporary" && result.tls && !enforce && checked) {
          // RFC 8461 §5: testing mode reports the failure but still delivers.
          this.options.logger.warn({ domain, mode: "testing" }, "MTA-STS validation failed; delivering without it");
          result = await this.attempt({ ...base, hop, address, verified: false });
        }
        if (result.kind === "done") return { kind: "done" };
        if (result.kind === "permanent") return { kind: "fail", reason: result.reason };
        last = result.tls && enforce ? `4.7.5 TLS to the MX host failed the MTA-STS policy: ${result.reason}` : result.reason;
      }
    }
    return { kind: "retry", reason: last };
  }

  /** The message with an ARC set of this hop in front, or unchanged when it must not or cannot be sealed. */
  private async seal(raw: Buffer, authResultsJson: string, domain: string, key: DkimKeyData): Promise<Buffer> {
    let recorded: { arc?: string; header?: string };
    try {
      recorded = JSON.parse(authResultsJson) as { arc?: string; header?: string };
    } catch {
      return raw;
    }
    const cv = recorded.arc === "pass" || recorded.arc === "none" ? recorded.arc : null;
    // The value of the Authentication-Results field the MX wrote (unfolded), without its name.
    const field = /(?:^|\r\n)Authentication-Results:[ \t]*((?:[^\r\n]|\r\n[ \t])*)/i.exec(recorded.header ?? "");
    if (cv === null || !field) return raw;
    try {
      const headers = await sealMessage(raw, {
        signingDomain: domain,
        selector: key.selector,
        privateKey: key.privateKey,
        authResults: field[1].replace(/\r\n[ \t]+/g, " ").trim(),
        cv,
      } as Parameters<typeof sealMessage>[1]);
      return headers.length > 0 ? Buffer.concat([headers, raw]) : raw;
    } catch {
      this.options.logger.warn({ domain }, "ARC sealing failed; forwarding unsealed");
      return raw;
    }
  }

  private async attempt(data: AttemptData): Promise<AttemptResult> {
    const servername = isIP(data.hop.host) === 0 ? data.hop.host : undefined;
    const transport = nodemailer.createTransport({
      host: data.address,
      port: data.hop.port,
      secure: false,
      name: this.options.hostname,
      requireTLS: data.verified,
      tls: data.verified
        ? { rejectUnauthorized: true, servername, minVersion: "TLSv1.2", ...(this.options.ca ? { ca: this.options.ca } : {}) }
        : { rejectUnauthorized: false, servername },
      connectionTimeout: OUTBOUND_LIMITS.connectTimeoutMs,
      greetingTimeout: OUTBOUND_LIMITS.connectTimeoutMs,
      socketTimeout: OUTBOUND_LIMITS.socketTimeoutMs,
      ...(this.options.dkim && data.dkimDomain
        ? { dkim: { domainName: data.dkimDomain, keySelector: this.options.dkim.selector, privateKey: this.options.dkim.privateKey } }
        : {}),
    });
    // Shutting down: drop the connection; the job stays queued and runs after the restart.
    const onAbort = () => transport.close();
    data.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await transport.sendMail({ envelope: { from: data.from, to: [data.to] }, raw: data.raw });
      return { kind: "done" };
    } catch (error) {
      const e = error as SmtpSendError;
      const tls = isTlsFailure(e);
      const reply = tls ? "TLS could not be established or verified" : (e.response ?? (error instanceof Error ? error.message : "delivery failed"));
      const reason = reply.replace(/[\r\n]+/g, " ").slice(0, 300);
      // A refused STARTTLS may come with a 5xx reply: a TLS failure, never a permanent refusal of the message.
      if (!tls && typeof e.responseCode === "number" && e.responseCode >= 500) return { kind: "permanent", reason };
      return { kind: "temporary", reason, tls };
    } finally {
      data.signal?.removeEventListener("abort", onAbort);
      transport.close();
    }
  }
}
