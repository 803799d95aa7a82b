-- Lists sort by their owner's (a task by its assignee's) *name*, not by the
-- user id. People's names live in the control database; `people` keeps the
-- organization's members' names here, in step with it (written when the
-- organization opens, when someone joins and when someone renames
-- themselves — `platform::people`). A former member's row stays, so their
-- records keep sorting by the name they had.

CREATE TABLE people (
    user_id  TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    name_key TEXT NOT NULL          -- crate::order::natural_key(name)
) WITHOUT ROWID;

ALTER TABLE contacts ADD COLUMN owner_key TEXT;
ALTER TABLE companies ADD COLUMN owner_key TEXT;
ALTER TABLE deals ADD COLUMN owner_key TEXT;
ALTER TABLE tasks ADD COLUMN assignee_key TEXT;

-- A record's key follows its owner, whatever path sets or changes it.
CREATE TRIGGER contacts_owner_key_on_insert AFTER INSERT ON contacts
WHEN NEW.owner_id IS NOT NULL BEGIN
    UPDATE contacts SET owner_key = (SELECT name_key FROM people WHERE user_id = NEW.owner_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER contacts_owner_key_on_change AFTER UPDATE OF owner_id ON contacts
WHEN NEW.owner_id IS NOT OLD.owner_id BEGIN
    UPDATE contacts SET owner_key = (SELECT name_key FROM people WHERE user_id = NEW.owner_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER companies_owner_key_on_insert AFTER INSERT ON companies
WHEN NEW.owner_id IS NOT NULL BEGIN
    UPDATE companies SET owner_key = (SELECT name_key FROM people WHERE user_id = NEW.owner_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER companies_owner_key_on_change AFTER UPDATE OF owner_id ON companies
WHEN NEW.owner_id IS NOT OLD.owner_id BEGIN
    UPDATE companies SET owner_key = (SELECT name_key FROM people WHERE user_id = NEW.owner_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER deals_owner_key_on_insert AFTER INSERT ON deals
WHEN NEW.owner_id IS NOT NULL BEGIN
    UPDATE deals SET owner_key = (SELECT name_key FROM people WHERE user_id = NEW.owner_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER deals_owner_key_on_change AFTER UPDATE OF owner_id ON deals
WHEN NEW.owner_id IS NOT OLD.owner_id BEGIN
    UPDATE deals SET owner_key = (SELECT name_key FROM people WHERE user_id = NEW.owner_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER tasks_assignee_key_on_insert AFTER INSERT ON tasks
WHEN NEW.assignee_id IS NOT NULL BEGIN
    UPDATE tasks SET assignee_key = (SELECT name_key FROM people WHERE user_id = NEW.assignee_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER tasks_assignee_key_on_change AFTER UPDATE OF assignee_id ON tasks
WHEN NEW.assignee_id IS NOT OLD.assignee_id BEGIN
    UPDATE tasks SET assignee_key = (SELECT name_key FROM people WHERE user_id = NEW.assignee_id)
    WHERE id = NEW.id;
END;

-- And follows the person: a new row (records written before their name was
-- known here, e.g. by the demo generator or an archive load) or a rename.
CREATE TRIGGER people_key_on_insert AFTER INSERT ON people BEGIN
    UPDATE contacts SET owner_key = NEW.name_key WHERE owner_id = NEW.user_id;
    UPDATE companies SET owner_key = NEW.name_key WHERE owner_id = NEW.user_id;
    UPDATE deals SET owner_key = NEW.name_key WHERE owner_id = NEW.user_id;
    UPDATE tasks SET assignee_key = NEW.name_key WHERE assignee_id = NEW.user_id;
END;
CREATE TRIGGER people_key_on_rename AFTER UPDATE OF name_key ON people
WHEN NEW.name_key IS NOT OLD.name_key BEGIN
    UPDATE contacts SET owner_key = NEW.name_key WHERE owner_id = NEW.user_id;
    UPDATE companies SET owner_key = NEW.name_key WHERE owner_id = NEW.user_id;
    UPDATE deals SET owner_key = NEW.name_key WHERE owner_id = NEW.user_id;
    UPDATE tasks SET assignee_key = NEW.name_key WHERE assignee_id = NEW.user_id;
END;

-- Owner order, nulls last both ways (the shapes V12 explains), in place of
-- the id order's indexes.
DROP INDEX contacts_sort_owner_asc;
DROP INDEX contacts_sort_owner_desc;
DROP INDEX companies_sort_owner_asc;
DROP INDEX companies_sort_owner_desc;
DROP INDEX deals_sort_owner_asc;
DROP INDEX deals_sort_owner_desc;
CREATE INDEX contacts_sort_owner_asc ON contacts((owner_key) IS NULL, owner_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_owner_desc ON contacts((owner_key) IS NOT NULL, owner_key, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_owner_asc ON companies((owner_key) IS NULL, owner_key, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_owner_desc ON companies((owner_key) IS NOT NULL, owner_key, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_sort_owner_asc ON deals((owner_key) IS NULL, owner_key, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_sort_owner_desc ON deals((owner_key) IS NOT NULL, owner_key, id) WHERE deleted_at IS NULL;
CREATE INDEX tasks_sort_assignee_asc ON tasks((assignee_key) IS NULL, assignee_key, id) WHERE deleted_at IS NULL;
CREATE INDEX tasks_sort_assignee_desc ON tasks((assignee_key) IS NOT NULL, assignee_key, id) WHERE deleted_at IS NULL;
