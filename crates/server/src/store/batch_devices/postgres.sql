-- The triggers that keep batch_devices and device_counts (0018_console.sql) right on PostgreSQL,
-- whoever writes agents, runs or imported computers. Replaced at every start, in one transaction
-- under an advisory lock, so replicas starting together do not race.
SELECT pg_advisory_xact_lock(7301800018);

DROP FUNCTION IF EXISTS rehome_count(TEXT, TEXT, TEXT, TEXT, BIGINT);

-- The counts move once per statement, by the rows it added and removed grouped, in one order of
-- the count rows (so two statements cannot deadlock): a row trigger made one update of the same
-- count row per device, and each such update in one transaction reads every earlier version of
-- that row, so a statement of 100,000 devices (a batch created, a fleet of agents added) took
-- minutes.
CREATE OR REPLACE FUNCTION rehome_count_devices() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO device_counts (batch, runbook, status, phase, n)
        SELECT batch, runbook, status, COALESCE(phase, ''), COUNT(*) FROM added
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (batch, runbook, status, phase) DO UPDATE SET n = device_counts.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO device_counts (batch, runbook, status, phase, n)
        SELECT batch, runbook, status, COALESCE(phase, ''), -COUNT(*) FROM removed
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (batch, runbook, status, phase) DO UPDATE SET n = device_counts.n + excluded.n;
    ELSE
        INSERT INTO device_counts (batch, runbook, status, phase, n)
        SELECT batch, runbook, status, phase, SUM(d) FROM (
            SELECT batch, runbook, status, COALESCE(phase, '') AS phase, 1 AS d FROM added
            UNION ALL
            SELECT batch, runbook, status, COALESCE(phase, '') AS phase, -1 AS d FROM removed
        ) moved
        GROUP BY 1, 2, 3, 4 HAVING SUM(d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (batch, runbook, status, phase) DO UPDATE SET n = device_counts.n + excluded.n;
    END IF;
    RETURN NULL;
END
$body$;

DROP TRIGGER IF EXISTS batch_devices_counted ON batch_devices;
DROP TRIGGER IF EXISTS batch_devices_recounted ON batch_devices;
DROP FUNCTION IF EXISTS rehome_count_device();

CREATE OR REPLACE TRIGGER batch_devices_added AFTER INSERT ON batch_devices
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION rehome_count_devices();

CREATE OR REPLACE TRIGGER batch_devices_removed AFTER DELETE ON batch_devices
REFERENCING OLD TABLE AS removed
FOR EACH STATEMENT EXECUTE FUNCTION rehome_count_devices();

CREATE OR REPLACE TRIGGER batch_devices_moved AFTER UPDATE ON batch_devices
REFERENCING OLD TABLE AS removed NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION rehome_count_devices();

-- A run's status and phase on its device: runs added or deleted together move their devices in
-- one statement (so their counts move once); a run's update, one at a time from its agent,
-- moves its device when its status or phase changed.
CREATE OR REPLACE FUNCTION rehome_runs_devices() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE batch_devices d SET status = 'Waiting', phase = NULL
        FROM removed o WHERE d.agent = o.agent AND d.runbook = o.runbook;
    ELSE
        UPDATE batch_devices d SET status = n.status, phase = n.phase
        FROM added n WHERE d.agent = n.agent AND d.runbook = n.runbook;
    END IF;
    RETURN NULL;
END
$body$;

CREATE OR REPLACE FUNCTION rehome_run_device() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    UPDATE batch_devices SET status = NEW.status, phase = NEW.phase
    WHERE agent = NEW.agent AND runbook = NEW.runbook;
    RETURN NULL;
END
$body$;

DROP TRIGGER IF EXISTS agent_runs_device ON agent_runs;

CREATE OR REPLACE TRIGGER agent_runs_added AFTER INSERT ON agent_runs
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION rehome_runs_devices();

CREATE OR REPLACE TRIGGER agent_runs_removed AFTER DELETE ON agent_runs
REFERENCING OLD TABLE AS removed
FOR EACH STATEMENT EXECUTE FUNCTION rehome_runs_devices();

CREATE OR REPLACE TRIGGER agent_runs_device_changed AFTER UPDATE OF status, phase ON agent_runs
FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.phase IS DISTINCT FROM NEW.phase)
EXECUTE FUNCTION rehome_run_device();

-- Agents added or deleted together find or leave their devices in one statement.
CREATE OR REPLACE FUNCTION rehome_agents_devices() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE batch_devices d SET agent = NULL, status = 'NoAgent', phase = NULL
        FROM removed o WHERE d.agent = o.id;
    ELSE
        UPDATE batch_devices d SET agent = n.id,
            status = COALESCE((SELECT r.status FROM agent_runs r
                               WHERE r.agent = n.id AND r.runbook = d.runbook), 'Waiting'),
            phase = (SELECT r.phase FROM agent_runs r
                     WHERE r.agent = n.id AND r.runbook = d.runbook)
        FROM added n WHERE d.directory = n.directory AND d.computer = n.computer_guid;
    END IF;
    RETURN NULL;
END
$body$;

DROP TRIGGER IF EXISTS agents_device ON agents;
DROP FUNCTION IF EXISTS rehome_agent_device();

CREATE OR REPLACE TRIGGER agents_added AFTER INSERT ON agents
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION rehome_agents_devices();

CREATE OR REPLACE TRIGGER agents_removed AFTER DELETE ON agents
REFERENCING OLD TABLE AS removed
FOR EACH STATEMENT EXECUTE FUNCTION rehome_agents_devices();

CREATE OR REPLACE FUNCTION rehome_computer_device() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.kind = 'Computer'
        AND (TG_OP = 'DELETE' OR NEW.kind <> 'Computer') THEN
        DELETE FROM batch_devices WHERE directory = OLD.directory AND computer = OLD.guid;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.kind = 'Computer' AND NEW.kind = 'Computer' THEN
        UPDATE batch_devices SET computer_name = NEW.name, name_key = LOWER(NEW.name)
        WHERE directory = NEW.directory AND computer = NEW.guid;
    END IF;
    -- Only a directory some batch is assigned to has rows to add. Asked first, so the import
    -- of a directory no batch uses yet never runs the view: its plan, cached for the session
    -- while the table still looked empty, scanned every computer for each one inserted.
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.kind = 'Computer'
        AND (TG_OP = 'INSERT' OR OLD.kind <> 'Computer')
        AND EXISTS (SELECT 1 FROM batch_assignments WHERE directory = NEW.directory) THEN
        INSERT INTO batch_devices SELECT * FROM batch_device_rows
        WHERE directory = NEW.directory AND computer = NEW.guid;
    END IF;
    RETURN NULL;
END
$body$;

CREATE OR REPLACE TRIGGER directory_objects_device_added AFTER INSERT ON directory_objects
FOR EACH ROW WHEN (NEW.kind = 'Computer') EXECUTE FUNCTION rehome_computer_device();

CREATE OR REPLACE TRIGGER directory_objects_device_removed AFTER DELETE ON directory_objects
FOR EACH ROW WHEN (OLD.kind = 'Computer') EXECUTE FUNCTION rehome_computer_device();

CREATE OR REPLACE TRIGGER directory_objects_device_changed AFTER UPDATE OF name, kind
ON directory_objects FOR EACH ROW
WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.kind IS DISTINCT FROM NEW.kind)
EXECUTE FUNCTION rehome_computer_device();
