-- The indexes behind the console's searches on PostgreSQL, created at every start when missing
-- (see sqlite.sql). The lower-cased columns are ordered byte by byte (collation "C"), as the
-- searches compare them, so a range of one holds exactly the values that start with a text.
CREATE INDEX IF NOT EXISTS translations_source_name_lower ON translations ((LOWER(source_name)) COLLATE "C");
CREATE INDEX IF NOT EXISTS translations_target_name_lower ON translations ((LOWER(target_name)) COLLATE "C");
CREATE INDEX IF NOT EXISTS translations_source_upn_lower ON translations ((LOWER(source_upn)) COLLATE "C");
CREATE INDEX IF NOT EXISTS translations_target_upn_lower ON translations ((LOWER(target_upn)) COLLATE "C");
CREATE INDEX IF NOT EXISTS translations_target_sid ON translations (target_sid);
-- The start of a SID, byte by byte whatever the database's collation.
CREATE INDEX IF NOT EXISTS translations_source_sid_c ON translations (source_sid COLLATE "C");
CREATE INDEX IF NOT EXISTS translations_target_sid_c ON translations (target_sid COLLATE "C");

-- The Single Object Report's search: the start of an object's name, UPN, sAMAccountName or mail.
CREATE INDEX IF NOT EXISTS directory_objects_name_lower ON directory_objects ((LOWER(name)) COLLATE "C");
CREATE INDEX IF NOT EXISTS directory_objects_upn_lower ON directory_objects ((LOWER(upn)) COLLATE "C");
CREATE INDEX IF NOT EXISTS directory_objects_sam_lower ON directory_objects ((LOWER(sam)) COLLATE "C");
CREATE INDEX IF NOT EXISTS directory_objects_mail_lower ON directory_objects ((LOWER(mail)) COLLATE "C");

-- The User Profile Report's user filter: the start of a profile's folder name (the path after
-- its last backslash) and of its SID. The searches repeat these expressions exactly.
CREATE INDEX IF NOT EXISTS harvested_profiles_folder_lower ON harvested_profiles ((LOWER(regexp_replace(path, '^.*\\', ''))) COLLATE "C");
CREATE INDEX IF NOT EXISTS harvested_profiles_sid_lower ON harvested_profiles ((LOWER(sid)) COLLATE "C");
