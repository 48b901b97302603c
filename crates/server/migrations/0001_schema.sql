-- One schema for SQLite and PostgreSQL: TEXT and BIGINT columns only, instants in milliseconds
-- since the Unix epoch, ids as UUID text.

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Directories and what was imported from them.
CREATE TABLE directories (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    domain_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX directories_name ON directories (name);

CREATE TABLE directory_objects (
    directory TEXT NOT NULL,
    guid TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    sid TEXT,
    upn TEXT,
    sam TEXT,
    mail TEXT,
    employee_id TEXT,
    os TEXT,
    PRIMARY KEY (directory, guid)
);
-- Registration looks computers up by name, ignoring case.
CREATE INDEX directory_objects_name ON directory_objects (kind, name);

CREATE TABLE import_runs (
    id TEXT PRIMARY KEY,
    directory TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    total BIGINT NOT NULL,
    added BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    deleted BIGINT NOT NULL
);
CREATE INDEX import_runs_directory ON import_runs (directory, started_at);

-- The result of matching: one row per source object and target directory.
CREATE TABLE translations (
    kind TEXT NOT NULL,
    source_directory TEXT NOT NULL,
    source_guid TEXT NOT NULL,
    source_sid TEXT NOT NULL,
    source_upn TEXT,
    source_name TEXT NOT NULL,
    target_directory TEXT NOT NULL,
    target_guid TEXT NOT NULL,
    target_sid TEXT NOT NULL,
    target_upn TEXT,
    target_name TEXT NOT NULL,
    matched_at BIGINT NOT NULL,
    PRIMARY KEY (source_directory, source_guid, target_directory)
);
CREATE INDEX translations_source_sid ON translations (source_sid);

-- Pre-shared keys for first registration. The key is a secret: returned once, at creation.
CREATE TABLE psks (
    id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The server's identities for agent traffic. `secret` (key pair, base64) never leaves the server.
CREATE TABLE agent_certificates (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    sign_key TEXT NOT NULL,
    encrypt_key TEXT NOT NULL,
    secret TEXT NOT NULL
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    directory TEXT NOT NULL,
    computer_guid TEXT NOT NULL,
    computer_name TEXT NOT NULL,
    serial TEXT NOT NULL,
    os_edition TEXT NOT NULL,
    os_version TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    join_state TEXT NOT NULL,
    certificate TEXT NOT NULL,
    sign_key TEXT NOT NULL,
    encrypt_key TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    last_contact BIGINT NOT NULL
);
-- One agent per computer: a second registration is refused, even when two race.
CREATE UNIQUE INDEX agents_computer ON agents (directory, computer_guid);

-- Where each agent stands with each runbook. `last_seq` is the newest event applied, so a late
-- retry of an older upload never rolls the state back.
CREATE TABLE agent_runs (
    agent TEXT NOT NULL,
    runbook TEXT NOT NULL,
    batch TEXT,
    status TEXT NOT NULL,
    phase TEXT,
    step TEXT,
    last_update BIGINT NOT NULL,
    last_error TEXT,
    last_seq BIGINT NOT NULL,
    final_check_at BIGINT,
    PRIMARY KEY (agent, runbook)
);

-- The key (agent, seq) makes a retried upload store each event once; seq ascends per agent,
-- which keeps inserts at the fast end of the index.
CREATE TABLE agent_events (
    agent TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    level TEXT NOT NULL,
    runbook TEXT,
    phase TEXT,
    step TEXT,
    status TEXT,
    message TEXT NOT NULL,
    PRIMARY KEY (agent, seq)
);

CREATE TABLE harvested_profiles (
    agent TEXT NOT NULL,
    sid TEXT NOT NULL,
    path TEXT NOT NULL,
    last_used BIGINT,
    harvested_at BIGINT NOT NULL,
    PRIMARY KEY (agent, sid)
);

CREATE TABLE failed_communications (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    computer_name TEXT,
    remote_address TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX failed_communications_at ON failed_communications (at);

-- Nonces seen within the clock-skew window, per agent or per PSK; swept once expired.
CREATE TABLE seen_nonces (
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, nonce)
);
CREATE INDEX seen_nonces_expires ON seen_nonces (expires_at);

CREATE TABLE runbooks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Names are unique ignoring case; name_key is the lower-cased name.
CREATE UNIQUE INDEX runbooks_name ON runbooks (name_key);

CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
