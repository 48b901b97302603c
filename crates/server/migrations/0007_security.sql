-- Security hardening: addresses users signed in from, the audit trail, and failed communications
-- aggregated by source.

-- Where each user signed in from with the right password. An account locked by failed sign-ins
-- stays open to these addresses, so strangers cannot lock its owner out.
CREATE TABLE user_login_addresses (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The client address as the server saw it (IPv6 by its /64).
    address TEXT NOT NULL,
    last_success BIGINT NOT NULL,
    PRIMARY KEY (user_id, address)
);

-- Repeats from one address for one reason are one row with a count and first and last time.
ALTER TABLE failed_communications ADD COLUMN first_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE failed_communications ADD COLUMN repeats BIGINT NOT NULL DEFAULT 1;
UPDATE failed_communications SET first_at = at;
CREATE INDEX failed_communications_source ON failed_communications (remote_address, code);

-- The audit trail: every change made through the API, the console or the command line, every
-- sign-in, refused sign-in and lockout. Append-only: rows are only ever inserted, and deleted by
-- the retention sweep once older than the configured period. Never holds a secret.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    -- The user's name, "command line", or "anonymous" / a name fingerprint for failed sign-ins.
    actor TEXT NOT NULL,
    -- The client address, when known.
    address TEXT,
    -- What was done, e.g. "PUT /api/v1/users/…" or "sign-in refused".
    action TEXT NOT NULL,
    -- The HTTP status of the answer, or 0 for the command line.
    status BIGINT NOT NULL,
    -- JSON of the state before and after (secrets replaced), when known.
    before_value TEXT,
    after_value TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- A PSK may be limited: registrations with it are refused after expires_at, and for computers
-- the batch does not select. NULL: no limit.
ALTER TABLE psks ADD COLUMN expires_at BIGINT;
ALTER TABLE psks ADD COLUMN batch TEXT;

-- Where each agent registered from, shown in the console beside what is expected of it.
ALTER TABLE agents ADD COLUMN registered_from TEXT;
