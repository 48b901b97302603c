-- The console's tables read a page after or before a row by its whole sort key (keyset paging):
-- an index on every column of each key finds that row however deep it lies.
CREATE INDEX batch_devices_seek ON batch_devices (name_key, computer, batch, runbook);
CREATE INDEX batch_devices_batch_seek ON batch_devices (batch, name_key, computer, runbook);
CREATE INDEX translations_seek ON translations (source_name, source_guid, target_directory);
