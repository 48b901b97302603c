-- Bulk enrollment tokens (BPRTs) of Entra target directories. `secret` is the token, sealed with
-- the server's secret key; it leaves the server only inside an agent's encrypted assignment.
CREATE TABLE bulk_tokens (
    id TEXT PRIMARY KEY,
    directory TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    secret TEXT NOT NULL
);
CREATE INDEX bulk_tokens_directory ON bulk_tokens (directory, created_at);

-- Sign-ins under way that will end in a bulk enrollment token. `secret` (sealed) holds what the
-- flow must keep from everybody: the device code, or the PKCE verifier and state.
CREATE TABLE enrollment_flows (
    id TEXT PRIMARY KEY,
    directory TEXT NOT NULL,
    kind TEXT NOT NULL,
    display_name TEXT NOT NULL,
    days_valid BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    poll_after BIGINT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    secret TEXT NOT NULL
);

-- Command packages, stored once by the SHA-256 of their bytes. The zip itself is kept here, in
-- base64, so that every replica sharing the database can serve it to agents.
CREATE TABLE command_packages (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    content TEXT NOT NULL
);
