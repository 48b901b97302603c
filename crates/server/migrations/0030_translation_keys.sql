-- The translation tables keep their keys in unique indexes of their own rather than as primary
-- keys. The rows, the columns and the uniqueness are the same; but a store's first match run on
-- SQLite, which drops the indexes of the empty tables and builds each again from one sorted
-- pass (`store/bulk.rs`), can now build the keys that way too: inserted a row at a time, a
-- million keys in GUID and SID order changed pages at random all over two large indexes, which
-- took most of the run.
CREATE TABLE translations_keyed (
    kind TEXT NOT NULL,
    source_directory TEXT NOT NULL,
    source_guid TEXT NOT NULL,
    source_sid TEXT NOT NULL,
    source_upn TEXT,
    source_name TEXT NOT NULL,
    target_directory TEXT NOT NULL,
    target_guid TEXT NOT NULL,
    target_sid TEXT NOT NULL,
    target_upn TEXT,
    target_name TEXT NOT NULL,
    matched_at BIGINT NOT NULL,
    rule TEXT,
    source_on_premises_sid TEXT,
    source_sid_history TEXT,
    target_on_premises_sid TEXT,
    target_sid_history TEXT
);
INSERT INTO translations_keyed (kind, source_directory, source_guid, source_sid, source_upn,
    source_name, target_directory, target_guid, target_sid, target_upn, target_name, matched_at,
    rule, source_on_premises_sid, source_sid_history, target_on_premises_sid, target_sid_history)
SELECT kind, source_directory, source_guid, source_sid, source_upn, source_name,
    target_directory, target_guid, target_sid, target_upn, target_name, matched_at, rule,
    source_on_premises_sid, source_sid_history, target_on_premises_sid, target_sid_history
FROM translations;
DROP TABLE translations;
ALTER TABLE translations_keyed RENAME TO translations;
CREATE UNIQUE INDEX translations_key ON translations (source_directory, source_guid, target_directory);
CREATE INDEX translations_source_sid ON translations (source_sid);
CREATE INDEX translations_seek ON translations (source_name, source_guid, target_directory);
CREATE INDEX translations_target ON translations (target_directory, target_guid);
-- The console's search indexes (`store/console_indexes/`) are built again at the next start.

CREATE TABLE translation_sids_keyed (
    target_directory TEXT NOT NULL,
    sid TEXT NOT NULL,
    source_directory TEXT NOT NULL,
    source_guid TEXT NOT NULL
);
INSERT INTO translation_sids_keyed (target_directory, sid, source_directory, source_guid)
SELECT target_directory, sid, source_directory, source_guid FROM translation_sids;
DROP TABLE translation_sids;
ALTER TABLE translation_sids_keyed RENAME TO translation_sids;
CREATE UNIQUE INDEX translation_sids_key ON translation_sids (target_directory, sid, source_directory, source_guid);
CREATE INDEX translation_sids_source ON translation_sids (source_directory, target_directory, source_guid);
