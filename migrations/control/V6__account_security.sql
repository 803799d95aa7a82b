-- Account security (issue 16): where each session was opened, the sign-in
-- activity, authenticator apps with recovery codes, the second step of a
-- sign-in, password reset links, and the organizations' two-factor policy.

-- Sessions get an id people can name (the token hash is a secret) and say
-- where they were opened, so a lost laptop can be told apart and signed out.
ALTER TABLE sessions ADD COLUMN id TEXT;
UPDATE sessions SET id = lower(hex(randomblob(16))) WHERE id IS NULL;
CREATE UNIQUE INDEX sessions_by_id ON sessions(id);
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

-- What happened to an account: sign-ins, failures, password and factor
-- changes. Kept 12 months (the housekeeping job deletes older rows).
CREATE TABLE signin_events (
    id         TEXT PRIMARY KEY,          -- UUIDv7: id order is time order
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    ip         TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    detail     TEXT,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX signin_events_by_user ON signin_events(user_id, id);
CREATE INDEX signin_events_by_time ON signin_events(created_at);

-- An authenticator app (RFC 6238). Until confirmed_at is set it is only being
-- set up and does not count as a factor. last_step is the newest time step
-- whose code was accepted: a code is never accepted twice.
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,           -- base32
    confirmed_at TEXT,
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL
) STRICT;

-- One-use codes for a lost phone, SHA-256 hashed like every other secret.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;

-- A sign-in whose password was right and whose second step is pending.
-- The challenge (hashed here) is good for the verify call only, once.
CREATE TABLE mfa_challenges (
    token_hash   BLOB PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    known_device INTEGER NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX mfa_challenges_by_expiry ON mfa_challenges(expires_at);

-- One-time links an owner or admin makes for a member who lost their password.
CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX password_resets_by_user ON password_resets(user_id);

-- Members must have a second factor before they reach the organization's data.
ALTER TABLE orgs ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
