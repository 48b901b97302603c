-- DirSync export: sync profiles of type Match only or Create or Update, and the record of every
-- export run of a source and target pair.

-- One profile per object kind and pair; the rest of the profile (scope, attribute flow,
-- containers, deletion policy) is JSON.
CREATE TABLE sync_profiles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source_directory TEXT NOT NULL,
    target_directory TEXT NOT NULL,
    kind TEXT NOT NULL,
    mode TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sync_profiles_pair_kind ON sync_profiles (source_directory, target_directory, kind);
CREATE UNIQUE INDEX sync_profiles_name ON sync_profiles (name);

-- One export of a pair: what it wrote, and why it stopped if it did not finish.
CREATE TABLE export_runs (
    id TEXT PRIMARY KEY,
    source_directory TEXT NOT NULL,
    target_directory TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    moved BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    memberships BIGINT NOT NULL,
    refused BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    operations BIGINT NOT NULL,
    error TEXT,
    -- Raised by one with every run recorded, so runs of one instant keep their order.
    recorded BIGINT NOT NULL
);
CREATE INDEX export_runs_pair ON export_runs (source_directory, target_directory, recorded);
