-- Migration from schema version 2 to version 3. It runs inside the
-- transaction that sets user_version to 3: it all happens or none of it
-- does.
--
-- What changes, and why: a host's traffic may fit a catalog file without
-- naming it (a lossy download, a keep-alive connection of several
-- responses); version 3 keeps those files as possibly fetched, so that the
-- hosts missing an update are only those that could not have fetched it.
-- Nights written by version 2 have no possible fetches.

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

