-- Every SID an object may appear under on a device. An Entra object synchronised from AD keeps
-- its AD SID and its source anchor beside its own S-1-12-1 SID.
ALTER TABLE directory_objects ADD COLUMN on_premises_sid TEXT;
ALTER TABLE directory_objects ADD COLUMN immutable_id TEXT;

-- Both sides of a translation row carry the same: the target's on-premises SID lets a device that
-- joins AD get the AD SID of a synchronised target, and the source's SIDs (own, on-premises,
-- sIDHistory, separated by spaces) are all looked up when a device asks.
ALTER TABLE translations ADD COLUMN source_on_premises_sid TEXT;
ALTER TABLE translations ADD COLUMN source_sid_history TEXT;
ALTER TABLE translations ADD COLUMN target_on_premises_sid TEXT;
ALTER TABLE translations ADD COLUMN target_sid_history TEXT;

-- One row per SID of a translated source object, so a device's SIDs find their rows by index.
CREATE TABLE translation_sids (
    target_directory TEXT NOT NULL,
    sid TEXT NOT NULL,
    source_directory TEXT NOT NULL,
    source_guid TEXT NOT NULL,
    PRIMARY KEY (target_directory, sid, source_directory, source_guid)
);
CREATE INDEX translation_sids_source ON translation_sids (source_directory, target_directory, source_guid);

-- Rows matched before this migration: their one source SID.
INSERT INTO translation_sids (target_directory, sid, source_directory, source_guid)
SELECT target_directory, source_sid, source_directory, source_guid FROM translations;
