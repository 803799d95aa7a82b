-- Every column of the contact, company and deal lists sorts from an index, in
-- both directions: a first page or a page 10,000 rows down reads its own 51
-- rows, never the whole table. A nullable column sorts nulls last both ways:
-- `(c) IS NULL, c, id` ascending and `(c) IS NOT NULL DESC, c DESC, id DESC`
-- descending — the shapes of the two indexes below (custom fields get the
-- same pair). Lists filtered by stage and sorted by recency get an index
-- where the filter and the sort meet. Every index costs each insert a write,
-- so rarely sorted columns (source, next step) have none.

CREATE INDEX contacts_sort_stage ON contacts(stage, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_stage_updated ON contacts(stage, updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_stage_created ON contacts(stage, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_sort_stage ON deals(stage_id, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_owner_asc ON contacts((owner_id) IS NULL, owner_id, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_owner_desc ON contacts((owner_id) IS NOT NULL, owner_id, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_company_asc ON contacts((company_id) IS NULL, company_id, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_company_desc ON contacts((company_id) IS NOT NULL, company_id, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_title_asc ON contacts((job_title) IS NULL, job_title, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_sort_title_desc ON contacts((job_title) IS NOT NULL, job_title, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_domain_asc ON companies((domain) IS NULL, domain, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_domain_desc ON companies((domain) IS NOT NULL, domain, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_industry_asc ON companies((industry) IS NULL, industry, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_industry_desc ON companies((industry) IS NOT NULL, industry, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_size_asc ON companies((size) IS NULL, size, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_size_desc ON companies((size) IS NOT NULL, size, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_owner_asc ON companies((owner_id) IS NULL, owner_id, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_sort_owner_desc ON companies((owner_id) IS NOT NULL, owner_id, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_sort_owner_asc ON deals((owner_id) IS NULL, owner_id, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_sort_owner_desc ON deals((owner_id) IS NOT NULL, owner_id, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_sort_company_asc ON deals((company_id) IS NULL, company_id, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_sort_company_desc ON deals((company_id) IS NOT NULL, company_id, id) WHERE deleted_at IS NULL;
