-- The secrets vault: values encrypted (AES-256-GCM) with the master key,
-- which is never in a database. `key_id` names the key that sealed the value
-- (the first 8 bytes of its SHA-256, hex) so a key rotation interrupted
-- half-way can be re-run, and a server started with the wrong key refuses.
-- The associated data binds each value to `org_id` and `purpose`.
CREATE TABLE secrets (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,          -- '' for platform secrets
    purpose TEXT NOT NULL,
    key_id TEXT NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    last4 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rotated_at TEXT
);
CREATE INDEX secrets_org ON secrets (org_id);
CREATE INDEX secrets_key ON secrets (key_id);

-- Inbound webhook endpoints: `POST /api/v1/hooks/{id}` names no
-- organization, so the endpoint's organization is found here. Its signing
-- secret is in the vault (purpose `inbound:<id>`).
CREATE TABLE inbound_hooks (
    id TEXT PRIMARY KEY,
    -- An organization's erasure takes its endpoints with it.
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_id TEXT NOT NULL,
    secret_last4 TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_received_at TEXT
);
CREATE INDEX inbound_hooks_org ON inbound_hooks (org_id);
