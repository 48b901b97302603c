-- Lock-screen images a runbook's Startup shows while it runs, stored once by the SHA-256 of
-- their bytes (base64 in `content`, like command packages) so every replica can serve them.
CREATE TABLE lock_screen_images (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    content TEXT NOT NULL
);
