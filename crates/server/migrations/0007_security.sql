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
