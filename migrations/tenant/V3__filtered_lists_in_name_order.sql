-- A list filtered by stage, owner or company and sorted by name (the default
-- sort) read every matching row and sorted them: 3 s per page for one stage
-- of 100,000 contacts. With the sort key after the filter column, such a page
-- reads only its own rows. The new indexes still serve the plain lookups.
DROP INDEX contacts_by_stage;
DROP INDEX contacts_by_owner;
DROP INDEX contacts_by_company;
DROP INDEX companies_by_owner;
CREATE INDEX contacts_by_stage   ON contacts(stage, sort_name, id)      WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_owner   ON contacts(owner_id, sort_name, id)   WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_company ON contacts(company_id, sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_by_owner  ON companies(owner_id, sort_name, id)  WHERE deleted_at IS NULL;
