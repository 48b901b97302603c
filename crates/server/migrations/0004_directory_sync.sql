-- Directory sync: every attribute that matching and the Single Object Report use, a digest per
-- object so an import tells changed objects from unchanged ones without reading them back, the
-- connection and cursor of each directory, match profiles, messages per object and the schedule.

ALTER TABLE directory_objects ADD COLUMN dn TEXT;
ALTER TABLE directory_objects ADD COLUMN given_name TEXT;
ALTER TABLE directory_objects ADD COLUMN surname TEXT;
-- SIDs separated by spaces.
ALTER TABLE directory_objects ADD COLUMN sid_history TEXT;
-- Member GUIDs separated by spaces.
ALTER TABLE directory_objects ADD COLUMN members TEXT;
ALTER TABLE directory_objects ADD COLUMN device_id TEXT;
-- 1 enabled, 0 disabled, NULL unknown.
ALTER TABLE directory_objects ADD COLUMN enabled BIGINT;
-- DirectoryObject::digest, as a signed 64-bit number.
ALTER TABLE directory_objects ADD COLUMN digest BIGINT NOT NULL DEFAULT 0;
-- Registration looks computers up by name ignoring case; users and groups, nine in ten objects,
-- need not pay for that index on every import.
DROP INDEX directory_objects_name;
CREATE INDEX directory_objects_computer_name ON directory_objects (LOWER(name)) WHERE kind = 'Computer';

-- How the directory is read (JSON without secrets), its sealed secret (bind password or client
-- secret), where the next incremental read starts, and a number every import raises so a replica
-- knows when its in-memory copy of the directory is stale.
ALTER TABLE directories ADD COLUMN connection TEXT;
ALTER TABLE directories ADD COLUMN connection_secret TEXT;
ALTER TABLE directories ADD COLUMN cursor TEXT;
ALTER TABLE directories ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;

-- Which rule paired the objects: `sIDHistory` or `rules[N]`.
ALTER TABLE translations ADD COLUMN rule TEXT;

-- The match profile of each source and target pair, and a number every match run raises.
CREATE TABLE match_pairs (
    source_directory TEXT NOT NULL,
    target_directory TEXT NOT NULL,
    profile TEXT NOT NULL,
    generation BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source_directory, target_directory)
);

-- The latest word of each stage (import, or matching into a target directory) on an object.
CREATE TABLE object_messages (
    directory TEXT NOT NULL,
    guid TEXT NOT NULL,
    stage TEXT NOT NULL,
    at BIGINT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (directory, guid, stage)
);

-- The import and match cycle: off until an engineer turns it on.
CREATE TABLE sync_schedule (
    id TEXT PRIMARY KEY,
    enabled BIGINT NOT NULL,
    interval_minutes BIGINT NOT NULL,
    last_started BIGINT,
    last_finished BIGINT,
    last_error TEXT
);
