-- Migration from schema version 1 (the first release) to version 2. It runs
-- inside the transaction that sets user_version to 2: it all happens or
-- none of it does.
--
-- What changes, and why:
--   * fetches refer to their catalog entry by id instead of copying its
--     name, product, version and OS into every row, and lose the index by
--     product: together they were two thirds of a database (30 nights of
--     50,000 fetches took 480 MB). Version 1 recognised single downloads
--     only and estimated no chance fit: method is 'single', chance NULL.
--   * Version 1 kept the first night an entry was listed as a column,
--     catalog.first_night, which a corrected rerun of that night could not
--     undo. Version 2 keeps what each night's catalog listed (listings).
--     Each version 1 first night becomes a listing of the entries first
--     listed that night, used by that night's run, so catalog_appeared
--     gives the first nights version 1 had.
--   * host_latest, so that questions about every host do not read every
--     night; metrics, for baselines.

-- The catalog, with the entries fetched but never listed added.
CREATE TABLE catalog_v2 (
    id         INTEGER PRIMARY KEY,
    entry      TEXT    NOT NULL UNIQUE,
    size       INTEGER,
    product    TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    os         TEXT    NOT NULL,
    os_version TEXT    NOT NULL,
    released   TEXT
);
INSERT INTO catalog_v2 (id, entry, size, product, version, os, os_version, released)
    SELECT id, entry, size, product, version, os, os_version, released FROM catalog ORDER BY id;
-- An entry fetched but never listed is described as its first fetch was
-- (SQLite takes the bare columns from the row with the min()).
INSERT INTO catalog_v2 (entry, size, product, version, os, os_version)
    SELECT entry, NULL, product, version, os, '' FROM (
        SELECT entry, product, version, os, min(fetched) FROM fetches
        WHERE entry NOT IN (SELECT entry FROM catalog) GROUP BY entry)
    ORDER BY entry;
CREATE TEMP TABLE v1_first_night AS SELECT entry, first_night FROM catalog;

CREATE TABLE fetches_v2 (
    run     INTEGER NOT NULL REFERENCES runs (id),
    addr    TEXT    NOT NULL,
    entry   INTEGER NOT NULL REFERENCES catalog_v2 (id),
    fetched TEXT    NOT NULL,
    chance  REAL,
    method  TEXT    NOT NULL DEFAULT 'single'
            CHECK (method IN ('single', 'connection', 'os-search')),
    PRIMARY KEY (run, addr, entry, fetched)
) WITHOUT ROWID;
INSERT INTO fetches_v2 (run, addr, entry, fetched, chance, method)
    SELECT f.run, f.addr, c.id, f.fetched, NULL, 'single' FROM fetches f JOIN catalog_v2 c ON c.entry = f.entry;

DROP TABLE fetches;
DROP TABLE catalog;
-- Renaming also renames fetches_v2's reference to catalog_v2.
ALTER TABLE catalog_v2 RENAME TO catalog;
ALTER TABLE fetches_v2 RENAME TO fetches;
CREATE INDEX fetches_by_entry ON fetches (entry, addr, fetched);
CREATE INDEX catalog_by_product ON catalog (product, os);

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
CREATE INDEX runs_by_listing ON runs (listing, night);
INSERT INTO listings (digest)
    SELECT DISTINCT 'v1 first night ' || first_night FROM v1_first_night ORDER BY first_night;
INSERT INTO listing_entries (listing, entry)
    SELECT l.id, c.id FROM v1_first_night v
    JOIN catalog c ON c.entry = v.entry
    JOIN listings l ON l.digest = 'v1 first night ' || v.first_night;
UPDATE runs SET listing = (SELECT id FROM listings WHERE digest = 'v1 first night ' || runs.night);
DROP TABLE v1_first_night;

CREATE TABLE host_latest (
    addr        TEXT PRIMARY KEY,
    last_night  TEXT NOT NULL,
    last_seen   TEXT,
    known_night TEXT,
    os          TEXT NOT NULL,
    os_version  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO host_latest (addr, last_night, last_seen, known_night, os, os_version)
    SELECT a.addr, a.last_night, a.last_seen, a.known_night, COALESCE(k.os, ''), COALESCE(k.os_version, '')
    FROM (SELECT h.addr, max(r.night) AS last_night,
                 max(COALESCE(h.last_seen, r.last_flow, r.started)) AS last_seen,
                 max(CASE WHEN h.os != '' THEN r.night END) AS known_night
          FROM hosts h JOIN runs r ON r.id = h.run GROUP BY h.addr) a
    LEFT JOIN runs kr ON kr.night = a.known_night
    LEFT JOIN hosts k ON k.run = kr.id AND k.addr = a.addr;

CREATE TABLE metrics (
    run    INTEGER NOT NULL REFERENCES runs (id),
    metric TEXT    NOT NULL,
    key    TEXT    NOT NULL,
    value  REAL    NOT NULL,
    PRIMARY KEY (run, metric, key)
) WITHOUT ROWID;
CREATE INDEX metrics_by_metric ON metrics (metric, run);

-- catalog_appeared: when each listed catalog entry appeared: its release
-- date where the catalog gives one, else the start of the first night that
-- listed it (its first flow; its start when it had no flows).
CREATE VIEW catalog_appeared AS
SELECT c.id, c.entry, c.size, c.product, c.version, c.os, c.os_version, c.released,
       f.night AS first_night,
       COALESCE(c.released, f.first_flow, f.started) AS appeared
FROM catalog c
JOIN runs f ON f.night = (SELECT min(r.night) FROM listing_entries le JOIN runs r ON r.listing = le.listing
                          WHERE le.entry = c.id);
