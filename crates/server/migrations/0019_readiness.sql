-- Readiness per device and runbook of a batch, one row each, so that a batch's page counts,
-- groups and pages its devices without reading every check: when the device was first asked for
-- its checks (at a check-in answer), when its newest report arrived (null: not reported yet), and
-- that report's summary with the waivers applied: the worst verdict (a waived block counts as a
-- warning) and the first blocking check that is not waived, with its reason.
CREATE TABLE readiness_devices (
    agent TEXT NOT NULL,
    runbook TEXT NOT NULL,
    batch TEXT NOT NULL,
    asked_at BIGINT NOT NULL,
    reported_at BIGINT,
    worst TEXT,
    blocking_check TEXT,
    blocking_reason TEXT,
    PRIMARY KEY (agent, runbook)
);
CREATE INDEX readiness_devices_batch ON readiness_devices (batch, worst);
-- Every column a batch page's filter reads of the checks, so filtering reads only this index.
CREATE INDEX readiness_checks_filter ON readiness_checks (batch, verdict, check_id, agent, runbook);

-- The devices that reported before this table existed: asked when their report arrived.
INSERT INTO readiness_devices (agent, runbook, batch, asked_at, reported_at)
SELECT agent, runbook, MIN(batch), MIN(received_at), MAX(received_at)
FROM readiness_checks GROUP BY agent, runbook;

UPDATE readiness_devices SET
    worst = (
        SELECT CASE MAX(CASE
                WHEN c.verdict = 'block' AND w.check_id IS NULL THEN 3
                WHEN c.verdict IN ('block', 'warn') THEN 2
                WHEN c.verdict = 'pass' THEN 0
                ELSE 1 END)
            WHEN 3 THEN 'block' WHEN 2 THEN 'warn' WHEN 1 THEN 'unknown' ELSE 'pass' END
        FROM readiness_checks c LEFT JOIN readiness_waivers w
            ON w.agent = c.agent AND w.runbook = c.runbook AND w.check_id = c.check_id
        WHERE c.agent = readiness_devices.agent AND c.runbook = readiness_devices.runbook),
    blocking_check = (
        SELECT c.check_id FROM readiness_checks c LEFT JOIN readiness_waivers w
            ON w.agent = c.agent AND w.runbook = c.runbook AND w.check_id = c.check_id
        WHERE c.agent = readiness_devices.agent AND c.runbook = readiness_devices.runbook
            AND c.verdict = 'block' AND w.check_id IS NULL
        ORDER BY c.position LIMIT 1),
    blocking_reason = (
        SELECT c.reason FROM readiness_checks c LEFT JOIN readiness_waivers w
            ON w.agent = c.agent AND w.runbook = c.runbook AND w.check_id = c.check_id
        WHERE c.agent = readiness_devices.agent AND c.runbook = readiness_devices.runbook
            AND c.verdict = 'block' AND w.check_id IS NULL
        ORDER BY c.position LIMIT 1);
