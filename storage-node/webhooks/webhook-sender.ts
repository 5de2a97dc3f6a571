/**
 * Delivers one webhook job: POST of the message JSON to the alias's URL.
 *
 * Invariants:
 * - `X-Webhook-Signature` = hex HMAC-SHA-256 of the exact body bytes, keyed
 *   with the webhook's signing key (base64-decoded). `Idempotency-Key` (and
 *   `X-Webhook-Delivery`) carry the job id, stable across retries and restarts.
 * - Success is any 2xx; anything else, a timeout or a network error is
 *   retried by the queue. Redirects are not followed (a 3xx is a failure).
 * - Non-public targets (loopback, private, link-local, …) are refused for
 *   good unless `allowPrivate`, checked on the address actually dialled.
 * - Neither the body nor the signing key is ever logged; errors name only
 *   the class of failure.
 */
import { createHmac } from "node:crypto";
import { isIP } from "node:net";
import { Agent, request } from "undici";
import { fromBase64 } from "../../shared/crypto/encoding.ts";
import { WEBHOOK_LIMITS } from "../limits.ts";
import type { WebhookTargetJobData } from "../mx/delivery.ts";
import type { JobOutcomeData } from "../spool/job-queue.ts";
import type { SpoolJobData, SpooledMessageData } from "../spool/spool-database.ts";
import { guardedLookup, isPublicAddress, TargetRefusedError } from "./target-address.ts";
import { buildWebhookPayload } from "./webhook-payload.ts";

export interface WebhookSenderOptions {
  allowPrivate: boolean;
  timeoutMs?: number;
}

export function signWebhookBody(body: Uint8Array | string, signingKey: string): string {
  return createHmac("sha256", fromBase64(signingKey)).update(body).digest("hex");
}

function refused(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof TargetRefusedError || (e as { code?: string }).code === "ESEALBOXREFUSED") return true;
  }
  return false;
}

export class WebhookSender {
  private readonly options: WebhookSenderOptions;
  private readonly agent: Agent;

  constructor(options: WebhookSenderOptions) {
    this.options = options;
    this.agent = new Agent({
      connect: options.allowPrivate ? { timeout: 10_000 } : { timeout: 10_000, lookup: guardedLookup },
      keepAliveTimeout: 10_000,
    });
  }

  async send(job: SpoolJobData, message: SpooledMessageData, signal?: AbortSignal): Promise<JobOutcomeData> {
    let target: WebhookTargetJobData;
    let url: URL;
    try {
      target = JSON.parse(job.target) as WebhookTargetJobData;
      url = new URL(target.url);
    } catch {
      return { kind: "fail", reason: "malformed webhook job" };
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return { kind: "fail", reason: "webhook URL scheme refused" };
    if (!this.options.allowPrivate) {
      if (url.protocol !== "https:") return { kind: "fail", reason: "webhook URL must be https" };
      const host = url.hostname.replace(/^\[|\]$/g, "");
      if (isIP(host) !== 0 && !isPublicAddress(host)) return { kind: "fail", reason: "webhook target is not a public address" };
      if (host === "localhost" || host.endsWith(".localhost")) return { kind: "fail", reason: "webhook target is not a public address" };
    }
    const body = JSON.stringify(
      buildWebhookPayload({
        deliveryId: job.id,
        alias: target.alias,
        raw: message.raw,
        envelope: message.envelope,
        authResults: message.authResults,
        receivedAt: message.receivedAt,
      }),
    );
    let signature: string;
    try {
      signature = signWebhookBody(body, target.signingKey);
    } catch {
      return { kind: "fail", reason: "webhook signing key is malformed" };
    }
    try {
      const response = await request(url, {
        method: "POST",
        dispatcher: this.agent,
        headers: {
          "content-type": "application/json; charset=utf-8",
          "user-agent": "Sealbox-Webhook/1",
          "x-webhook-signature": signature,
          "x-webhook-id": target.webhookId,
          "x-webhook-delivery": job.id,
          "idempotency-key": job.id,
        },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs ?? WEBHOOK_LIMITS.requestTimeoutMs), ...(signal ? [signal] : [])]),
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) return { kind: "done" };
      return { kind: "retry", reason: `HTTP ${response.statusCode}` };
    } catch (error) {
      if (refused(error)) return { kind: "fail", reason: "webhook target is not a public address" };
      return { kind: "retry", reason: error instanceof Error ? error.name : "network error" };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
