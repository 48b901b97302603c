//! The data directory and the database files are private to the server's user.

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_0700_and_the_database_files_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("rehome-perm-{}", uuid::Uuid::new_v4().simple()));
    let data = dir.join("data");
    // A directory someone made world-readable beforehand is tightened too.
    std::fs::create_dir_all(&data).expect("create");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let store = server::store::Store::open_sqlite(&data, server::secrets::SecretBox::random())
        .await
        .expect("open");
    // A write, so the WAL and its index exist.
    let app = server::App::new(
        store,
        std::sync::Arc::new(model::clock::SystemClock),
        server::Settings::default(),
    );
    server::auth::bootstrap_admin(&app)
        .await
        .expect("bootstrap");
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&data), 0o700);
    for name in ["rehome.db", "rehome.db-wal", "rehome.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}
