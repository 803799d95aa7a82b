-- Changes waiting to reach the search index. Written in the same transaction
-- as the change itself; deleted only after the index has committed them.
CREATE TABLE search_outbox (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id   TEXT NOT NULL
) STRICT;

-- Which build of the index matches this database: the index stores the same
-- value in its commit payload. A rebuild writes a new epoch first.
CREATE TABLE search_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    epoch     TEXT NOT NULL
) STRICT;
INSERT INTO search_state (singleton, epoch) VALUES (1, 'never-built');
