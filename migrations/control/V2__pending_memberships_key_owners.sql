-- A membership created by an invitation is pending until that organization's
-- own invitation is accepted; only active memberships grant access.
ALTER TABLE memberships ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'invited'));
UPDATE memberships SET status = 'invited'
    WHERE user_id IN (SELECT id FROM users WHERE password_hash IS NULL);

-- The person an API key acts for: it never has more rights than they have now,
-- and stops working when they leave the organization. Keys made by keys
-- inherit the person of the key that made them.
ALTER TABLE api_keys ADD COLUMN owner_user_id TEXT REFERENCES users(id) ON DELETE CASCADE;
UPDATE api_keys SET owner_user_id = created_by WHERE created_by NOT LIKE 'api_key:%';
