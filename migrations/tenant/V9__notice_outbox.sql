-- What a write in this organization tells people (a task assigned, a
-- mention, a due date set): written in the write's transaction, moved to the
-- control database's notifications right after the commit.
CREATE TABLE notice_outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event      TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    -- JSON: title, record kind and id, actor, and for reminders the due date.
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
