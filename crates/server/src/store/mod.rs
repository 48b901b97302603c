//! The store: one schema on SQLite (the default, a file under the data directory) or PostgreSQL,
//! through one code path. Every column is TEXT or BIGINT so the same SQL and the same decoding work
//! on both; instants are milliseconds since the Unix epoch; `$1`-style parameters throughout.

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::Result;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The database handle, cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Opens (creating if needed) `rehome.db` in `data_dir` and brings its schema up to date.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            crate::Error::Internal(format!("cannot create data directory {}: {}", data_dir.display(), e))
        })?;
        let url = format!("sqlite://{}?mode=rwc", data_dir.join("rehome.db").display());
        Store::connect(&url).await
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(crate::Error::field("database", "use a sqlite:// or postgres:// URL"));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let pool_options = match backend {
            // One writer at a time in SQLite: a small pool, WAL so readers never wait on it.
            Backend::Sqlite => AnyPoolOptions::new().max_connections(4).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                        .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = pool_options.connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool, backend })
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

pub mod testing;
pub mod users;
