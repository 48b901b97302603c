-- Console and API users, their roles, and their sessions. TEXT and BIGINT columns only; instants
-- in milliseconds since the Unix epoch; flags as 0/1.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    -- As typed at creation; matched case-insensitively through users_name_key.
    name TEXT NOT NULL,
    -- Argon2id PHC string; never leaves the server.
    password_hash TEXT NOT NULL,
    -- 1 after creation by an admin, bootstrap or reset: only change-password, logout and whoami work.
    must_change_password BIGINT NOT NULL,
    -- Consecutive failed logins; reset by a good one.
    failed_logins BIGINT NOT NULL,
    -- No login before this instant (0 = not locked).
    locked_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX users_name_key ON users (lower(name));

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- auth::Role::as_str
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- Console sessions (cookie) and API tokens (bearer). Only the SHA-256 of the token is kept, so a
-- copy of the database does not log anyone in.
CREATE TABLE user_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'console' or 'api'
    kind TEXT NOT NULL,
    -- Console sessions only: the value unsafe requests must echo; not a credential on its own.
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);
