-- The User Profile Report walks each computer's profiles in folder order from this index alone,
-- so a page (or the key of a page typed by number) does not read the profiles' rows.
CREATE INDEX harvested_profiles_by_path ON harvested_profiles (agent, path, sid);

-- Failed Communications and the sync message log are read newest first by their whole sort key
-- (keyset paging), each page after or before a row found through these indexes.
CREATE INDEX failed_communications_seek ON failed_communications (at, id);
CREATE INDEX object_messages_seek ON object_messages (at, directory, guid, stage);
