-- One index a nullable sort column instead of two. Lists keep empty values
-- last in both directions by reading two ranges of one index `(column, id)`
-- (`record::sort::Sorts::ranges`): the values, forwards or backwards, then
-- the empty ones by id. SQLite keeps every index on every insert; the pairs
-- (`(c) IS NULL, c, id` and `(c) IS NOT NULL, c, id`) cost a contact four
-- more index entries, a company four, a deal two, a task one. Custom
-- fields' pairs are rebuilt the same way when an organization opens
-- (`record::custom::reshape_indexes`).

DROP INDEX contacts_sort_title_asc;
DROP INDEX contacts_sort_title_desc;
CREATE INDEX contacts_sort_title ON contacts(job_title, id) WHERE deleted_at IS NULL;
DROP INDEX contacts_sort_company_asc;
DROP INDEX contacts_sort_company_desc;
CREATE INDEX contacts_sort_company ON contacts(company_key, id) WHERE deleted_at IS NULL;
DROP INDEX contacts_sort_email_asc;
DROP INDEX contacts_sort_email_desc;
CREATE INDEX contacts_sort_email ON contacts(email_key, id) WHERE deleted_at IS NULL;
DROP INDEX contacts_sort_owner_asc;
DROP INDEX contacts_sort_owner_desc;
CREATE INDEX contacts_sort_owner ON contacts(owner_key, id) WHERE deleted_at IS NULL;

-- `(domain, id)` serves what `(domain)` did.
DROP INDEX companies_by_domain;
DROP INDEX companies_sort_domain_asc;
DROP INDEX companies_sort_domain_desc;
CREATE INDEX companies_sort_domain ON companies(domain, id) WHERE deleted_at IS NULL;
DROP INDEX companies_sort_industry_asc;
DROP INDEX companies_sort_industry_desc;
CREATE INDEX companies_sort_industry ON companies(industry, id) WHERE deleted_at IS NULL;
DROP INDEX companies_sort_size_asc;
DROP INDEX companies_sort_size_desc;
CREATE INDEX companies_sort_size ON companies(size, id) WHERE deleted_at IS NULL;
DROP INDEX companies_sort_owner_asc;
DROP INDEX companies_sort_owner_desc;
CREATE INDEX companies_sort_owner ON companies(owner_key, id) WHERE deleted_at IS NULL;

DROP INDEX deals_sort_company_asc;
DROP INDEX deals_sort_company_desc;
CREATE INDEX deals_sort_company ON deals(company_key, id) WHERE deleted_at IS NULL;
DROP INDEX deals_sort_owner_asc;
DROP INDEX deals_sort_owner_desc;
CREATE INDEX deals_sort_owner ON deals(owner_key, id) WHERE deleted_at IS NULL;
-- A flagged column first is no index for `amount IS NOT NULL ORDER BY amount`.
DROP INDEX deals_by_owner;
CREATE INDEX deals_by_owner ON deals(owner_id, amount, id) WHERE deleted_at IS NULL;
DROP INDEX deals_by_amount;
CREATE INDEX deals_by_amount ON deals(amount, id) WHERE deleted_at IS NULL;
DROP INDEX deals_by_close;
CREATE INDEX deals_by_close ON deals(close_date, id) WHERE deleted_at IS NULL;

DROP INDEX tasks_sort_assignee_asc;
DROP INDEX tasks_sort_assignee_desc;
CREATE INDEX tasks_sort_assignee ON tasks(assignee_key, id) WHERE deleted_at IS NULL;

-- "My tasks" in the lists' default order (due first, no date last; then
-- newest): the two ranges read this index by due date, then the undated
-- ones by `due IS NULL` newest first.
DROP INDEX tasks_mine_by_due;
CREATE INDEX tasks_mine_by_due ON tasks(assignee_id, status, due, created_at DESC, id)
    WHERE deleted_at IS NULL;
