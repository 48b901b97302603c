-- One schema for SQLite and PostgreSQL: TEXT and BIGINT columns only, instants in milliseconds
-- since the Unix epoch, ids as UUID text.

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
