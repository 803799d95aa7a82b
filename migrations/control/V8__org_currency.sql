-- The currency new deals get unless they name another (ISO 4217).
ALTER TABLE orgs ADD COLUMN default_currency TEXT NOT NULL DEFAULT 'USD';
