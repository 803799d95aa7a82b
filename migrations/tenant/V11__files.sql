-- Files attached to records. Content is stored once per organization by its
-- SHA-256 (files/blobs/<2 hex>/<64 hex>); a blob row exists exactly while
-- the blob is in place (written in the transaction that moved it there).
CREATE TABLE file_blobs (
    sha256       TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    -- Sniffed from the bytes, never taken from the client.
    content_type TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    -- Thumbnail: NULL not made yet, 'image/png' or 'image/jpeg' made, '' none.
    thumb        TEXT,
    width        INTEGER,
    height       INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX file_blobs_thumb_pending ON file_blobs(created_at) WHERE thumb IS NULL;

CREATE TABLE files (
    id          TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL REFERENCES file_blobs(sha256),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    deleted_at  TEXT,
    deleted_by  TEXT
) STRICT;
CREATE INDEX files_by_blob ON files(sha256);
CREATE INDEX files_in_trash ON files(deleted_at) WHERE deleted_at IS NOT NULL;

-- The records a file is attached to, and when (the timeline's "file added").
CREATE TABLE file_links (
    file_id   TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    record_id TEXT NOT NULL,
    linked_at TEXT NOT NULL,
    linked_by TEXT NOT NULL,
    PRIMARY KEY (file_id, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX file_links_by_record ON file_links(record_id, linked_at);
