-- The sales pipeline: pipelines of ordered stages, and deals moving through them.

CREATE TABLE pipelines (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE stages (
    id           TEXT PRIMARY KEY,
    pipeline_id  TEXT NOT NULL REFERENCES pipelines(id),
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    probability  INTEGER NOT NULL CHECK (probability BETWEEN 0 AND 100),
    kind         TEXT NOT NULL CHECK (kind IN ('open', 'won', 'lost')),
    -- A deal idle longer than this many days is flagged; NULL: never.
    rotting_days INTEGER CHECK (rotting_days > 0)
) STRICT;
CREATE INDEX stages_by_pipeline ON stages(pipeline_id, position);

CREATE TABLE deals (
    id               TEXT PRIMARY KEY,
    title            TEXT NOT NULL,
    sort_title       TEXT NOT NULL,              -- lower(title)
    pipeline_id      TEXT NOT NULL REFERENCES pipelines(id),
    stage_id         TEXT NOT NULL REFERENCES stages(id),
    -- The stage's kind, kept beside it: lists and sums filter on it constantly.
    status           TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    -- Order within the stage's column; gaps leave room to move between two.
    position         INTEGER NOT NULL,
    amount           INTEGER CHECK (amount >= 0),  -- minor units of currency
    currency         TEXT NOT NULL,
    close_date       TEXT,                        -- expected, YYYY-MM-DD
    owner_id         TEXT,
    company_id       TEXT REFERENCES companies(id) ON DELETE SET NULL,
    source           TEXT,
    next_step        TEXT,
    lost_reason      TEXT,
    closed_at        TEXT,                        -- when it entered a won or lost stage
    stage_entered_at TEXT NOT NULL,
    custom           TEXT NOT NULL DEFAULT '{}',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    updated_by       TEXT NOT NULL,
    deleted_at       TEXT
) STRICT;
CREATE INDEX deals_by_stage    ON deals(stage_id, position, id);
-- The board's sums and the forecast read these alone (covering indexes:
-- deleted_at too, or SQLite reads the rows to check it).
CREATE INDEX deals_board_sums  ON deals(pipeline_id, stage_id, currency, amount, deleted_at)
    WHERE deleted_at IS NULL;
CREATE INDEX deals_by_pipeline ON deals(pipeline_id, status, close_date, stage_id, currency, amount,
    owner_id, deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX deals_by_status   ON deals(status, close_date, stage_id, currency, amount, owner_id, deleted_at)
    WHERE deleted_at IS NULL;
CREATE INDEX deals_by_closed   ON deals(status, closed_at) WHERE deleted_at IS NULL;
CREATE INDEX deals_by_title    ON deals(sort_title, id)   WHERE deleted_at IS NULL;
CREATE INDEX deals_by_created  ON deals(created_at, id)   WHERE deleted_at IS NULL;
CREATE INDEX deals_by_updated  ON deals(updated_at, id)   WHERE deleted_at IS NULL;
-- In the shapes lists sort nullable fields in: largest amounts first (read
-- backwards), nulls last; earliest close dates first, nulls last.
CREATE INDEX deals_by_owner    ON deals(owner_id, (amount) IS NOT NULL, amount, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_by_amount   ON deals((amount) IS NOT NULL, amount, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_by_close    ON deals((close_date) IS NULL, close_date, id) WHERE deleted_at IS NULL;
CREATE INDEX deals_by_company  ON deals(company_id);
CREATE INDEX deals_trash       ON deals(deleted_at)       WHERE deleted_at IS NOT NULL;

-- The people on a deal and the part each plays in it.
CREATE TABLE deal_contacts (
    deal_id    TEXT NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('decision_maker', 'champion', 'influencer', 'user', 'other')),
    position   INTEGER NOT NULL,
    PRIMARY KEY (deal_id, contact_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX deal_contacts_by_contact ON deal_contacts(contact_id);

-- Every stage change of a deal. Stage names are kept as they were then, so
-- history reads right after a stage is renamed or deleted.
CREATE TABLE deal_stage_changes (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    deal_id         TEXT NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
    from_stage_id   TEXT,                 -- NULL: the deal was created in to_stage
    from_stage_name TEXT,
    to_stage_id     TEXT NOT NULL,
    to_stage_name   TEXT NOT NULL,
    actor           TEXT NOT NULL,
    at              TEXT NOT NULL
) STRICT;
CREATE INDEX deal_stage_changes_by_deal ON deal_stage_changes(deal_id, seq);
CREATE INDEX deal_stage_changes_by_time ON deal_stage_changes(at);

-- Every organization starts with one pipeline. Ids are random in the UUID
-- text shape, so no two organizations share a stage id.
INSERT INTO pipelines (id, name, position, created_at, updated_at)
SELECT lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(h, 14, 3) || '-8'
             || substr(h, 18, 3) || '-' || substr(h, 21, 12)),
       'Sales', 0, s, s
FROM (SELECT hex(randomblob(16)) AS h, strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z' AS s);

INSERT INTO stages (id, pipeline_id, name, position, probability, kind, rotting_days)
SELECT lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(h, 14, 3) || '-8'
             || substr(h, 18, 3) || '-' || substr(h, 21, 12)),
       (SELECT id FROM pipelines), name, position, probability, kind, rotting
FROM (SELECT hex(randomblob(16)) AS h, column1 AS name, column2 AS position,
             column3 AS probability, column4 AS kind, column5 AS rotting
      FROM (VALUES ('Qualified', 0, 10, 'open', 30), ('Meeting', 1, 25, 'open', 21),
                   ('Proposal', 2, 50, 'open', 14), ('Negotiation', 3, 75, 'open', 14),
                   ('Won', 4, 100, 'won', NULL), ('Lost', 5, 0, 'lost', NULL)));
