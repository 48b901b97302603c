-- The provisioning package (.ppkg, built by Windows Configuration Designer) an administrator
-- uploaded for an Entra target directory: one per directory, replaced by the next upload.
-- `secret` is the package, base64 and sealed with the server's secret key (it embeds a bulk
-- enrollment token); it leaves the server only inside an agent's encrypted assignment.
CREATE TABLE provisioning_packages (
    directory TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    secret TEXT NOT NULL
);
