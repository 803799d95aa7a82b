-- Whole-organization exports (archives) that owners prepare from Settings
-- and download when ready. The file is kept encrypted with the backup key
-- under data/exports/<org-id>/ and removed when it expires.
CREATE TABLE org_archives (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('preparing', 'ready', 'failed')),
    file TEXT,
    size INTEGER,
    ready_at TEXT,
    expires_at TEXT,
    error TEXT
);
CREATE INDEX org_archives_by_org ON org_archives (org_id, requested_at);
CREATE INDEX org_archives_preparing ON org_archives (status) WHERE status = 'preparing';
