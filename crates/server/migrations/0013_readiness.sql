-- Readiness: the checks each device took, read-only, for a runbook of its batch. A device's newest
-- report replaces its rows for that runbook; `received_at` is the server's clock when it arrived.
CREATE TABLE readiness_checks (
    agent TEXT NOT NULL,
    runbook TEXT NOT NULL,
    batch TEXT NOT NULL,
    check_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT NOT NULL,
    seen TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (agent, runbook, check_id)
);
CREATE INDEX readiness_checks_batch ON readiness_checks (batch);

-- A blocking check an Agent Admin let pass for one device and runbook, with who and why.
CREATE TABLE readiness_waivers (
    agent TEXT NOT NULL,
    runbook TEXT NOT NULL,
    check_id TEXT NOT NULL,
    waived_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    waived_at BIGINT NOT NULL,
    PRIMARY KEY (agent, runbook, check_id)
);

-- Devices asked to take their checks again at their next check-in.
CREATE TABLE readiness_requests (
    agent TEXT PRIMARY KEY,
    requested_at BIGINT NOT NULL
);
