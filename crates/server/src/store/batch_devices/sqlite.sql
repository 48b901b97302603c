-- The triggers that keep batch_devices and device_counts (0018_console.sql) right on SQLite,
-- whoever writes agents, runs or imported computers. Dropped and created again at every start,
-- in one transaction, so a changed definition replaces the old one.
DROP TRIGGER IF EXISTS batch_devices_counted_insert;
DROP TRIGGER IF EXISTS batch_devices_counted_delete;
DROP TRIGGER IF EXISTS batch_devices_counted_update;
DROP TRIGGER IF EXISTS agent_runs_device_insert;
DROP TRIGGER IF EXISTS agent_runs_device_update;
DROP TRIGGER IF EXISTS agent_runs_device_delete;
DROP TRIGGER IF EXISTS agents_device_insert;
DROP TRIGGER IF EXISTS agents_device_delete;
DROP TRIGGER IF EXISTS directory_objects_device_insert;
DROP TRIGGER IF EXISTS directory_objects_device_update;
DROP TRIGGER IF EXISTS directory_objects_device_delete;

CREATE TRIGGER batch_devices_counted_insert AFTER INSERT ON batch_devices BEGIN
    INSERT INTO device_counts (batch, runbook, status, phase, n)
    VALUES (NEW.batch, NEW.runbook, NEW.status, COALESCE(NEW.phase, ''), 1)
    ON CONFLICT (batch, runbook, status, phase) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER batch_devices_counted_delete AFTER DELETE ON batch_devices BEGIN
    UPDATE device_counts SET n = n - 1
    WHERE batch = OLD.batch AND runbook = OLD.runbook AND status = OLD.status
      AND phase = COALESCE(OLD.phase, '');
END;

CREATE TRIGGER batch_devices_counted_update AFTER UPDATE OF status, phase ON batch_devices
WHEN OLD.status IS NOT NEW.status OR OLD.phase IS NOT NEW.phase BEGIN
    UPDATE device_counts SET n = n - 1
    WHERE batch = OLD.batch AND runbook = OLD.runbook AND status = OLD.status
      AND phase = COALESCE(OLD.phase, '');
    INSERT INTO device_counts (batch, runbook, status, phase, n)
    VALUES (NEW.batch, NEW.runbook, NEW.status, COALESCE(NEW.phase, ''), 1)
    ON CONFLICT (batch, runbook, status, phase) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER agent_runs_device_insert AFTER INSERT ON agent_runs BEGIN
    UPDATE batch_devices SET status = NEW.status, phase = NEW.phase
    WHERE agent = NEW.agent AND runbook = NEW.runbook;
END;

CREATE TRIGGER agent_runs_device_update AFTER UPDATE OF status, phase ON agent_runs
WHEN OLD.status IS NOT NEW.status OR OLD.phase IS NOT NEW.phase BEGIN
    UPDATE batch_devices SET status = NEW.status, phase = NEW.phase
    WHERE agent = NEW.agent AND runbook = NEW.runbook;
END;

CREATE TRIGGER agent_runs_device_delete AFTER DELETE ON agent_runs BEGIN
    UPDATE batch_devices SET status = 'Waiting', phase = NULL
    WHERE agent = OLD.agent AND runbook = OLD.runbook;
END;

CREATE TRIGGER agents_device_insert AFTER INSERT ON agents BEGIN
    UPDATE batch_devices SET agent = NEW.id,
        status = COALESCE((SELECT r.status FROM agent_runs r
                           WHERE r.agent = NEW.id AND r.runbook = batch_devices.runbook), 'Waiting'),
        phase = (SELECT r.phase FROM agent_runs r
                 WHERE r.agent = NEW.id AND r.runbook = batch_devices.runbook)
    WHERE directory = NEW.directory AND computer = NEW.computer_guid;
END;

CREATE TRIGGER agents_device_delete AFTER DELETE ON agents BEGIN
    UPDATE batch_devices SET agent = NULL, status = 'NoAgent', phase = NULL WHERE agent = OLD.id;
END;

CREATE TRIGGER directory_objects_device_insert AFTER INSERT ON directory_objects
WHEN NEW.kind = 'Computer' BEGIN
    INSERT INTO batch_devices SELECT * FROM batch_device_rows
    WHERE directory = NEW.directory AND computer = NEW.guid;
END;

CREATE TRIGGER directory_objects_device_update AFTER UPDATE OF name, kind ON directory_objects
WHEN OLD.name IS NOT NEW.name OR OLD.kind IS NOT NEW.kind BEGIN
    DELETE FROM batch_devices
    WHERE directory = OLD.directory AND computer = OLD.guid AND NEW.kind <> 'Computer';
    UPDATE batch_devices SET computer_name = NEW.name, name_key = LOWER(NEW.name)
    WHERE directory = NEW.directory AND computer = NEW.guid;
    INSERT INTO batch_devices SELECT * FROM batch_device_rows
    WHERE directory = NEW.directory AND computer = NEW.guid AND OLD.kind <> 'Computer';
END;

CREATE TRIGGER directory_objects_device_delete AFTER DELETE ON directory_objects
WHEN OLD.kind = 'Computer' BEGIN
    DELETE FROM batch_devices WHERE directory = OLD.directory AND computer = OLD.guid;
END;
