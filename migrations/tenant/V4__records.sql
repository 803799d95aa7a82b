-- The record layer: custom fields, tags, saved views and history for every kind.

-- Custom field values, by field key (see custom_fields).
ALTER TABLE contacts  ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';
ALTER TABLE companies ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';

CREATE TABLE custom_fields (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,              -- contact, company, …
    key           TEXT NOT NULL,              -- snake_case, immutable
    label         TEXT NOT NULL,
    type          TEXT NOT NULL,
    required      INTEGER NOT NULL DEFAULT 0,
    is_unique     INTEGER NOT NULL DEFAULT 0,
    default_value TEXT,                       -- JSON
    options       TEXT NOT NULL DEFAULT '[]', -- JSON [{value, label, color}]
    target_kind   TEXT,                       -- record fields: the kind they point to
    position      INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    deleted_at    TEXT                        -- restorable for 30 days
) STRICT;
-- A deleted field keeps its key until it is purged, so it can come back.
CREATE UNIQUE INDEX custom_fields_by_key ON custom_fields(kind, key);

CREATE TABLE tags (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL COLLATE NOCASE UNIQUE,
    color      TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- Ids are UUIDv7, unique across kinds; kind says which table a record is in.
CREATE TABLE record_tags (
    tag_id    TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (tag_id, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX record_tags_by_record ON record_tags(record_id, tag_id);

CREATE TABLE views (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    owner_id   TEXT,            -- the user of a personal view; NULL: shared
    filter     TEXT,            -- JSON, the filter language
    sort       TEXT,
    columns    TEXT NOT NULL DEFAULT '[]',
    layout     TEXT NOT NULL DEFAULT 'table',
    group_by   TEXT,
    position   INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX views_by_kind ON views(kind, position);

CREATE TABLE view_defaults (
    user_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    view_id TEXT NOT NULL REFERENCES views(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, kind)
) STRICT, WITHOUT ROWID;

CREATE TABLE record_history (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind      TEXT NOT NULL,
    record_id TEXT NOT NULL,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,          -- created, updated, deleted, restored
    changes   TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX record_history_by_record ON record_history(record_id, seq);
