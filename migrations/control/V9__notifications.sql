-- Notifications: channel-neutral, one row per person and event, across
-- organizations; each person's time zone and which events notify them; and
-- the due reminders of tasks, fired once by the reminders job.

-- IANA zone name; NULL: the browser's.
ALTER TABLE users ADD COLUMN time_zone TEXT;
-- Events that do not notify this person, JSON array (task_assigned, task_due, mentioned, deal_assigned).
ALTER TABLE users ADD COLUMN notify_off TEXT NOT NULL DEFAULT '[]';

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    event       TEXT NOT NULL,
    -- What makes it the same notification if it is sent twice (a retried job).
    dedupe_key  TEXT NOT NULL,
    title       TEXT NOT NULL,
    record_kind TEXT,
    record_id   TEXT,
    actor       TEXT,
    created_at  TEXT NOT NULL,
    read_at     TEXT,
    UNIQUE (user_id, dedupe_key)
) STRICT;
CREATE INDEX notifications_by_user ON notifications(user_id, created_at, id);
CREATE INDEX notifications_unread ON notifications(user_id, org_id) WHERE read_at IS NULL;

-- One pending reminder per task: when it fires (the due time, or 09:00 of the
-- due date in the assignee's zone) and whether it has.
CREATE TABLE task_reminders (
    org_id   TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    task_id  TEXT NOT NULL,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title    TEXT NOT NULL,
    due      TEXT NOT NULL,
    fire_at  TEXT NOT NULL,
    fired_at TEXT,
    PRIMARY KEY (org_id, task_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX task_reminders_due ON task_reminders(fire_at) WHERE fired_at IS NULL;
CREATE INDEX task_reminders_by_user ON task_reminders(user_id) WHERE fired_at IS NULL;
