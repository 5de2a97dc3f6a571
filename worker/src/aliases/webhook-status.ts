/**
 * Webhook delivery status as storage nodes report it ("webhook.status" over
 * the tunnel), and as the alias API shows it to the owner.
 *
 * Invariants:
 * - A report for a webhook that no longer exists is dropped (its status row
 *   would have no owner); deleting a webhook deletes its status (cascade).
 * - Times are the edge's clock at receipt. A failure is a short class
 *   ("HTTP 503", "TimeoutError"), never a body; it is cut to
 *   `WEBHOOK_FAILURE_TEXT_MAX` characters of printable ASCII.
 */
import { nowIso } from "../ids.ts";

export const WEBHOOK_FAILURE_TEXT_MAX = 120;

export type WebhookOutcome = "success" | "failure" | "abandoned";

export interface WebhookStatusData {
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  /** The class of the last failure: "HTTP 503", "TimeoutError", … */
  lastFailure: string | null;
  /** Deliveries given up for good. */
  abandoned: number;
  lastAbandonedAt: string | null;
}

export interface WebhookStatusRow {
  last_success_at: string | null;
  last_failure_at: string | null;
  last_failure: string | null;
  abandoned_count: number | null;
  last_abandoned_at: string | null;
}

/** Columns to select (with `s` the webhook_status alias) to build a WebhookStatusData. */
export const WEBHOOK_STATUS_COLUMNS = "s.last_success_at, s.last_failure_at, s.last_failure, s.abandoned_count, s.last_abandoned_at";

export function toWebhookStatus(row: WebhookStatusRow): WebhookStatusData {
  return {
    lastSuccessAt: row.last_success_at ?? null,
    lastFailureAt: row.last_failure_at ?? null,
    lastFailure: row.last_failure ?? null,
    abandoned: row.abandoned_count ?? 0,
    lastAbandonedAt: row.last_abandoned_at ?? null,
  };
}

export const EMPTY_WEBHOOK_STATUS: WebhookStatusData = { lastSuccessAt: null, lastFailureAt: null, lastFailure: null, abandoned: 0, lastAbandonedAt: null };

export async function recordWebhookStatus(db: D1Database, webhookId: string, outcome: WebhookOutcome, error?: string): Promise<void> {
  const now = nowIso();
  const failure = (error ?? "delivery failed").replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, WEBHOOK_FAILURE_TEXT_MAX) || "delivery failed";
  const upsert = (columns: string, values: unknown[], update: string) =>
    db
      .prepare(`INSERT INTO webhook_status (webhook_id, ${columns}) SELECT id, ${values.map(() => "?").join(", ")} FROM alias_webhooks WHERE id = ? ON CONFLICT(webhook_id) DO UPDATE SET ${update}`)
      .bind(...values, webhookId)
      .run();
  if (outcome === "success") {
    await upsert("last_success_at", [now], "last_success_at = excluded.last_success_at");
  } else if (outcome === "failure") {
    await upsert("last_failure_at, last_failure", [now, failure], "last_failure_at = excluded.last_failure_at, last_failure = excluded.last_failure");
  } else {
    await upsert(
      "last_failure_at, last_failure, abandoned_count, last_abandoned_at",
      [now, failure, 1, now],
      "last_failure_at = excluded.last_failure_at, last_failure = excluded.last_failure, abandoned_count = abandoned_count + 1, last_abandoned_at = excluded.last_abandoned_at",
    );
  }
}
