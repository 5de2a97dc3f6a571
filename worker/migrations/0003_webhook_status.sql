-- Delivery status per webhook, reported by storage nodes over the tunnel
-- ("webhook.status"): shown to the owner by the alias API. Never holds a
-- request or response body: a failure is an HTTP status ("HTTP 503") or an
-- error class ("TimeoutError").
CREATE TABLE webhook_status (
  webhook_id TEXT PRIMARY KEY REFERENCES alias_webhooks(id) ON DELETE CASCADE,
  last_success_at TEXT,
  last_failure_at TEXT,
  last_failure TEXT,
  -- Deliveries the node gave up on (permanent refusal or retries past the deadline).
  abandoned_count INTEGER NOT NULL DEFAULT 0,
  last_abandoned_at TEXT
);
