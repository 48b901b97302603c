-- The console's translation table is read a page at a time in name order: the index walks the
-- rows in that order, so a page does not sort the whole table.
CREATE INDEX translations_by_source_name ON translations (source_name, source_guid);

-- The object types an import of a directory keeps, space-separated (`User Group Computer
-- Contact`); none stored: every type.
ALTER TABLE directories ADD COLUMN import_kinds TEXT;

-- The fleet's reports (User Profile Report, Agent Details) are read a page at a time by
-- computer name.
CREATE INDEX agents_by_name ON agents (computer_name, id);

-- The sync message log is read newest first.
CREATE INDEX object_messages_at ON object_messages (at);
