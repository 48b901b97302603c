-- Each replica keeps every agent's runs and readiness state in memory and asks, every two
-- seconds, which agents another replica changed since it last looked: these indexes answer that
-- by time instead of by reading every row.
CREATE INDEX agent_runs_last_update ON agent_runs (last_update);
CREATE INDEX readiness_devices_asked_at ON readiness_devices (asked_at);
CREATE INDEX readiness_devices_reported_at ON readiness_devices (reported_at);
CREATE INDEX readiness_requests_requested_at ON readiness_requests (requested_at);
