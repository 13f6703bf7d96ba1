-- fingerflow history database, schema version 3.
--
-- PRAGMA application_id is 0x46464C57 ("FFLW"): the file is fingerflow's.
-- PRAGMA user_version is the schema version (this file: 3). Version 1 was
-- the first release; migrate_2.sql turns a version 1 file into a version
-- 2 one, migrate_3.sql a version 2 file into this one.
--
-- Conventions:
--   * Times are TEXT in UTC, 'YYYY-MM-DDTHH:MM:SS.mmmZ' (milliseconds), so
--     that they compare and sort as text; NULL when unknown.
--   * Addresses are TEXT in netip.Addr form (IPv4 unmapped: 10.0.0.7).
--   * An OS family is lower case ('debian', 'windows'); '' means unknown.
--   * Night keys sort in time order ('2026-11-22', or
--     '2026-11-22/2026-11-23' for a night across two UTC dates).
--   * Nothing is a running total: "first seen", "times fetched", "first
--     night listed" are queries over runs, so writing a night twice (which
--     replaces it) counts nothing twice.

-- runs: one row per night written. Writing a night that exists deletes its
-- rows here and in hosts, fetches, possible and metrics, then inserts the
-- new ones, in one transaction.
CREATE TABLE runs (
    id                 INTEGER PRIMARY KEY,
    night              TEXT    NOT NULL UNIQUE,  -- the night's key
    first_flow         TEXT,                     -- earliest flow start of the night
    last_flow          TEXT,                     -- latest flow end of the night
    started            TEXT,                     -- wall clock when the run began
    finished           TEXT,                     -- wall clock when it wrote this row
    flows              INTEGER NOT NULL,         -- flows read
    files_read         INTEGER NOT NULL,
    files_skipped      INTEGER NOT NULL,
    hosts              INTEGER NOT NULL,         -- hosts seen (as the run counted them)
    downloads          INTEGER NOT NULL,         -- downloads found
    named              INTEGER NOT NULL,         -- downloads named as a catalog entry
    fingerflow_version TEXT    NOT NULL,
    model_path         TEXT    NOT NULL,
    model_hash         TEXT    NOT NULL,         -- content hash of the model file
    catalog_path       TEXT    NOT NULL,
    catalog_hash       TEXT    NOT NULL,         -- content hash of the catalog file
    schema_version     INTEGER NOT NULL,         -- schema version of the code that wrote the row
    listing            INTEGER REFERENCES listings (id) -- what the catalog listed; NULL if not given
);

-- hosts: one row per internal host and night, with the night's verdict.
CREATE TABLE hosts (
    run                 INTEGER NOT NULL REFERENCES runs (id),
    addr                TEXT    NOT NULL,
    first_seen          TEXT,                    -- first flow of the host that night
    last_seen           TEXT,                    -- last flow of the host that night
    os                  TEXT    NOT NULL,        -- likely OS family; '' unknown
    os_version          TEXT    NOT NULL,        -- '' when the evidence does not say
    confidence          REAL    NOT NULL,        -- 0..1
    evidence            TEXT    NOT NULL,        -- the evidence, in words
    cluster             INTEGER,                 -- host cluster number; NULL when not clustered
    cluster_description TEXT    NOT NULL,
    bytes_in            INTEGER NOT NULL,
    bytes_out           INTEGER NOT NULL,
    flows               INTEGER NOT NULL,
    PRIMARY KEY (run, addr)
) WITHOUT ROWID;
CREATE INDEX hosts_by_addr ON hosts (addr, run);

-- host_latest: per address, what the latest nights say of it, so that
-- questions about every host need not read every night. It holds exactly
-- what this query over hosts gives (TestHostLatest checks it):
--   last_night  = max(night) of the address's rows,
--   last_seen   = max(COALESCE(hosts.last_seen, runs.last_flow, runs.started)),
--   known_night = max(night) of its rows with os != '',
--   os, os_version of its row on known_night.
-- WriteRun merges a night later than all others into it, and recomputes
-- from hosts the addresses of a night written out of order or replaced.
CREATE TABLE host_latest (
    addr        TEXT PRIMARY KEY,
    last_night  TEXT NOT NULL,                   -- the latest night that saw it
    last_seen   TEXT,                            -- its latest flow
    known_night TEXT,                            -- the latest night with an OS verdict; NULL none
    os          TEXT NOT NULL,                   -- that verdict ('' none)
    os_version  TEXT NOT NULL
) WITHOUT ROWID;

-- fetches: one row per catalog file a host fetched that night. The entry's
-- product, version and OS are in catalog. The same host, entry and time
-- given twice in a night is kept once.
CREATE TABLE fetches (
    run     INTEGER NOT NULL REFERENCES runs (id),
    addr    TEXT    NOT NULL,
    entry   INTEGER NOT NULL REFERENCES catalog (id),
    fetched TEXT    NOT NULL,                    -- when the download started
    chance  REAL,                                -- chance that the fit is a coincidence; NULL not estimated
    method  TEXT    NOT NULL DEFAULT 'single'    -- how it was recognised
            CHECK (method IN ('single', 'connection', 'os-search')),
    PRIMARY KEY (run, addr, entry, fetched)
) WITHOUT ROWID;
CREATE INDEX fetches_by_entry ON fetches (entry, addr, fetched);

-- possible: one row per catalog file a host may have fetched that night
-- although its traffic does not show it did: a download or keep-alive
-- connection whose counters fit the file among other combinations (lost
-- packets, several responses) without naming it. Such a host neither
-- fetched the file nor is missing it. The same host and entry in a night
-- is kept once, with the earliest download that could hold it.
CREATE TABLE possible (
    run   INTEGER NOT NULL REFERENCES runs (id),
    addr  TEXT    NOT NULL,
    entry INTEGER NOT NULL REFERENCES catalog (id),
    at    TEXT    NOT NULL,                      -- when that download started
    PRIMARY KEY (run, addr, entry)
) WITHOUT ROWID;
CREATE INDEX possible_by_entry ON possible (entry, addr, at);

-- catalog: every entry a night's catalog listed or a host fetched, as the
-- latest new listing written described it (an entry never listed, as its
-- first fetch written did). Entries no listing holds and no fetch or
-- possible fetch names are deleted.
CREATE TABLE catalog (
    id         INTEGER PRIMARY KEY,
    entry      TEXT    NOT NULL UNIQUE,          -- file name
    size       INTEGER,                          -- bytes; NULL for an entry only fetched
    product    TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    os         TEXT    NOT NULL,                 -- '' when the catalog gives none
    os_version TEXT    NOT NULL,
    released   TEXT                              -- NULL when the catalog gives no date
);
CREATE INDEX catalog_by_product ON catalog (product, os);

-- listings and listing_entries: what each distinct catalog listed, stored
-- once however many nights used it (digest: SHA-256 of the entries as
-- written). The first night an entry was listed is the earliest run whose
-- listing holds it (view catalog_appeared), so a corrected rerun of that
-- night corrects it too. Listings no run refers to are deleted, and
-- catalog rows no listing holds.
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
CREATE INDEX runs_by_listing ON runs (listing, night);

-- metrics: generic per-night baselines later nights compare against
-- (flows per service port, flood alarm inputs, ...).
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
