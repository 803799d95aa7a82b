-- A record's timeline reads the notes, tasks and activities linked to it
-- newest first. The time each appears at lives on the linked row; carrying
-- it on the link rows too lets one index, (record, time), serve a page as a
-- range scan instead of sorting every link of the record. Triggers keep the
-- copies equal to the originals, whatever path writes them.

ALTER TABLE note_links ADD COLUMN at TEXT;
UPDATE note_links SET at = (SELECT created_at FROM notes WHERE notes.id = note_links.note_id);
DROP INDEX note_links_by_record;
CREATE INDEX note_links_by_record_time ON note_links(record_id, at, note_id);
CREATE TRIGGER note_links_take_time AFTER INSERT ON note_links BEGIN
    UPDATE note_links SET at = (SELECT created_at FROM notes WHERE id = NEW.note_id)
    WHERE note_id = NEW.note_id AND record_id = NEW.record_id;
END;
CREATE TRIGGER notes_created_at_to_links AFTER UPDATE OF created_at ON notes BEGIN
    UPDATE note_links SET at = NEW.created_at WHERE note_id = NEW.id;
END;

-- A task is on the timeline when it was created and again when completed.
ALTER TABLE task_links ADD COLUMN created_at TEXT;
ALTER TABLE task_links ADD COLUMN done_at TEXT;
UPDATE task_links SET
    created_at = (SELECT created_at FROM tasks WHERE tasks.id = task_links.task_id),
    done_at    = (SELECT done_at FROM tasks WHERE tasks.id = task_links.task_id);
DROP INDEX task_links_by_record;
CREATE INDEX task_links_by_record_created ON task_links(record_id, created_at, task_id);
CREATE INDEX task_links_by_record_done ON task_links(record_id, done_at, task_id)
    WHERE done_at IS NOT NULL;
CREATE TRIGGER task_links_take_time AFTER INSERT ON task_links BEGIN
    UPDATE task_links SET
        created_at = (SELECT created_at FROM tasks WHERE id = NEW.task_id),
        done_at    = (SELECT done_at FROM tasks WHERE id = NEW.task_id)
    WHERE task_id = NEW.task_id AND record_id = NEW.record_id;
END;
CREATE TRIGGER tasks_times_to_links AFTER UPDATE OF created_at, done_at ON tasks BEGIN
    UPDATE task_links SET created_at = NEW.created_at, done_at = NEW.done_at
    WHERE task_id = NEW.id;
END;

-- An activity is on the timeline when it took place (which an edit may move).
ALTER TABLE activity_links ADD COLUMN at TEXT;
UPDATE activity_links SET
    at = (SELECT occurred_at FROM activities WHERE activities.id = activity_links.activity_id);
DROP INDEX activity_links_by_record;
CREATE INDEX activity_links_by_record_time ON activity_links(record_id, at, activity_id);
CREATE TRIGGER activity_links_take_time AFTER INSERT ON activity_links BEGIN
    UPDATE activity_links SET at = (SELECT occurred_at FROM activities WHERE id = NEW.activity_id)
    WHERE activity_id = NEW.activity_id AND record_id = NEW.record_id;
END;
CREATE TRIGGER activities_time_to_links AFTER UPDATE OF occurred_at ON activities BEGIN
    UPDATE activity_links SET at = NEW.occurred_at WHERE activity_id = NEW.id;
END;

-- "My tasks": one person's open tasks in the lists' default order (due
-- first, no date last; then newest; then id), so a page is the first rows of
-- this index rather than a sort of all their tasks. It serves what
-- tasks_open_by_assignee served (equality on assignee and status).
DROP INDEX tasks_open_by_assignee;
CREATE INDEX tasks_mine_by_due ON tasks(assignee_id, status, (due IS NULL), due, created_at DESC, id)
    WHERE deleted_at IS NULL;
