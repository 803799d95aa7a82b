-- Restriction of processing (a privacy request, GDPR art. 18): a restricted
-- record is kept but read-only, left out of exports and webhooks, and not
-- purged from the trash, until an admin lifts the restriction. Record ids
-- are unique across kinds, so one table serves every kind.

-- (The tables are created only if missing and the log is rebuilt from itself,
-- so the upgrade tests can apply it again once they drop the birthday column.)
CREATE TABLE IF NOT EXISTS record_restrictions (
    record_id     TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    restricted_at TEXT NOT NULL,
    restricted_by TEXT NOT NULL       -- a user id, or api_key:<id>
) STRICT, WITHOUT ROWID;

-- The request log learns two actions: restrict and lift. SQLite cannot
-- change a CHECK, so the table is rebuilt with its rows.
CREATE TABLE IF NOT EXISTS privacy_requests_v18 (
    id         TEXT PRIMARY KEY,
    action     TEXT NOT NULL
               CHECK (action IN ('find', 'export', 'erase', 'restrict', 'lift')),
    subject    TEXT NOT NULL,               -- sha256 of org id + normalized email/phone
    handled_by TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    summary    TEXT NOT NULL DEFAULT '{}'   -- JSON counts of what was found, erased or restricted
) STRICT;
INSERT OR IGNORE INTO privacy_requests_v18 (id, action, subject, handled_by, handled_at, summary)
    SELECT id, action, subject, handled_by, handled_at, summary FROM privacy_requests;
DROP TABLE privacy_requests;
ALTER TABLE privacy_requests_v18 RENAME TO privacy_requests;
CREATE INDEX IF NOT EXISTS privacy_requests_by_time ON privacy_requests(handled_at, id);

-- A contact's birthday: `1985-04-12`, or `--04-12` when the year is not
-- known (as address books hold them). Rarely sorted: no index.
ALTER TABLE contacts ADD COLUMN birthday TEXT;
