-- The platform's audit log (sign-ins, account security, backups, closures),
-- the same shape as an organization's (tenant V14): append-only, each entry's
-- hash covers its content and the previous entry's hash (src/audit/).
-- Applying it twice is harmless.
-- `audit_chain` holds where the kept chain starts after a retention purge.
CREATE TABLE IF NOT EXISTS audit_log (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    at           TEXT NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    actor_label  TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_kind  TEXT,
    target_id    TEXT,
    target_label TEXT,
    ip           TEXT,
    user_agent   TEXT,
    before       TEXT,
    after        TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log (action, seq);
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target_id, seq);

CREATE TABLE IF NOT EXISTS audit_chain (
    only       INTEGER PRIMARY KEY CHECK (only = 1),
    start_seq  INTEGER NOT NULL,
    start_hash TEXT NOT NULL
);
INSERT OR IGNORE INTO audit_chain (only, start_seq, start_hash)
VALUES (1, 1, '0000000000000000000000000000000000000000000000000000000000000000');

-- No statement edits an entry; only entries before the chain's start (moved
-- there by the retention purge first) can be deleted.
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
WHEN old.seq >= (SELECT start_seq FROM audit_chain WHERE only = 1)
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- The per-organization API request log (src/audit/requests.rs), kept 30 days.
-- Here rather than in each organization's database: requests are written in
-- batches across organizations by one job.
CREATE TABLE IF NOT EXISTS api_requests (
    seq         INTEGER PRIMARY KEY,
    org_id      TEXT NOT NULL,
    at          TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    actor_label TEXT NOT NULL,
    method      TEXT NOT NULL,
    route       TEXT NOT NULL,
    status      INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    ip          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_requests_org ON api_requests (org_id, seq);
CREATE INDEX IF NOT EXISTS api_requests_at ON api_requests (at);
