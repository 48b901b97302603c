-- `object_messages_seek` (at, directory, guid, stage) answers everything `object_messages_at`
-- (at) did, as its first column is that index's; each message a match run or an import writes
-- changes one index fewer.
DROP INDEX IF EXISTS object_messages_at;
