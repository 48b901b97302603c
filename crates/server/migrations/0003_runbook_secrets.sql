-- The passwords of a runbook (fallback administrator, domain join, remote file shares), sealed
-- with the server's secret key; the runbook's JSON in `runbooks.spec` never holds them.
CREATE TABLE runbook_secrets (
    runbook TEXT NOT NULL,
    name TEXT NOT NULL,
    secret TEXT NOT NULL,
    PRIMARY KEY (runbook, name)
);
