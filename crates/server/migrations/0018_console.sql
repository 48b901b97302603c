-- Runbook Status and the dashboard read their rows and counts from tables kept up to date as
-- batches, computers, agents and runs change, rather than working them out from every run at
-- each request. The triggers that keep them are written per backend (PL/pgSQL on PostgreSQL) and
-- installed by the store after the migrations (`store/batch_devices.rs`); the batches' own rows
-- are written with each batch.

-- Each runbook assignment of each batch, with the batch's source directory and how it selects
-- computers: `selects_all` 1 takes every computer except those listed, 0 none except those listed.
CREATE TABLE batch_assignments (
    batch TEXT NOT NULL,
    runbook TEXT NOT NULL,
    directory TEXT NOT NULL,
    selects_all BIGINT NOT NULL,
    PRIMARY KEY (batch, runbook)
);
CREATE INDEX batch_assignments_directory ON batch_assignments (directory);

-- The computers each batch lists.
CREATE TABLE batch_listed (
    batch TEXT NOT NULL,
    computer TEXT NOT NULL,
    PRIMARY KEY (batch, computer)
);

-- One row per computer a batch takes and runbook assigned to it. `status` is `NoAgent` (no agent
-- registered for the computer), `Waiting` (an agent but no run yet: Not Available or Not Started
-- by the assignment's dates, decided when read) or the status of the agent's run.
CREATE TABLE batch_devices (
    batch TEXT NOT NULL,
    runbook TEXT NOT NULL,
    directory TEXT NOT NULL,
    computer TEXT NOT NULL,
    computer_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    agent TEXT,
    status TEXT NOT NULL,
    phase TEXT,
    PRIMARY KEY (batch, runbook, computer)
);
CREATE INDEX batch_devices_computer ON batch_devices (directory, computer);
CREATE INDEX batch_devices_agent ON batch_devices (agent, runbook);
CREATE INDEX batch_devices_by_name ON batch_devices (name_key, computer);
CREATE INDEX batch_devices_batch_by_name ON batch_devices (batch, name_key);

-- The row of batch_devices each computer of each batch's assignments makes, as the batch, the
-- computer, its agent and the agent's run stand now: what the triggers and the batch's own
-- writes insert, by computer or by batch.
CREATE VIEW batch_device_rows AS
SELECT ba.batch, ba.runbook, o.directory, o.guid AS computer, o.name AS computer_name,
    LOWER(o.name) AS name_key, a.id AS agent,
    CASE WHEN a.id IS NULL THEN 'NoAgent' ELSE COALESCE(r.status, 'Waiting') END AS status,
    r.phase
FROM batch_assignments ba
JOIN directory_objects o ON o.directory = ba.directory AND o.kind = 'Computer'
LEFT JOIN agents a ON a.directory = o.directory AND a.computer_guid = o.guid
LEFT JOIN agent_runs r ON r.agent = a.id AND r.runbook = ba.runbook
WHERE ba.selects_all <> (SELECT COUNT(*) FROM batch_listed l
                         WHERE l.batch = ba.batch AND l.computer = o.guid);

-- How many rows of batch_devices are in each status and phase (`''` for none), per batch and
-- runbook: the dashboard's donuts without reading the rows.
CREATE TABLE device_counts (
    batch TEXT NOT NULL,
    runbook TEXT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (batch, runbook, status, phase)
);
