-- Organization closure (src/platform/closure.rs). An owner closes an
-- organization: it turns read-only, an export of its data is prepared, and
-- after 30 days a job erases it. The row outlives the organization (no
-- foreign key) as the record that it was erased, and when.
CREATE TABLE org_closures (
    org_id         TEXT PRIMARY KEY,
    slug           TEXT NOT NULL,
    name           TEXT NOT NULL,
    closed_at      TEXT NOT NULL,
    closed_by      TEXT NOT NULL,
    purge_at       TEXT NOT NULL,
    -- preparing → ready (or failed, retried by the closure job)
    export_status  TEXT NOT NULL DEFAULT 'preparing'
                   CHECK (export_status IN ('preparing', 'ready', 'failed')),
    export_file    TEXT,
    -- Bytes of the archive as the owner downloads it (decrypted).
    export_size    INTEGER,
    export_error   TEXT,
    export_ready_at TEXT,
    purged_at      TEXT
) STRICT;
CREATE INDEX org_closures_due ON org_closures(purge_at) WHERE purged_at IS NULL;
