/**
 * Delivers one forward job over SMTP to the recipient domain's next hops.
 *
 * Invariants:
 * - The envelope sender is SRS-rewritten into the alias's domain (the null
 *   sender of a bounce stays null); the message bytes are the stored ones,
 *   DKIM-signed as the alias's domain when a key is configured.
 * - A 5xx reply or a permanent DNS answer fails the job for good (→ DSN); a
 *   4xx, a timeout or a network error moves to the next hop, and when every
 *   hop failed the queue retries later.
 * - Opportunistic STARTTLS (RFC 7435): used whenever offered, certificate
 *   not verified, as MTAs do without DANE/MTA-STS.
 */
import nodemailer from "nodemailer";
import type { Logger } from "../log.ts";
import { OUTBOUND_LIMITS } from "../limits.ts";
import type { ForwardTargetData } from "../mx/delivery.ts";
import type { JobOutcomeData } from "../spool/job-queue.ts";
import type { SpoolJobData, SpooledMessageData } from "../spool/spool-database.ts";
import { NextHopError, type NextHopResolver } from "./next-hops.ts";
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
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

interface SmtpSendError {
  responseCode?: number;
  response?: string;
  code?: string;
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
    const from = target.bounce ? "" : this.options.srs.forward(message.envelope.mailFrom, aliasDomain);
    let hops;
    try {
      hops = await this.options.hops.resolve(domainOf(target.to));
    } catch (error) {
      if (error instanceof NextHopError) return error.permanent ? { kind: "fail", reason: error.message } : { kind: "retry", reason: error.message };
      return { kind: "retry", reason: "next hop look-up failed" };
    }
    let last = "no next hop";
    for (const hop of hops) {
      if (signal?.aborted) return { kind: "retry", reason: "shutting down" };
      const transport = nodemailer.createTransport({
        host: hop.host,
        port: hop.port,
        secure: false,
        name: this.options.hostname,
        tls: { rejectUnauthorized: false },
        connectionTimeout: OUTBOUND_LIMITS.connectTimeoutMs,
        greetingTimeout: OUTBOUND_LIMITS.connectTimeoutMs,
        socketTimeout: OUTBOUND_LIMITS.socketTimeoutMs,
        ...(this.options.dkim && !target.bounce
          ? { dkim: { domainName: aliasDomain, keySelector: this.options.dkim.selector, privateKey: this.options.dkim.privateKey } }
          : {}),
      });
      // Shutting down: drop the connection; the job stays queued and runs after the restart.
      const onAbort = () => transport.close();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        await transport.sendMail({ envelope: { from, to: [target.to] }, raw: Buffer.from(message.raw.buffer, message.raw.byteOffset, message.raw.byteLength) });
        return { kind: "done" };
      } catch (error) {
        const e = error as SmtpSendError;
        const reply = (e.response ?? (error instanceof Error ? error.message : "delivery failed")).replace(/[\r\n]+/g, " ").slice(0, 300);
        if (typeof e.responseCode === "number" && e.responseCode >= 500) return { kind: "fail", reason: reply };
        last = reply;
      } finally {
        signal?.removeEventListener("abort", onAbort);
        transport.close();
      }
    }
    return { kind: "retry", reason: last };
  }
}
