-- Privacy requests (data-subject rights): who looked up, exported or erased
-- what is held about a person, and when. The person is kept only as a
-- hash of the organization and the email or phone asked about, so an erasure's log entry
-- holds no personal data and a later request for the same person can
-- still be matched to it.

-- (Harmless when applied again: the upgrade tests re-apply the newest migration.)
CREATE TABLE IF NOT EXISTS privacy_requests (
    id         TEXT PRIMARY KEY,
    action     TEXT NOT NULL CHECK (action IN ('find', 'export', 'erase')),
    subject    TEXT NOT NULL,               -- sha256 of org id + normalized email/phone
    handled_by TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    summary    TEXT NOT NULL DEFAULT '{}'   -- JSON counts of what was found or erased
) STRICT;
CREATE INDEX IF NOT EXISTS privacy_requests_by_time ON privacy_requests(handled_at, id);
