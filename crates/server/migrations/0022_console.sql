-- The console's tables read a page after or before a row by its whole sort key (keyset paging):
-- an index on every column of each key finds that row however deep it lies.
CREATE INDEX batch_devices_seek ON batch_devices (name_key, computer, batch, runbook);
CREATE INDEX batch_devices_batch_seek ON batch_devices (batch, name_key, computer, runbook);
CREATE INDEX translations_seek ON translations (source_name, source_guid, target_directory);

-- The Single Object Report finds a user's profiles by SID and the rows that translate to an
-- object by the target side, each through an index rather than reading every row.
CREATE INDEX harvested_profiles_sid ON harvested_profiles (sid);
CREATE INDEX translations_target ON translations (target_directory, target_guid);

-- Agent Logs across the fleet, newest first: walked backwards through this index, a page (or
-- the page after a key) reads only its own events.
CREATE INDEX agent_events_newest ON agent_events (at, agent, seq);
