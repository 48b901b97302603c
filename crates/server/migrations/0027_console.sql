-- `translations_seek` (source_name, source_guid, target_directory) answers everything
-- `translations_by_source_name` (source_name, source_guid) did, as its first columns are that
-- index's; each match writes one index fewer.
DROP INDEX IF EXISTS translations_by_source_name;
