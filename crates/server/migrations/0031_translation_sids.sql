-- A translation row's own source SID is found through the row itself (`translations_source_sid`):
-- `translation_sids` keeps only a source's other SIDs (on-premises, sIDHistory), so a match run
-- of objects with one SID each writes nothing there.
DELETE FROM translation_sids WHERE EXISTS (
    SELECT 1 FROM translations t
    WHERE t.source_directory = translation_sids.source_directory
      AND t.source_guid = translation_sids.source_guid
      AND t.target_directory = translation_sids.target_directory
      AND t.source_sid = translation_sids.sid
);
