-- The triggers that keep batch_devices and device_counts (0018_console.sql) right on PostgreSQL,
-- whoever writes agents, runs or imported computers. Replaced at every start, in one transaction
-- under an advisory lock, so replicas starting together do not race.
SELECT pg_advisory_xact_lock(7301800018);

CREATE OR REPLACE FUNCTION rehome_count(b TEXT, r TEXT, s TEXT, p TEXT, delta BIGINT)
RETURNS void LANGUAGE sql AS $body$
    INSERT INTO device_counts (batch, runbook, status, phase, n)
    VALUES (b, r, s, COALESCE(p, ''), delta)
    ON CONFLICT (batch, runbook, status, phase) DO UPDATE SET n = device_counts.n + delta;
$body$;

CREATE OR REPLACE FUNCTION rehome_count_device() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rehome_count(NEW.batch, NEW.runbook, NEW.status, NEW.phase, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM rehome_count(OLD.batch, OLD.runbook, OLD.status, OLD.phase, -1);
    -- The two count rows a move touches are locked in one order, so two moves cannot deadlock.
    ELSIF (OLD.status, COALESCE(OLD.phase, '')) < (NEW.status, COALESCE(NEW.phase, '')) THEN
        PERFORM rehome_count(OLD.batch, OLD.runbook, OLD.status, OLD.phase, -1);
        PERFORM rehome_count(NEW.batch, NEW.runbook, NEW.status, NEW.phase, 1);
    ELSE
        PERFORM rehome_count(NEW.batch, NEW.runbook, NEW.status, NEW.phase, 1);
        PERFORM rehome_count(OLD.batch, OLD.runbook, OLD.status, OLD.phase, -1);
    END IF;
    RETURN NULL;
END
$body$;

CREATE OR REPLACE TRIGGER batch_devices_counted AFTER INSERT OR DELETE ON batch_devices
FOR EACH ROW EXECUTE FUNCTION rehome_count_device();

CREATE OR REPLACE TRIGGER batch_devices_recounted AFTER UPDATE OF status, phase ON batch_devices
FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.phase IS DISTINCT FROM NEW.phase)
EXECUTE FUNCTION rehome_count_device();

CREATE OR REPLACE FUNCTION rehome_run_device() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE batch_devices SET status = 'Waiting', phase = NULL
        WHERE agent = OLD.agent AND runbook = OLD.runbook;
    ELSE
        UPDATE batch_devices SET status = NEW.status, phase = NEW.phase
        WHERE agent = NEW.agent AND runbook = NEW.runbook;
    END IF;
    RETURN NULL;
END
$body$;

CREATE OR REPLACE TRIGGER agent_runs_device AFTER INSERT OR DELETE ON agent_runs
FOR EACH ROW EXECUTE FUNCTION rehome_run_device();

CREATE OR REPLACE TRIGGER agent_runs_device_changed AFTER UPDATE OF status, phase ON agent_runs
FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.phase IS DISTINCT FROM NEW.phase)
EXECUTE FUNCTION rehome_run_device();

CREATE OR REPLACE FUNCTION rehome_agent_device() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE batch_devices SET agent = NULL, status = 'NoAgent', phase = NULL
        WHERE agent = OLD.id;
    ELSE
        UPDATE batch_devices d SET agent = NEW.id,
            status = COALESCE((SELECT r.status FROM agent_runs r
                               WHERE r.agent = NEW.id AND r.runbook = d.runbook), 'Waiting'),
            phase = (SELECT r.phase FROM agent_runs r
                     WHERE r.agent = NEW.id AND r.runbook = d.runbook)
        WHERE d.directory = NEW.directory AND d.computer = NEW.computer_guid;
    END IF;
    RETURN NULL;
END
$body$;

CREATE OR REPLACE TRIGGER agents_device AFTER INSERT OR DELETE ON agents
FOR EACH ROW EXECUTE FUNCTION rehome_agent_device();

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
