-- Schema version 1, the first release of the history database, with three
-- nights of data: what TestMigrateV1 migrates (go test -run TestMigrateV1
-- -update-fixture rewrites v1.db from this file).
PRAGMA application_id = 1179012183;
PRAGMA user_version = 1;

CREATE TABLE runs (
    id                 INTEGER PRIMARY KEY,
    night              TEXT    NOT NULL UNIQUE,
    first_flow         TEXT,
    last_flow          TEXT,
    started            TEXT,
    finished           TEXT,
    flows              INTEGER NOT NULL,
    files_read         INTEGER NOT NULL,
    files_skipped      INTEGER NOT NULL,
    hosts              INTEGER NOT NULL,
    downloads          INTEGER NOT NULL,
    named              INTEGER NOT NULL,
    fingerflow_version TEXT    NOT NULL,
    model_path         TEXT    NOT NULL,
    model_hash         TEXT    NOT NULL,
    catalog_path       TEXT    NOT NULL,
    catalog_hash       TEXT    NOT NULL,
    schema_version     INTEGER NOT NULL
);
CREATE TABLE hosts (
    run                 INTEGER NOT NULL REFERENCES runs (id),
    addr                TEXT    NOT NULL,
    first_seen          TEXT,
    last_seen           TEXT,
    os                  TEXT    NOT NULL,
    os_version          TEXT    NOT NULL,
    confidence          REAL    NOT NULL,
    evidence            TEXT    NOT NULL,
    cluster             INTEGER,
    cluster_description TEXT    NOT NULL,
    bytes_in            INTEGER NOT NULL,
    bytes_out           INTEGER NOT NULL,
    flows               INTEGER NOT NULL,
    PRIMARY KEY (run, addr)
) WITHOUT ROWID;
CREATE INDEX hosts_by_addr ON hosts (addr, run);
CREATE TABLE fetches (
    run     INTEGER NOT NULL REFERENCES runs (id),
    addr    TEXT    NOT NULL,
    entry   TEXT    NOT NULL,
    fetched TEXT    NOT NULL,
    product TEXT    NOT NULL,
    version TEXT    NOT NULL,
    os      TEXT    NOT NULL,
    PRIMARY KEY (run, addr, entry, fetched)
) WITHOUT ROWID;
CREATE INDEX fetches_by_entry ON fetches (entry, fetched);
CREATE TABLE catalog (
    id          INTEGER PRIMARY KEY,
    entry       TEXT    NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    product     TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    os          TEXT    NOT NULL,
    os_version  TEXT    NOT NULL,
    released    TEXT,
    first_night TEXT    NOT NULL
);

INSERT INTO runs VALUES
 (1, '2026-11-20', '2026-11-20T19:00:00.000Z', '2026-11-21T06:59:59.000Z', '2026-11-21T07:05:00.000Z', '2026-11-21T07:06:00.000Z', 1000, 12, 0, 3, 5, 4, '0.1.0', 'lab.ffm', 'sha256:aa', 'cat.csv', 'sha256:c1', 1),
 (2, '2026-11-21', '2026-11-21T19:00:00.000Z', '2026-11-22T06:59:59.000Z', '2026-11-22T07:05:00.000Z', '2026-11-22T07:06:00.000Z', 1100, 12, 1, 3, 4, 3, '0.1.0', 'lab.ffm', 'sha256:aa', 'cat.csv', 'sha256:c2', 1),
 (3, '2026-11-22', '2026-11-22T19:00:00.000Z', '2026-11-23T06:59:59.000Z', '2026-11-23T07:05:00.000Z', '2026-11-23T07:06:00.000Z', 900, 12, 0, 2, 2, 2, '0.1.0', 'lab.ffm', 'sha256:aa', 'cat.csv', 'sha256:c2', 1);

