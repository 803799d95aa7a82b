-- Passkeys (WebAuthn): a second factor after the password, or a sign-in on
-- their own with a discoverable credential. The user handle given to
-- authenticators is the user's id (a UUID).
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    -- webauthn-rs's Passkey as JSON: the public key and signature counter.
    credential    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
) STRICT;
CREATE INDEX passkeys_by_user ON passkeys(user_id);

-- A registration or sign-in in progress: the server's half of the WebAuthn
-- ceremony (its challenge), good for 5 minutes and one finish.
CREATE TABLE passkey_ceremonies (
    id         TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('register', 'second_factor', 'passwordless')),
    state      TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies(expires_at);
