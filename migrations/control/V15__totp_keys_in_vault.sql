-- An authenticator app's key moves into the vault (`secrets`, organization
-- '', purpose `totp:<user id>`): `secret_id` names it. A row written before
-- keeps its key in `secret` until the server, which holds the master key,
-- seals it at start (auth::mfa::seal_plaintext_keys) and empties `secret`.
ALTER TABLE totp_factors ADD COLUMN secret_id TEXT;

-- A factor's sealed key goes with it: turned off, replaced by a new setup,
-- removed by hand (docs/operations.md) or with its user.
CREATE TRIGGER totp_factors_forget_key AFTER DELETE ON totp_factors
WHEN OLD.secret_id IS NOT NULL
BEGIN
    DELETE FROM secrets WHERE id = OLD.secret_id;
END;

CREATE TRIGGER totp_factors_replace_key AFTER UPDATE OF secret_id ON totp_factors
WHEN OLD.secret_id IS NOT NULL AND OLD.secret_id IS NOT NEW.secret_id
BEGIN
    DELETE FROM secrets WHERE id = OLD.secret_id;
END;
