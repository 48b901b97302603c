-- A run that ended in Error can be retried from the server: `retries` counts the retries asked
-- for, and the device runs the runbook again (from its journal) when the count it is sent is
-- higher than the one it last honoured.
ALTER TABLE agent_runs ADD COLUMN retries BIGINT NOT NULL DEFAULT 0;

-- The user signed in at the device's console, as the agent last reported it.
ALTER TABLE agents ADD COLUMN logged_on_user TEXT;
