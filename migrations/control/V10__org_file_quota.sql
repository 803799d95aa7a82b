-- How many bytes of files an organization may store (NULL: the default,
-- 5 GiB); set by a platform admin.
ALTER TABLE orgs ADD COLUMN file_quota_bytes INTEGER;
