-- International basics: an organization's time zone and date format, and each
-- person's date format (their time zone is users.time_zone, from V9).

-- IANA zone name: the organization's working day (members without a zone of their own).
ALTER TABLE orgs ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
-- How dates are written: one of the patterns in `values::DATE_FORMATS`.
ALTER TABLE orgs ADD COLUMN date_format TEXT NOT NULL DEFAULT 'mmm d, yyyy';
-- NULL: the organization's.
ALTER TABLE users ADD COLUMN date_format TEXT;
