-- One organization's CRM. No table carries an org id: the file is the boundary.
-- Rows in the trash keep deleted_at; lists and reads skip them.

CREATE TABLE companies (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    -- lower(name): the key for sorting and prefix search.
    sort_name  TEXT NOT NULL,
    domain     TEXT,
    industry   TEXT,
    size       TEXT,
    phone      TEXT,
    address    TEXT,            -- JSON object {street, city, region, postal_code, country}
    owner_id   TEXT,            -- a user id of the control plane (no cross-file FK)
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    deleted_at TEXT
) STRICT;
CREATE INDEX companies_by_name    ON companies(sort_name, id)  WHERE deleted_at IS NULL;
CREATE INDEX companies_by_created ON companies(created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_by_updated ON companies(updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX companies_by_domain  ON companies(domain)         WHERE deleted_at IS NULL;
CREATE INDEX companies_by_owner   ON companies(owner_id)       WHERE deleted_at IS NULL;
CREATE INDEX companies_trash      ON companies(deleted_at)     WHERE deleted_at IS NOT NULL;

CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    first_name TEXT NOT NULL DEFAULT '',
    last_name  TEXT NOT NULL DEFAULT '',
    -- lower(first_name || ' ' || last_name), and lower(last_name): prefix search keys.
    sort_name  TEXT NOT NULL,
    last_key   TEXT NOT NULL,
    emails     TEXT NOT NULL DEFAULT '[]',   -- JSON [{label, email}]
    phones     TEXT NOT NULL DEFAULT '[]',   -- JSON [{label, phone}] in E.164
    job_title  TEXT,
    company_id TEXT REFERENCES companies(id) ON DELETE SET NULL,
    address    TEXT,
    owner_id   TEXT,
    stage      TEXT NOT NULL DEFAULT 'lead'
               CHECK (stage IN ('lead', 'prospect', 'customer', 'former_customer')),
    source     TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    deleted_at TEXT
) STRICT;
CREATE INDEX contacts_by_name     ON contacts(sort_name, id)  WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_last     ON contacts(last_key)       WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_created  ON contacts(created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_updated  ON contacts(updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_company  ON contacts(company_id)     WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_owner    ON contacts(owner_id)       WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_stage    ON contacts(stage)          WHERE deleted_at IS NULL;
CREATE INDEX contacts_trash       ON contacts(deleted_at)     WHERE deleted_at IS NOT NULL;

-- Lower-cased email addresses of each contact, for prefix lookups by email.
CREATE TABLE contact_emails (
    email      TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    PRIMARY KEY (email, contact_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX contact_emails_by_contact ON contact_emails(contact_id);
