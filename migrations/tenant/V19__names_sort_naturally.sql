-- Lists sort names the way people read them: accents folded (Ábel beside
-- Abel), numbers as numbers ("Atlas 2" before "Atlas 10") — `crate::order`
-- makes the keys; `harmonia_natural_key` exists on Harmonia's own
-- connections for this backfill, and no schema object uses it, so any
-- SQLite tool still reads and writes the file. Contacts also sort by their
-- company's name and by their first email, deals by their company's name:
-- the company's key is kept beside them by the triggers below, whatever
-- changes a company's name or a record's company.

ALTER TABLE contacts ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN email_key TEXT;
ALTER TABLE contacts ADD COLUMN company_key TEXT;
ALTER TABLE companies ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN title_key TEXT NOT NULL DEFAULT '';
ALTER TABLE deals ADD COLUMN company_key TEXT;

UPDATE contacts SET name_key = harmonia_natural_key(sort_name),
    email_key = lower(json_extract(emails, '$[0].email'));
UPDATE companies SET name_key = harmonia_natural_key(name);
UPDATE deals SET title_key = harmonia_natural_key(title);
UPDATE contacts SET company_key = (SELECT c.name_key FROM companies c WHERE c.id = contacts.company_id)
    WHERE company_id IS NOT NULL;
UPDATE deals SET company_key = (SELECT c.name_key FROM companies c WHERE c.id = deals.company_id)
    WHERE company_id IS NOT NULL;

CREATE TRIGGER contacts_company_key_on_insert AFTER INSERT ON contacts
WHEN NEW.company_id IS NOT NULL BEGIN
    UPDATE contacts SET company_key = (SELECT name_key FROM companies WHERE id = NEW.company_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER contacts_company_key_on_change AFTER UPDATE OF company_id ON contacts
WHEN NEW.company_id IS NOT OLD.company_id BEGIN
    UPDATE contacts SET company_key = (SELECT name_key FROM companies WHERE id = NEW.company_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER deals_company_key_on_insert AFTER INSERT ON deals
WHEN NEW.company_id IS NOT NULL BEGIN
    UPDATE deals SET company_key = (SELECT name_key FROM companies WHERE id = NEW.company_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER deals_company_key_on_change AFTER UPDATE OF company_id ON deals
WHEN NEW.company_id IS NOT OLD.company_id BEGIN
    UPDATE deals SET company_key = (SELECT name_key FROM companies WHERE id = NEW.company_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER companies_name_key_follows AFTER UPDATE OF name_key ON companies
WHEN NEW.name_key IS NOT OLD.name_key BEGIN
    UPDATE contacts SET company_key = NEW.name_key WHERE company_id = NEW.id;
    UPDATE deals SET company_key = NEW.name_key WHERE company_id = NEW.id;
END;

-- Name order, filtered or not (the lists' default sort). The indexes on
-- `sort_name` / `sort_title` stay for the prefix match of `q`.
CREATE INDEX contacts_by_name_key ON contacts(name_key, id) WHERE deleted_at IS NULL;
DROP INDEX contacts_by_stage;
DROP INDEX contacts_by_owner;
DROP INDEX contacts_by_company;
CREATE INDEX contacts_by_stage ON contacts(stage, name_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_owner ON contacts(owner_id, name_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_company ON contacts(company_id, name_key, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_by_name_key ON companies(name_key, id) WHERE deleted_at IS NULL;
DROP INDEX companies_by_owner;
CREATE INDEX companies_by_owner ON companies(owner_id, name_key, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_by_title_key ON deals(title_key, id) WHERE deleted_at IS NULL;

-- Company and email order, nulls last both ways (the shapes V12 explains).
DROP INDEX contacts_sort_company_asc;
DROP INDEX contacts_sort_company_desc;
CREATE INDEX contacts_sort_company_asc ON contacts((company_key) IS NULL, company_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_company_desc ON contacts((company_key) IS NOT NULL, company_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_email_asc ON contacts((email_key) IS NULL, email_key, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_email_desc ON contacts((email_key) IS NOT NULL, email_key, id) WHERE deleted_at IS NULL;
DROP INDEX deals_sort_company_asc;
DROP INDEX deals_sort_company_desc;
CREATE INDEX deals_sort_company_asc ON deals((company_key) IS NULL, company_key, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_sort_company_desc ON deals((company_key) IS NOT NULL, company_key, id) WHERE deleted_at IS NULL;
