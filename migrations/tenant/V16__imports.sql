-- Imports: a file uploaded to become records (CSV, vCard), its mapping and
-- dedupe rule, its progress while it runs as a job, its report, and what
-- each row did so that it can be undone.

-- (Harmless when applied again: the upgrade tests re-apply the newest migration.)
CREATE TABLE IF NOT EXISTS imports (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,               -- contact, company, deal
    format        TEXT NOT NULL,               -- csv, vcard
    file_name     TEXT NOT NULL,
    encoding      TEXT NOT NULL,
    delimiter     TEXT NOT NULL,
    headers       TEXT NOT NULL,               -- JSON array of the columns' names
    headers_key   TEXT NOT NULL,               -- kind + headers: finds the last mapping
    row_count     INTEGER NOT NULL,
    mapping       TEXT NOT NULL,               -- JSON array: a field per column, or null
    mapping_set   INTEGER NOT NULL DEFAULT 0,  -- 1 once a person saved it
    dedupe        TEXT NOT NULL,               -- JSON {match, action}
    state         TEXT NOT NULL CHECK (state IN
                    ('uploaded', 'queued', 'running', 'done', 'failed', 'cancelled', 'undone')),
    cancel        INTEGER NOT NULL DEFAULT 0,
    rows_done     INTEGER NOT NULL DEFAULT 0,
    created       INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    undone_at     TEXT,
    undone_by     TEXT,
    undo_report   TEXT                          -- JSON, what the undo did
) STRICT;
CREATE INDEX IF NOT EXISTS imports_by_created ON imports(created_at);
CREATE INDEX IF NOT EXISTS imports_by_headers ON imports(headers_key, created_at) WHERE mapping_set = 1;

-- What each row did: the record it created or changed (with the record as
-- it was before, and its version after, for undo), or why it failed.
CREATE TABLE IF NOT EXISTS import_rows (
    import_id  TEXT NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,               -- the data row (1 = first after the header)
    sub        INTEGER NOT NULL DEFAULT 0,     -- 1: a company the row created by name
    outcome    TEXT NOT NULL CHECK (outcome IN ('created', 'updated', 'skipped', 'failed')),
    kind       TEXT,
    record_id  TEXT,
    before     TEXT,                           -- JSON PATCH body restoring the record
    version    TEXT,                           -- its updated_at right after the import
    error      TEXT,
    PRIMARY KEY (import_id, seq, sub)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS import_rows_by_outcome ON import_rows(import_id, outcome, seq);
