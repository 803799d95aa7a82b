-- An import's status lists its failed rows and its warnings while it runs
-- (the UI asks every second). Without this index each read walked every row
-- the import had written so far (100,000 for a large file), most with no
-- error: the reads took more of the server than the import's writes.
CREATE INDEX import_rows_saying_why
    ON import_rows(import_id, seq) WHERE sub = 0 AND error IS NOT NULL;

-- A record's sort keys for its company and owner (V19, V20) were set by an
-- UPDATE of the new row after every insert: the row written twice, a third
-- of the cost of inserting a contact with its 22 indexes. The API's inserts
-- now carry the keys themselves; the triggers still set them for any insert
-- that does not (the demo generator, an organization's import, old code).
DROP TRIGGER IF EXISTS contacts_company_key_on_insert;
CREATE TRIGGER contacts_company_key_on_insert AFTER INSERT ON contacts
WHEN NEW.company_id IS NOT NULL
 AND NEW.company_key IS NOT (SELECT name_key FROM companies WHERE id = NEW.company_id) BEGIN
    UPDATE contacts SET company_key = (SELECT name_key FROM companies WHERE id = NEW.company_id)
    WHERE id = NEW.id;
END;

DROP TRIGGER IF EXISTS deals_company_key_on_insert;
CREATE TRIGGER deals_company_key_on_insert AFTER INSERT ON deals
WHEN NEW.company_id IS NOT NULL
 AND NEW.company_key IS NOT (SELECT name_key FROM companies WHERE id = NEW.company_id) BEGIN
    UPDATE deals SET company_key = (SELECT name_key FROM companies WHERE id = NEW.company_id)
    WHERE id = NEW.id;
END;

DROP TRIGGER IF EXISTS contacts_owner_key_on_insert;
CREATE TRIGGER contacts_owner_key_on_insert AFTER INSERT ON contacts
WHEN NEW.owner_id IS NOT NULL
 AND NEW.owner_key IS NOT (SELECT name_key FROM people WHERE user_id = NEW.owner_id) BEGIN
    UPDATE contacts SET owner_key = (SELECT name_key FROM people WHERE user_id = NEW.owner_id)
    WHERE id = NEW.id;
END;

DROP TRIGGER IF EXISTS companies_owner_key_on_insert;
CREATE TRIGGER companies_owner_key_on_insert AFTER INSERT ON companies
WHEN NEW.owner_id IS NOT NULL
 AND NEW.owner_key IS NOT (SELECT name_key FROM people WHERE user_id = NEW.owner_id) BEGIN
    UPDATE companies SET owner_key = (SELECT name_key FROM people WHERE user_id = NEW.owner_id)
    WHERE id = NEW.id;
END;

DROP TRIGGER IF EXISTS deals_owner_key_on_insert;
CREATE TRIGGER deals_owner_key_on_insert AFTER INSERT ON deals
WHEN NEW.owner_id IS NOT NULL
 AND NEW.owner_key IS NOT (SELECT name_key FROM people WHERE user_id = NEW.owner_id) BEGIN
    UPDATE deals SET owner_key = (SELECT name_key FROM people WHERE user_id = NEW.owner_id)
    WHERE id = NEW.id;
END;
