-- Licences applied by a tenant administrator: the signed text whole (it is not secret), when it
-- was applied, and how many devices it has counted so far. The count lives on the licence's row
-- so taking a device slot is one conditional update, exact on both backends.
CREATE TABLE licences (
    id TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    applied_at BIGINT NOT NULL,
    devices_used BIGINT NOT NULL
);

-- Every device a migration licence has counted, once ever: the computer's directory and GUID (an
-- agent that registers again is still the same device), the licence and the agent at the time.
CREATE TABLE licensed_devices (
    directory TEXT NOT NULL,
    computer TEXT NOT NULL,
    licence TEXT NOT NULL,
    agent TEXT NOT NULL,
    counted_at BIGINT NOT NULL,
    PRIMARY KEY (directory, computer)
);
CREATE INDEX licensed_devices_by_licence ON licensed_devices (licence);
