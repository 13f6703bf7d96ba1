-- Migration from schema version 1 (the first release) to version 2. It runs
-- inside the transaction that sets user_version to 2: it all happens or
-- none of it does.

-- Version 1 recognised single downloads only and estimated no chance fit.
ALTER TABLE fetches ADD COLUMN chance REAL;
ALTER TABLE fetches ADD COLUMN method TEXT NOT NULL DEFAULT 'single'
    CHECK (method IN ('single', 'connection', 'os-search'));
CREATE INDEX fetches_by_product ON fetches (product, os);
-- Whether a host fetched an entry before is asked by entry and host.
DROP INDEX fetches_by_entry;
CREATE INDEX fetches_by_entry ON fetches (entry, addr, fetched);

-- Version 1 kept the first night an entry was listed as a column,
-- catalog.first_night, which a corrected rerun of that night could not
-- undo. Version 2 keeps what each run's catalog listed. Each first night
-- becomes a listing of the entries first listed that night, used by that
-- night's run, so catalog_appeared gives the first nights version 1 had.
CREATE TABLE listings (
    id     INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE
);
CREATE TABLE listing_entries (
    listing INTEGER NOT NULL REFERENCES listings (id),
    entry   INTEGER NOT NULL REFERENCES catalog (id),
    PRIMARY KEY (listing, entry)
) WITHOUT ROWID;
CREATE INDEX listing_entries_by_entry ON listing_entries (entry, listing);
ALTER TABLE runs ADD COLUMN listing INTEGER REFERENCES listings (id);
INSERT INTO listings (digest)
    SELECT DISTINCT 'v1 first night ' || first_night FROM catalog ORDER BY first_night;
INSERT INTO listing_entries (listing, entry)
    SELECT l.id, c.id FROM catalog c JOIN listings l ON l.digest = 'v1 first night ' || c.first_night;
UPDATE runs SET listing = (SELECT id FROM listings WHERE digest = 'v1 first night ' || runs.night);
ALTER TABLE catalog DROP COLUMN first_night;

-- Baselines for later nights are new in version 2.
CREATE TABLE metrics (
    run    INTEGER NOT NULL REFERENCES runs (id),
    metric TEXT    NOT NULL,
    key    TEXT    NOT NULL,
    value  REAL    NOT NULL,
    PRIMARY KEY (run, metric, key)
) WITHOUT ROWID;
CREATE INDEX metrics_by_metric ON metrics (metric, run);

-- catalog_appeared: when each catalog entry appeared: its release date
-- where the catalog gives one, else the start of the first night that
-- listed it (its first flow; its start when it had no flows).
CREATE VIEW catalog_appeared AS
SELECT c.id, c.entry, c.size, c.product, c.version, c.os, c.os_version, c.released,
       f.night AS first_night,
       COALESCE(c.released, f.first_flow, f.started) AS appeared
FROM catalog c
JOIN (SELECT le.entry, r.night, r.first_flow, r.started,
             ROW_NUMBER() OVER (PARTITION BY le.entry ORDER BY r.night) AS n
      FROM listing_entries le JOIN runs r ON r.listing = le.listing) f
  ON f.entry = c.id AND f.n = 1;
