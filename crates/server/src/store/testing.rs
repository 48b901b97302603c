//! Fresh stores for tests, on the backend chosen by `REHOME_TEST_DATABASE`: unset or `sqlite` for a
//! SQLite file in a temporary directory, or a `postgres://…` URL of a server on which each store
//! gets a database of its own.

use sqlx::{Connection, Executor};

use super::Store;
use crate::secrets::SecretBox;

/// The backend the tests run on, for messages.
pub fn backend_name() -> String {
    match std::env::var("REHOME_TEST_DATABASE") {
        Ok(url) if url.starts_with("postgres") => "postgres".to_string(),
        _ => "sqlite".to_string(),
    }
}

/// A new, empty, migrated store with a random secret key, and a guard that keeps its SQLite
/// directory alive.
pub async fn fresh_store() -> (Store, TestDir) {
    let (url, dir) = fresh_database().await;
    let store = Store::connect(&url, SecretBox::random())
        .await
        .expect("open test store");
    (store, dir)
}

/// The URL of a new, empty database (not yet migrated) on the test backend, for tests that open
/// it themselves (e.g. with chosen secret keys), and the guard of its SQLite directory.
pub async fn fresh_database() -> (String, TestDir) {
    let dir = TestDir::new();
    match std::env::var("REHOME_TEST_DATABASE") {
        Ok(url) if url.starts_with("postgres") => {
            let name = format!("rehome_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&url)
                .await
                .expect("connect to the test PostgreSQL");
            admin
                .execute(format!("CREATE DATABASE {}", name).as_str())
                .await
                .expect("create a test database");
            let (base, query) = match url.split_once('?') {
                Some((base, query)) => (base.to_string(), format!("?{}", query)),
                None => (url.clone(), String::new()),
            };
            let base = base
                .rsplit_once('/')
                .map(|(head, _)| head.to_string())
                .unwrap_or(base);
            (format!("{}/{}{}", base, name, query), dir)
        }
        _ => {
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("rehome.db").display()
            );
            (url, dir)
        }
    }
}

/// A temporary directory removed when dropped.
pub struct TestDir(std::path::PathBuf);

impl TestDir {
    /// A new empty directory under the system's temporary directory.
    pub fn new() -> TestDir {
        let path =
            std::env::temp_dir().join(format!("rehome-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TestDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Default for TestDir {
    fn default() -> TestDir {
        TestDir::new()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
