-- The indexes behind the console's searches on SQLite, created at every start when missing: the
-- translation table's names and UPNs lower-cased, so a search for the start of one reads a
-- range of an index rather than every row (`translation_pages.rs`), and the target SIDs, so a
-- whole SID is found as the source SIDs are.
CREATE INDEX IF NOT EXISTS translations_source_name_lower ON translations (LOWER(source_name));
CREATE INDEX IF NOT EXISTS translations_target_name_lower ON translations (LOWER(target_name));
CREATE INDEX IF NOT EXISTS translations_source_upn_lower ON translations (LOWER(source_upn));
CREATE INDEX IF NOT EXISTS translations_target_upn_lower ON translations (LOWER(target_upn));
CREATE INDEX IF NOT EXISTS translations_target_sid ON translations (target_sid);

-- The Single Object Report's search: the start of an object's name, UPN, sAMAccountName or mail.
CREATE INDEX IF NOT EXISTS directory_objects_name_lower ON directory_objects (LOWER(name));
CREATE INDEX IF NOT EXISTS directory_objects_upn_lower ON directory_objects (LOWER(upn));
CREATE INDEX IF NOT EXISTS directory_objects_sam_lower ON directory_objects (LOWER(sam));
CREATE INDEX IF NOT EXISTS directory_objects_mail_lower ON directory_objects (LOWER(mail));

-- The User Profile Report's user filter: the start of a profile's folder name (the path after
-- its last backslash: the path without what `rtrim` leaves when it strips every character but
-- the backslash) and of its SID. The searches repeat these expressions exactly
-- (`profile_pages.rs`).
CREATE INDEX IF NOT EXISTS harvested_profiles_folder_lower ON harvested_profiles (LOWER(replace(path, rtrim(path, replace(path, '\', '')), '')));
CREATE INDEX IF NOT EXISTS harvested_profiles_sid_lower ON harvested_profiles (LOWER(sid));
