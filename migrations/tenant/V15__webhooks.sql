-- Outbound webhooks: the organization's subscriptions; signing secrets live
-- in the vault (control database), referenced by `secret_id`.
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL,                 -- JSON array of event types, or ["*"]
    enabled INTEGER NOT NULL DEFAULT 1,
    secret_id TEXT NOT NULL,
    secret_last4 TEXT NOT NULL,
    -- Set at the first failed delivery after a success; a hook failing for
    -- three days is disabled (disabled_reason says why).
    failing_since TEXT,
    disabled_reason TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The event outbox: written in the same transaction as the change, only
-- while some enabled hook subscribes to the event's type.
CREATE TABLE IF NOT EXISTS webhook_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL
);

-- One delivery of an event to one hook; the delivery job takes the pending
-- ones whose time has come.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    hook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (hook_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_event ON webhook_deliveries (event_id);

-- The delivery log: every attempt, newest first per hook.
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id TEXT PRIMARY KEY,
    hook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at TEXT NOT NULL,
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT,
    response TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS webhook_attempts_hook ON webhook_attempts (hook_id, at DESC);
CREATE INDEX IF NOT EXISTS webhooks_enabled ON webhooks (enabled);

-- Inbound webhooks: event ids already received per endpoint (a replay is
-- refused; kept a week, far past the 5-minute timestamp window), and which
-- record an outside system's id names, per kind.
CREATE TABLE IF NOT EXISTS inbound_events (
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE TABLE IF NOT EXISTS external_ids (
    kind TEXT NOT NULL,
    external_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (kind, external_id)
);
