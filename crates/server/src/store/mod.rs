//! The store: one schema on SQLite (the default, a file under the data directory) or PostgreSQL,
//! through one code path. Every column is TEXT or BIGINT so the same SQL and the same decoding work
//! on both; instants are milliseconds since the Unix epoch; `$1`-style parameters throughout.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::secrets::SecretBox;
use crate::Result;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The database handle with the secret box that seals its secrets, cheap to clone: one shared
/// reference, which every request's handlers clone.
#[derive(Clone)]
pub struct Store(Arc<StoreParts>);

/// What a [`Store`] shares among its clones; its parts are the store's own.
pub struct StoreParts {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite file, which bulk writes open directly (see [`bulk`]).
    sqlite_file: Option<std::path::PathBuf>,
    secrets: SecretBox,
    /// The agents' writes, batched (see [`writer`]).
    writer: writer::Writer,
    /// Each agent's runs and readiness state (see [`device_states`]).
    device_states: Arc<device_states::DeviceStates>,
}

impl std::ops::Deref for Store {
    type Target = StoreParts;

    fn deref(&self) -> &StoreParts {
        &self.0
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Opens (creating if needed) `rehome.db` in `data_dir` and brings its schema up to date;
    /// `secrets` seals and opens its secrets (see [`Store::connect`]).
    pub async fn open_sqlite(data_dir: &Path, secrets: SecretBox) -> Result<Store> {
        private::private_dir(data_dir).map_err(|e| {
            crate::Error::Internal(format!(
                "cannot create data directory {}: {}",
                data_dir.display(),
                e
            ))
        })?;
        let file = data_dir.join("rehome.db");
        private::private_database(&file).map_err(|e| {
            crate::Error::Internal(format!("cannot create {}: {}", file.display(), e))
        })?;
        let url = format!("sqlite://{}?mode=rwc", file.display());
        Store::connect(&url, secrets).await
    }

    /// The store of a server or a command: the PostgreSQL or SQLite `database` URL when given,
    /// else `rehome.db` in `data_dir`; its secrets sealed with the key in `REHOME_SECRET_KEY` or
    /// in `data_dir` (see [`SecretBox::load`]).
    pub async fn open(database: Option<&str>, data_dir: &Path) -> Result<Store> {
        // The key lives outside the database: in the environment or in the data directory.
        let secrets = SecretBox::load(data_dir)?;
        match database {
            Some(url) => Store::connect(url, secrets).await,
            None => Store::open_sqlite(data_dir, secrets).await,
        }
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`), brings the schema up to date, refuses
    /// a `secrets` key that cannot open the secrets already stored, and seals any secret an older
    /// version stored in clear.
    pub async fn connect(url: &str, secrets: SecretBox) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(crate::Error::field(
                "database",
                "use a sqlite:// or postgres:// URL",
            ));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let pool_options = match backend {
            // One writer at a time in SQLite (the agents' writes go through the writer task), WAL
            // so readers never wait on it: 8 connections, so a check-in's reads do not queue
            // behind 64 requests on a few. A 16 MiB page cache each (allocated as used): imports
            // and match runs write through connections of their own with a larger one
            // (`bulk::open`), and a pool connection's pages are dropped whenever another
            // connection writes, so a larger cache here only held memory, eight times over, after
            // a console page or a count had read a big table.
            Backend::Sqlite => AnyPoolOptions::new().max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;")
                        .await?;
                    Ok(())
                })
            }),
            // No ping before each use: it doubled the round trips of every query; a broken
            // connection fails its query, which the caller reports, and is then dropped.
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(16)
                .test_before_acquire(false),
        };
        if backend == Backend::Postgres {
            // One connection first: the pool retries a refused or unreachable server until its
            // acquire timeout (30 s) and then says only that it timed out; this says why, at once.
            use sqlx::Connection as _;
            sqlx::AnyConnection::connect_with(&options)
                .await?
                .close()
                .await?;
        }
        let sqlite_file = match backend {
            Backend::Sqlite => url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .map(|rest| rest.split('?').next().unwrap_or_default())
                .filter(|path| !path.is_empty() && !path.contains(":memory:"))
                .map(std::path::PathBuf::from),
            Backend::Postgres => None,
        };
        if let Some(file) = &sqlite_file {
            bulk::lay_out_if_new(file, url.contains("mode=rwc"))?;
        }
        let pool = pool_options.connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        let store = Store(Arc::new(StoreParts {
            writer: writer::Writer::start(pool.clone(), backend, sqlite_file.as_deref()),
            pool,
            backend,
            sqlite_file,
            secrets,
            device_states: Arc::default(),
        }));
        store.check_secret_key().await?;
        store.seal_clear_secrets().await?;
        store.keep_device_counts().await?;
        Ok(store)
    }

    /// The secret box.
    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file bulk writes go to directly, when the store is one.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        self.sqlite_file.clone()
    }

    /// Applies `write` through the store's writer, batched with other requests' writes.
    async fn write(&self, write: writer::Write) -> Result<u64> {
        self.writer.write(&self.pool, self.backend, write).await
    }

    /// Batches of agent writes that failed as a whole since the store opened (each was then
    /// written job by job): a deadlock between the writer's tasks would count here.
    pub fn writer_failed_batches(&self) -> u64 {
        self.writer.failed_batches()
    }
}

pub mod agents;
pub mod audit;
pub mod batch_devices;
pub mod bulk;
pub mod certificates;
pub mod communications;
pub mod computers;
pub mod config;
pub mod connections;
pub mod device_states;
pub mod directories;
pub mod enrollment;
pub mod events;
pub mod exports;
pub mod failed_pages;
pub mod fleet_events;
pub mod import_kinds;
pub mod imports;
pub mod leases;
pub mod licences;
pub mod packages;
mod private;
pub mod profile_pages;
pub mod provisioning;
pub mod psk_limits;
pub mod readiness;
pub mod readiness_pages;
pub mod removals;
pub mod reports;
pub mod schedule;
pub mod sealing;
pub mod seek;
mod starts;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod translation_pages;
pub mod translations;
pub mod users;
mod writer;

/// Milliseconds since the Unix epoch, as stored.
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant of a stored millisecond count.
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The stable text of a unit enum through its serde name (e.g. `Phase::DeviceState` →
/// `DeviceState`), so stored values and JSON agree.
pub fn enum_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Parses [`enum_text`]; a stored value that no longer parses is reported, not guessed.
pub fn parse_enum<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        crate::Error::Internal(format!("stored {} {:?} is not understood", column, text))
    })
}

/// Parses a stored id or other `FromStr` value.
pub fn parse_text<T: std::str::FromStr>(column: &str, text: &str) -> Result<T> {
    text.parse().map_err(|_| {
        crate::Error::Internal(format!("stored {} {:?} is not understood", column, text))
    })
}

/// Parses a stored JSON document.
pub fn parse_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| crate::Error::Internal(format!("stored {} is not understood: {}", column, e)))
}

/// JSON text of a value for a TEXT column.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| crate::Error::Internal(format!("cannot encode: {}", e)))
}

/// `$first, $first+1, …` for `count` parameters, for IN lists and multi-row inserts.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${}", i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, …, $cols), ($cols+1, …)` for `rows` rows of `cols` parameters.
pub fn row_placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * cols + 1, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row statement with `$n` parameters. Kept small: binding looks each `$n` name up
/// in SQLite, a linear search of the statement's parameters, so thousands of parameters cost
/// quadratically to bind (500 rows took 3.5× as long as 64 per imported object).
pub const ROWS_PER_STATEMENT: usize = 64;

/// Parameters per bulk statement of the generic path: within PostgreSQL's limit of 65,535 (and
/// SQLite's of 32,766).
pub const PARAMS_PER_BULK_STATEMENT: usize = 4000;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_database_server_that_refuses_the_connection_is_named_as_the_cause() {
        // Port 1 of the loopback address: nothing listens there, so the connection is refused.
        let refused = Store::connect(
            "postgres://rehome@127.0.0.1:1/rehome",
            crate::secrets::SecretBox::random(),
        )
        .await;
        let Err(e) = refused else {
            panic!("a store on a port nobody listens on");
        };
        let said = e.to_string();
        assert!(said.to_lowercase().contains("refused"), "{said}");
        assert!(!said.contains("timed out"), "{said}");
    }

    /// The page size of the SQLite database `file`.
    fn page_size(file: &Path) -> u32 {
        rusqlite::Connection::open(file)
            .and_then(|c| c.query_row("PRAGMA page_size", [], |row| row.get(0)))
            .expect("page size")
    }

    #[tokio::test]
    async fn a_new_sqlite_store_has_larger_pages_and_an_older_one_keeps_its_own() {
        let dir = testing::TestDir::new();
        let store = Store::open_sqlite(dir.path(), crate::secrets::SecretBox::random())
            .await
            .expect("a new store");
        let file = store.sqlite_file().expect("a file");
        assert_eq!(page_size(&file), bulk::PAGE_SIZE);
        drop(store);

        // A store created before, with SQLite's default pages and a row of its own.
        let older = testing::TestDir::new();
        let file = older.path().join("rehome.db");
        rusqlite::Connection::open(&file)
            .and_then(|c| {
                c.execute_batch(
                    "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; \
                     CREATE TABLE kept (a TEXT); INSERT INTO kept VALUES ('still here');",
                )
            })
            .expect("an older database");
        let store = Store::open_sqlite(older.path(), crate::secrets::SecretBox::random())
            .await
            .expect("the older store opens");
        assert_eq!(page_size(&file), 4096);
        let kept: String = sqlx::query_scalar("SELECT a FROM kept")
            .fetch_one(store.pool())
            .await
            .expect("its row");
        assert_eq!(kept, "still here");
    }

    #[tokio::test]
    async fn a_missing_sqlite_file_is_created_with_larger_pages_only_when_the_url_asks() {
        let dir = testing::TestDir::new();
        let file = dir.path().join("asked.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        Store::connect(&url, crate::secrets::SecretBox::random())
            .await
            .expect("created");
        assert_eq!(page_size(&file), bulk::PAGE_SIZE);

        let missing = dir.path().join("not-asked.db");
        let url = format!("sqlite://{}", missing.display());
        assert!(Store::connect(&url, crate::secrets::SecretBox::random())
            .await
            .is_err());
        assert!(
            !missing.exists(),
            "a store URL without mode=rwc creates no file"
        );
    }

    /// Runs the SQL of every migration from `from` up to (not including) `to` on `pool`.
    async fn migrate_between(pool: &sqlx::AnyPool, from: i64, to: i64) {
        for migration in MIGRATOR.iter() {
            if (from..to).contains(&migration.version) {
                pool.execute(&*migration.sql)
                    .await
                    .unwrap_or_else(|e| panic!("migration {}: {}", migration.version, e));
            }
        }
    }

    /// A connection to a fresh database with every migration before `version` run, and what
    /// keeps the database while the test runs.
    async fn migrated_before(version: i64) -> (sqlx::AnyPool, testing::TestDir) {
        sqlx::any::install_default_drivers();
        let (url, dir) = testing::fresh_database().await;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("connect");
        migrate_between(&pool, 0, version).await;
        (pool, dir)
    }

    #[tokio::test]
    async fn translations_stay_and_stay_unique_once_their_keys_are_unique_indexes() {
        let (pool, _dir) = migrated_before(30).await;
        let row = "INSERT INTO translations (kind, source_directory, source_guid, source_sid, \
             source_upn, source_name, target_directory, target_guid, target_sid, target_upn, \
             target_name, matched_at, rule, source_sid_history) \
             VALUES ('User', 'src', 'g1', 'S-1-5-21-1-2-3-1001', 'anna@contoso.com', 'Anna', \
             'dst', 'g2', 'S-1-5-21-4-5-6-2001', NULL, 'Anna T', 42, 'rules[0]', \
             'S-1-5-21-7-8-9-500')";
        let sid = "INSERT INTO translation_sids (target_directory, sid, source_directory, \
             source_guid) VALUES ('dst', 'S-1-5-21-1-2-3-1001', 'src', 'g1')";
        pool.execute(row).await.expect("a row before");
        pool.execute(sid).await.expect("a SID before");

        migrate_between(&pool, 30, 31).await;

        let (name, upn, target_upn, matched_at, rule, history): (
            String,
            Option<String>,
            Option<String>,
            i64,
            Option<String>,
            Option<String>,
        ) = sqlx::query_as(
            "SELECT source_name, source_upn, target_upn, matched_at, rule, source_sid_history \
             FROM translations WHERE source_directory = 'src' AND source_guid = 'g1'",
        )
        .fetch_one(&pool)
        .await
        .expect("the row kept");
        assert_eq!(
            (name.as_str(), upn.as_deref(), target_upn, matched_at),
            ("Anna", Some("anna@contoso.com"), None, 42)
        );
        assert_eq!(rule.as_deref(), Some("rules[0]"));
        assert_eq!(history.as_deref(), Some("S-1-5-21-7-8-9-500"));
        let (found,): (String,) = sqlx::query_as(
            "SELECT source_guid FROM translation_sids \
             WHERE target_directory = 'dst' AND sid = 'S-1-5-21-1-2-3-1001'",
        )
        .fetch_one(&pool)
        .await
        .expect("the SID kept");
        assert_eq!(found, "g1");
        assert!(
            pool.execute(row).await.is_err(),
            "a second row with one key"
        );
        assert!(
            pool.execute(sid).await.is_err(),
            "a second SID row with one key"
        );
    }

    #[tokio::test]
    async fn the_sid_index_keeps_only_the_sids_a_row_does_not_hold_itself() {
        let (pool, _dir) = migrated_before(31).await;
        pool.execute(
            "INSERT INTO translations (kind, source_directory, source_guid, source_sid, \
             source_upn, source_name, target_directory, target_guid, target_sid, target_upn, \
             target_name, matched_at, rule, source_sid_history) \
             VALUES ('User', 'src', 'g1', 'S-1-5-21-1-2-3-1001', NULL, 'Anna', \
             'dst', 'g2', 'S-1-5-21-4-5-6-2001', NULL, 'Anna T', 42, 'rules[0]', \
             'S-1-5-21-7-8-9-500')",
        )
        .await
        .expect("a row before");
        for sid in ["S-1-5-21-1-2-3-1001", "S-1-5-21-7-8-9-500"] {
            pool.execute(&*format!(
                "INSERT INTO translation_sids (target_directory, sid, source_directory, \
                 source_guid) VALUES ('dst', '{sid}', 'src', 'g1')"
            ))
            .await
            .expect("a SID before");
        }

        migrate_between(&pool, 31, 32).await;

        let kept: Vec<(String,)> = sqlx::query_as("SELECT sid FROM translation_sids")
            .fetch_all(&pool)
            .await
            .expect("the SIDs");
        assert_eq!(kept, vec![("S-1-5-21-7-8-9-500".to_string(),)]);
    }

    #[test]
    fn placeholders_number_rows_consecutively() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(row_placeholders(2, 2), "($1, $2), ($3, $4)");
    }

    #[test]
    fn enums_store_as_their_serde_names() {
        assert_eq!(enum_text(&model::status::Phase::DeviceState), "DeviceState");
        let phase: model::status::Phase = parse_enum("phase", "DeviceState").expect("parses");
        assert_eq!(phase, model::status::Phase::DeviceState);
        assert!(parse_enum::<model::status::Phase>("phase", "Nope").is_err());
    }
}