INSERT INTO hosts VALUES
 (1, '10.0.0.5', '2026-11-20T19:01:00.000Z', '2026-11-21T06:50:00.000Z', 'debian', '12', 0.9, 'fetched 2 debian catalog files', 0, 'quiet clients', 1000, 200000, 40),
 (1, '10.0.0.6', '2026-11-20T19:02:00.000Z', '2026-11-21T06:51:00.000Z', 'debian', '12', 0.8, 'fetched 1 debian catalog file', 0, 'quiet clients', 500, 100000, 20),
 (1, '10.0.0.7', '2026-11-20T19:03:00.000Z', '2026-11-21T06:52:00.000Z', '', '', 0, 'no evidence', 1, 'servers on 53/udp', 9000, 9000, 300),
 (2, '10.0.0.5', '2026-11-21T19:01:00.000Z', '2026-11-22T06:50:00.000Z', 'debian', '12', 0.95, 'fetched 1 debian catalog file', 0, 'quiet clients', 1000, 300000, 41),
 (2, '10.0.0.6', '2026-11-21T19:02:00.000Z', '2026-11-22T06:51:00.000Z', 'debian', '12', 0.7, 'fetched nothing new', 0, 'quiet clients', 400, 1000, 18),
 (2, '10.0.0.7', '2026-11-21T19:03:00.000Z', '2026-11-22T06:52:00.000Z', '', '', 0, 'no evidence', 1, 'servers on 53/udp', 9100, 9100, 310),
 (3, '10.0.0.5', '2026-11-22T19:01:00.000Z', '2026-11-23T06:50:00.000Z', 'debian', '12', 0.95, 'fetched 1 debian catalog file', 0, 'quiet clients', 1000, 300000, 41),
 (3, '10.0.0.6', '2026-11-22T19:02:00.000Z', '2026-11-23T06:51:00.000Z', 'debian', '12', 0.7, 'fetched nothing new', 0, 'quiet clients', 400, 1000, 18);

INSERT INTO catalog VALUES
 (1, 'openssl_3.0.14-1~deb12u1_amd64.deb', 2100000, 'openssl', '3.0.14-1~deb12u1', 'debian', '12', NULL, '2026-11-20'),
 (2, 'curl_7.88.1-10+deb12u7_amd64.deb', 315000, 'curl', '7.88.1-10+deb12u7', 'debian', '12', NULL, '2026-11-20'),
 (3, 'openssl_3.0.15-1~deb12u1_amd64.deb', 2110000, 'openssl', '3.0.15-1~deb12u1', 'debian', '12', NULL, '2026-11-21'),
 (4, 'KB5046613.msu', 690000000, 'KB5046613', '', 'windows', '11', '2026-11-12T00:00:00.000Z', '2026-11-21');

INSERT INTO fetches VALUES
 (1, '10.0.0.5', 'openssl_3.0.14-1~deb12u1_amd64.deb', '2026-11-20T20:00:00.000Z', 'openssl', '3.0.14-1~deb12u1', 'debian'),
 (1, '10.0.0.5', 'curl_7.88.1-10+deb12u7_amd64.deb', '2026-11-20T20:00:05.000Z', 'curl', '7.88.1-10+deb12u7', 'debian'),
 (1, '10.0.0.6', 'openssl_3.0.14-1~deb12u1_amd64.deb', '2026-11-20T21:00:00.000Z', 'openssl', '3.0.14-1~deb12u1', 'debian'),
 (2, '10.0.0.5', 'openssl_3.0.15-1~deb12u1_amd64.deb', '2026-11-21T20:00:00.000Z', 'openssl', '3.0.15-1~deb12u1', 'debian'),
 (3, '10.0.0.5', 'openssl_3.0.15-1~deb12u1_amd64.deb', '2026-11-22T20:00:00.000Z', 'openssl', '3.0.15-1~deb12u1', 'debian'),
 (3, '10.0.0.6', 'libc6_2.36-9+deb12u9_amd64.deb', '2026-11-22T21:00:00.000Z', 'glibc', '2.36-9+deb12u9', 'debian');
