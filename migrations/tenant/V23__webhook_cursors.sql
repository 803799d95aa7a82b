-- First attempts follow the outbox in the order events committed: each hook
-- keeps the last event it has handled (`handled_through`, an event's `seq`) instead
-- of a delivery row written per event and hook inside every change's
-- transaction. `webhook_deliveries` now holds only retries and test events.
--
-- `seq` is an INTEGER PRIMARY KEY (VACUUM keeps it, unlike a bare rowid)
-- with AUTOINCREMENT (never handed out twice, even after the newest event
-- is deleted), so a hook's `handled_through` never skips a later event.
ALTER TABLE webhook_events RENAME TO webhook_events_v15;
CREATE TABLE webhook_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL
);
INSERT INTO webhook_events (id, type, created_at, data)
    SELECT id, type, created_at, data FROM webhook_events_v15 ORDER BY created_at, id;

-- Deliveries point at their event by `seq`.
ALTER TABLE webhook_deliveries ADD COLUMN event_seq INTEGER;
CREATE INDEX webhook_events_id_v23 ON webhook_events (id);
UPDATE webhook_deliveries SET event_seq =
    (SELECT e.seq FROM webhook_events e WHERE e.id = webhook_deliveries.event_id);
DROP INDEX webhook_events_id_v23;
DELETE FROM webhook_deliveries WHERE event_seq IS NULL;
DROP TABLE webhook_events_v15;
DROP INDEX IF EXISTS webhook_deliveries_event;
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);

-- Every event already written has its delivery rows (pending ones go on
-- as retries); hooks follow the outbox from here.
ALTER TABLE webhooks ADD COLUMN handled_through INTEGER NOT NULL DEFAULT 0;
UPDATE webhooks SET handled_through = (SELECT coalesce(max(seq), 0) FROM webhook_events);

-- The delivery log kept in the order it is read (a hook's attempts, newest
-- first): one B-tree written per attempt instead of a table, its id index
-- and the (hook_id, at) index.
CREATE TABLE webhook_attempts_v23 (
    hook_id TEXT NOT NULL,
    at TEXT NOT NULL,
    id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT,
    response TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (hook_id, at, id)
) WITHOUT ROWID;
INSERT INTO webhook_attempts_v23 (hook_id, at, id, event_id, event_type, attempt, status_code,
        latency_ms, error, response)
    SELECT hook_id, at, id, event_id, event_type, attempt, status_code, latency_ms, error,
        response
    FROM webhook_attempts;
DROP TABLE webhook_attempts;
ALTER TABLE webhook_attempts_v23 RENAME TO webhook_attempts;
