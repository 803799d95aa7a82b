-- Notes, tasks and logged activities: record kinds that attach to records of
-- any kind. Each has its own link table (so a purge cascades to its links);
-- a link names the record as (kind, id), with no foreign key across kinds.

CREATE TABLE notes (
    id         TEXT PRIMARY KEY,
    -- Sanitized HTML (src/crm/rich.rs) and its plain text for search and previews.
    body       TEXT NOT NULL,
    body_text  TEXT NOT NULL,
    -- Member ids @mentioned in the body, JSON array.
    mentions   TEXT NOT NULL DEFAULT '[]',
    pinned     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    custom     TEXT NOT NULL DEFAULT '{}',
    deleted_at TEXT
) STRICT;
CREATE INDEX notes_by_created ON notes(created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX notes_by_updated ON notes(updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX notes_trash      ON notes(deleted_at)     WHERE deleted_at IS NOT NULL;

CREATE TABLE note_links (
    note_id   TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (note_id, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX note_links_by_record ON note_links(record_id, note_id);

CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    sort_title  TEXT NOT NULL,
    description TEXT,
    -- A date ("2026-12-04", in the assignee's zone) or an RFC 3339 UTC time.
    due         TEXT,
    assignee_id TEXT,
    priority    TEXT NOT NULL DEFAULT 'none'
                CHECK (priority IN ('none', 'low', 'medium', 'high')),
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    done_at     TEXT,
    done_by     TEXT,
    -- JSON {"every": "daily"|"weekly"|"monthly"|"yearly", "days": ["mon", …]} or NULL.
    repeat      TEXT,
    -- The task this one repeats (the one whose completion created it).
    repeat_of   TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    custom      TEXT NOT NULL DEFAULT '{}',
    deleted_at  TEXT
) STRICT;
CREATE INDEX tasks_by_title    ON tasks(sort_title, id)  WHERE deleted_at IS NULL;
CREATE INDEX tasks_by_created  ON tasks(created_at, id)  WHERE deleted_at IS NULL;
CREATE INDEX tasks_by_updated  ON tasks(updated_at, id)  WHERE deleted_at IS NULL;
CREATE INDEX tasks_by_due      ON tasks(due, id)         WHERE deleted_at IS NULL;
CREATE INDEX tasks_open_by_assignee ON tasks(assignee_id, status, due) WHERE deleted_at IS NULL;
CREATE INDEX tasks_trash       ON tasks(deleted_at)      WHERE deleted_at IS NOT NULL;

CREATE TABLE task_links (
    task_id   TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (task_id, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX task_links_by_record ON task_links(record_id, task_id);

CREATE TABLE activities (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL CHECK (type IN ('call', 'meeting', 'email', 'other')),
    subject      TEXT NOT NULL DEFAULT '',
    occurred_at  TEXT NOT NULL,
    duration_min INTEGER,
    outcome      TEXT,
    -- Member ids who took part, JSON array (contacts who took part are links).
    members      TEXT NOT NULL DEFAULT '[]',
    body         TEXT NOT NULL DEFAULT '',
    body_text    TEXT NOT NULL DEFAULT '',
    -- Member ids @mentioned in the body, JSON array.
    mentions     TEXT NOT NULL DEFAULT '[]',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    updated_by   TEXT NOT NULL,
    custom       TEXT NOT NULL DEFAULT '{}',
    deleted_at   TEXT
) STRICT;
CREATE INDEX activities_by_created  ON activities(created_at, id)  WHERE deleted_at IS NULL;
CREATE INDEX activities_by_updated  ON activities(updated_at, id)  WHERE deleted_at IS NULL;
CREATE INDEX activities_by_occurred ON activities(occurred_at, id) WHERE deleted_at IS NULL;
CREATE INDEX activities_trash       ON activities(deleted_at)      WHERE deleted_at IS NOT NULL;

CREATE TABLE activity_links (
    activity_id TEXT NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    PRIMARY KEY (activity_id, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX activity_links_by_record ON activity_links(record_id, activity_id);

-- The record's history is read per record, newest first, for the timeline.
CREATE INDEX record_history_by_record_time ON record_history(record_id, at, seq);
