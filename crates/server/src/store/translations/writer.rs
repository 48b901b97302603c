//! Writing a match run: its rows and messages in parts as they are planned, into one transaction
//! that commits with the pair's new generation, so a run of a million sources never holds all
//! of its rows at once. Through sqlx on PostgreSQL, through rusqlite on a SQLite file (see
//! [`super::super::bulk`]).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use model::directory::TranslationEntry;
use model::ids::{DirectoryId, ObjectGuid};
use rusqlite::{params, params_from_iter, OptionalExtension, ToSql, TransactionBehavior};
use serde::Serialize;

use super::super::directories::join_spaced;
use super::super::{bulk, to_ms, Store, PARAMS_PER_BULK_STATEMENT};
use super::{
    delete_messages_sql, delete_translation_sids_sql, delete_translations_sql,
    insert_translation_sids_sql, insert_translations_sql, sid_text, upsert_messages_sql,
    MatchWrite, COLUMNS, COLUMN_COUNT, UPSERT_MATCH_PAIR,
};
use crate::{Error, Result};

/// One part of a run, in the order it is written.
enum Step {
    Write(Box<MatchWrite>),
    Finish(String),
}

enum Inner {
    /// A thread of its own holds the rusqlite transaction and takes the steps in order.
    Sqlite {
        steps: tokio::sync::mpsc::Sender<Step>,
        done: tokio::task::JoinHandle<Result<i64>>,
    },
    Postgres(bulk::PgLoad),
}

/// One match run of a pair being written, in one transaction: parts of its [`MatchWrite`] as they
/// are planned, then [`MatchWriter::finish`]. Dropped unfinished, it writes nothing.
pub struct MatchWriter {
    src: String,
    dst: String,
    stage: String,
    now: DateTime<Utc>,
    inner: Inner,
}

/// What every part of one run writes with.
struct Pair<'a> {
    src: &'a str,
    dst: &'a str,
    stage: &'a str,
    now: DateTime<Utc>,
}

impl Store {
    /// Opens the transaction of one match run from `source` into `target`; its messages go to
    /// `stage`, stamped `now`.
    pub async fn begin_match(
        &self,
        source: DirectoryId,
        target: DirectoryId,
        stage: &str,
        now: DateTime<Utc>,
    ) -> Result<MatchWriter> {
        let (src, dst, stage) = (source.to_string(), target.to_string(), stage.to_string());
        let inner = match self.sqlite_file() {
            Some(path) => {
                let (steps, received) = tokio::sync::mpsc::channel(2);
                let pair = (src.clone(), dst.clone(), stage.clone());
                let done = tokio::task::spawn_blocking(move || {
                    let mut conn = bulk::open_for_match(&path)?;
                    let pair = Pair {
                        src: &pair.0,
                        dst: &pair.1,
                        stage: &pair.2,
                        now,
                    };
                    let generation = write_sqlite(&mut conn, &pair, received);
                    drop(conn);
                    bulk::release_freed_memory();
                    let generation = generation?;
                    bulk::checkpoint_later(path);
                    Ok(generation)
                });
                Inner::Sqlite { steps, done }
            }
            // As on SQLite, only an empty `translations` makes a run a first one.
            None => Inner::Postgres(
                bulk::PgLoad::begin(self.pool(), &["translations", "translation_sids"]).await?,
            ),
        };
        Ok(MatchWriter {
            src,
            dst,
            stage,
            now,
            inner,
        })
    }
}

impl MatchWriter {
    /// Writes one part of the run: its deletions first, then its rows and messages.
    pub async fn write(&mut self, write: MatchWrite) -> Result<()> {
        let pair = Pair {
            src: &self.src,
            dst: &self.dst,
            stage: &self.stage,
            now: self.now,
        };
        match &mut self.inner {
            Inner::Sqlite { steps, done } => {
                if steps.send(Step::Write(Box::new(write))).await.is_ok() {
                    return Ok(());
                }
                joined(done).await?;
                Err(Error::Internal("the match writer stopped early".into()))
            }
            Inner::Postgres(bulk::PgLoad { tx, rows, .. }) => {
                *rows += write.rows_changed();
                write_postgres(tx, &pair, &write).await
            }
        }
    }

    /// Bumps the pair's generation, stores `profile` as the one it matched with, and commits;
    /// returns the new generation.
    pub async fn finish(self, profile: &str) -> Result<i64> {
        match self.inner {
            Inner::Sqlite { steps, mut done } => {
                // When the writer has stopped, the send fails and its outcome says why.
                let _ = steps.send(Step::Finish(profile.to_string())).await;
                drop(steps);
                joined(&mut done).await
            }
            Inner::Postgres(mut load) => {
                let generation: i64 = sqlx::query_scalar(UPSERT_MATCH_PAIR)
                    .bind(self.src)
                    .bind(self.dst)
                    .bind(profile.to_string())
                    .bind(to_ms(self.now))
                    .fetch_one(&mut *load.tx)
                    .await?;
                load.commit("translations, translation_sids").await?;
                Ok(generation)
            }
        }
    }
}

/// The outcome of the SQLite writer's thread.
async fn joined(done: &mut tokio::task::JoinHandle<Result<i64>>) -> Result<i64> {
    done.await
        .map_err(|e| Error::Internal(format!("the match writer stopped: {}", e)))?
}

async fn write_postgres(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    pair: &Pair<'_>,
    write: &MatchWrite,
) -> Result<()> {
    let (src, dst) = (pair.src.to_string(), pair.dst.to_string());
    let per = PARAMS_PER_BULK_STATEMENT - 2;
    for chunk in write.delete_rows.chunks(per) {
        for sql in [
            delete_translations_sql(chunk.len()),
            delete_translation_sids_sql(chunk.len()),
        ] {
            let mut query = sqlx::query(&sql).bind(src.clone()).bind(dst.clone());
            for guid in chunk {
                query = query.bind(guid.to_string());
            }
            query.execute(&mut **tx).await?;
        }
    }
    let sids: Vec<(String, String)> = write
        .insert_rows
        .iter()
        .flat_map(|(e, _)| {
            let guid = e.source.guid.to_string();
            e.source
                .other_sids()
                .into_iter()
                .map(move |sid| (sid.to_string(), guid.clone()))
        })
        .collect();
    for chunk in sids.chunks(PARAMS_PER_BULK_STATEMENT / 4) {
        let sql = insert_translation_sids_sql(chunk.len());
        let mut query = sqlx::query(&sql);
        for (sid, guid) in chunk {
            query = query
                .bind(dst.clone())
                .bind(sid.clone())
                .bind(src.clone())
                .bind(guid.clone());
        }
        query.execute(&mut **tx).await?;
    }
    let insert = insert_translations_json_sql();
    let now = to_ms(pair.now);
    for chunk in write.insert_rows.chunks(bulk::PG_ROWS_PER_STATEMENT) {
        let rows: Vec<TranslationRow<'_>> = chunk
            .iter()
            .map(|(e, rule)| TranslationRow::new(e, now, rule))
            .collect();
        let rows = serde_json::to_string(&rows)
            .map_err(|e| Error::Internal(format!("translations not written as JSON: {}", e)))?;
        sqlx::query(&insert).bind(rows).execute(&mut **tx).await?;
    }
    for chunk in write.delete_messages.chunks(per) {
        let sql = delete_messages_sql(chunk.len());
        let mut query = sqlx::query(&sql)
            .bind(src.clone())
            .bind(pair.stage.to_string());
        for guid in chunk {
            query = query.bind(guid.to_string());
        }
        query.execute(&mut **tx).await?;
    }
    for chunk in write.upsert_messages.chunks(PARAMS_PER_BULK_STATEMENT / 6) {
        let sql = upsert_messages_sql(chunk.len());
        let mut query = sqlx::query(&sql);
        for m in chunk {
            query = query
                .bind(src.clone())
                .bind(m.guid.to_string())
                .bind(pair.stage.to_string())
                .bind(to_ms(m.at))
                .bind(m.level.as_str())
                .bind(m.message.clone());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Inserts translation rows on PostgreSQL: [`COLUMNS`], `matched_at` and `rule` of the rows of
/// $1 ([`TranslationRow`]s, see [`bulk::pg_recordset`]).
fn insert_translations_json_sql() -> String {
    let columns = format!("{}, matched_at, rule", COLUMNS);
    format!(
        "INSERT INTO translations ({columns}) SELECT {columns} FROM {}",
        bulk::pg_recordset(1, &columns, &["matched_at"]),
    )
}

/// One translation row as PostgreSQL's writes send it: its columns by name.
#[derive(Serialize)]
struct TranslationRow<'a> {
    kind: &'static str,
    source_directory: String,
    source_guid: String,
    source_sid: String,
    source_upn: Option<&'a str>,
    source_name: &'a str,
    target_directory: String,
    target_guid: String,
    target_sid: String,
    target_upn: Option<&'a str>,
    target_name: &'a str,
    source_on_premises_sid: Option<String>,
    source_sid_history: Option<String>,
    target_on_premises_sid: Option<String>,
    target_sid_history: Option<String>,
    matched_at: i64,
    rule: &'a str,
}

impl<'a> TranslationRow<'a> {
    fn new(e: &'a TranslationEntry, matched_at: i64, rule: &'a str) -> TranslationRow<'a> {
        TranslationRow {
            kind: e.kind.as_str(),
            source_directory: e.source.directory.to_string(),
            source_guid: e.source.guid.to_string(),
            source_sid: e.source.sid.to_string(),
            source_upn: e.source.upn.as_deref(),
            source_name: &e.source.name,
            target_directory: e.target.directory.to_string(),
            target_guid: e.target.guid.to_string(),
            target_sid: e.target.sid.to_string(),
            target_upn: e.target.upn.as_deref(),
            target_name: &e.target.name,
            source_on_premises_sid: sid_text(&e.source.on_premises_sid),
            source_sid_history: join_spaced(&e.source.sid_history),
            target_on_premises_sid: sid_text(&e.target.on_premises_sid),
            target_sid_history: join_spaced(&e.target.sid_history),
            matched_at,
            rule,
        }
    }
}

/// The SQLite writer of one run: takes the parts in order, each statement prepared once; rolls
/// back when the steps end without a finish.
fn write_sqlite(
    conn: &mut rusqlite::Connection,
    pair: &Pair<'_>,
    mut steps: tokio::sync::mpsc::Receiver<Step>,
) -> Result<i64> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(bulk::failed)?;
    // A first match run fills the tables; their indexes are built once it has. Only an empty
    // `translations` makes a run a first one: `translation_sids` stays empty while every source
    // has one SID.
    let rows = bulk::Deferred::when_empty(&tx, "translations")?;
    let sids = if rows.dropped_any() {
        bulk::Deferred::when_empty(&tx, "translation_sids")?
    } else {
        bulk::Deferred::none()
    };
    let deferred = [rows, sids];
    if deferred.iter().any(bulk::Deferred::dropped_any) {
        bulk::first_load_cache(&tx)?;
    }
    let profile = loop {
        match steps.blocking_recv() {
            None => {
                return Err(Error::Internal(
                    "the match run ended before it was finished; nothing was written".into(),
                ))
            }
            Some(Step::Write(write)) => {
                write_part_sqlite(&tx, pair, &write)?;
                bulk::drop_elsewhere(write);
            }
            Some(Step::Finish(profile)) => break profile,
        }
    };
    for indexes in deferred {
        indexes.rebuild(&tx)?;
    }
    let generation: i64 = tx
        .query_row(
            UPSERT_MATCH_PAIR,
            params![pair.src, pair.dst, profile, to_ms(pair.now)],
            |row| row.get(0),
        )
        .map_err(bulk::failed)?;
    tx.commit().map_err(bulk::failed)?;
    Ok(generation)
}

fn write_part_sqlite(
    tx: &rusqlite::Transaction<'_>,
    pair: &Pair<'_>,
    write: &MatchWrite,
) -> Result<()> {
    let (src, dst, stage) = (pair.src, pair.dst, pair.stage);
    // A source matched again with a different row keeps its row: only the columns that changed
    // are written, so the indexes on the others, and its SIDs when they are the same, are left
    // alone (a rename touches 3 of the table's 10 b-trees instead of deleting and inserting in
    // all 13 of both tables). A first run deletes nothing and rewrites nothing.
    let rewritten: HashSet<ObjectGuid> = if write.delete_rows.is_empty() {
        HashSet::new()
    } else {
        let inserted: HashSet<ObjectGuid> = write
            .insert_rows
            .iter()
            .map(|(e, _)| e.source.guid)
            .collect();
        write
            .delete_rows
            .iter()
            .filter(|g| inserted.contains(g))
            .copied()
            .collect()
    };
    let mut delete_row = tx
        .prepare_cached(&delete_translations_sql(1))
        .map_err(bulk::failed)?;
    let mut delete_sids = tx
        .prepare_cached(&delete_translation_sids_sql(1))
        .map_err(bulk::failed)?;
    for guid in write.delete_rows.iter().filter(|g| !rewritten.contains(g)) {
        let guid = guid.to_string();
        delete_row
            .execute(params![src, dst, guid])
            .map_err(bulk::failed)?;
        delete_sids
            .execute(params![src, dst, guid])
            .map_err(bulk::failed)?;
    }
    let mut insert_sid = tx
        .prepare_cached(&insert_translation_sids_sql(1))
        .map_err(bulk::failed)?;
    let mut insert_row = tx
        .prepare_cached(&insert_translations_sql(1))
        .map_err(bulk::failed)?;
    let now = to_ms(pair.now);
    for (e, rule) in &write.insert_rows {
        let values = column_values(e, src, dst);
        if rewritten.contains(&e.source.guid) && rewrite_row(tx, &values, now, rule)? {
            continue;
        }
        let guid = &values[SOURCE_GUID];
        for sid in e.source.other_sids() {
            insert_sid
                .execute(params![dst, sid.to_string(), src, guid])
                .map_err(bulk::failed)?;
        }
        let stamp: [&dyn ToSql; 2] = [&now, rule];
        insert_row
            .execute(params_from_iter(values.iter().map(sql).chain(stamp)))
            .map_err(bulk::failed)?;
    }
    let mut delete_message = tx
        .prepare_cached(&delete_messages_sql(1))
        .map_err(bulk::failed)?;
    for guid in &write.delete_messages {
        delete_message
            .execute(params![src, stage, guid.to_string()])
            .map_err(bulk::failed)?;
    }
    let mut upsert_message = tx
        .prepare_cached(&upsert_messages_sql(1))
        .map_err(bulk::failed)?;
    for m in &write.upsert_messages {
        upsert_message
            .execute(params![
                src,
                m.guid.to_string(),
                stage,
                to_ms(m.at),
                m.level.as_str(),
                m.message
            ])
            .map_err(bulk::failed)?;
    }
    Ok(())
}

/// A value of [`column_values`] as a statement's parameter.
fn sql<'a>(value: &'a Option<Cow<'_, str>>) -> &'a dyn ToSql {
    value
}

/// Positions in [`COLUMNS`] of the columns a rewrite reads by name.
const SOURCE_DIRECTORY: usize = 1;
const SOURCE_GUID: usize = 2;
const SOURCE_SID: usize = 3;
const TARGET_DIRECTORY: usize = 6;
const SOURCE_ON_PREMISES_SID: usize = 11;
const SOURCE_SID_HISTORY: usize = 12;

/// A row's key: its source directory, source GUID and target directory, in that order.
const KEY_MATCHES: &str = "source_directory = ? AND source_guid = ? AND target_directory = ?";

/// The names of [`COLUMNS`], in order.
fn column_names() -> impl Iterator<Item = &'static str> {
    COLUMNS.split(',').map(str::trim)
}

/// The values of [`COLUMNS`] for `e`, in order, as the table holds them.
fn column_values<'a>(
    e: &'a TranslationEntry,
    src: &'a str,
    dst: &'a str,
) -> [Option<Cow<'a, str>>; COLUMN_COUNT] {
    let (s, t) = (&e.source, &e.target);
    let owned = |text: String| Some(Cow::Owned(text));
    let borrowed = |text: &'a str| Some(Cow::Borrowed(text));
    [
        borrowed(e.kind.as_str()),
        borrowed(src),
        owned(s.guid.to_string()),
        owned(s.sid.to_string()),
        s.upn.as_deref().map(Cow::Borrowed),
        borrowed(&s.name),
        borrowed(dst),
        owned(t.guid.to_string()),
        owned(t.sid.to_string()),
        t.upn.as_deref().map(Cow::Borrowed),
        borrowed(&t.name),
        sid_text(&s.on_premises_sid).map(Cow::Owned),
        join_spaced(&s.sid_history).map(Cow::Owned),
        sid_text(&t.on_premises_sid).map(Cow::Owned),
        join_spaced(&t.sid_history).map(Cow::Owned),
    ]
}

/// The source SIDs a row's values name besides its own (its on-premises SID and its history),
/// each once: those `translation_sids` holds for the row.
fn other_sids<T: AsRef<str>>(values: &[Option<T>; COLUMN_COUNT]) -> BTreeSet<&str> {
    let text = |i: usize| values[i].as_ref().map(AsRef::as_ref);
    let history = text(SOURCE_SID_HISTORY).unwrap_or_default();
    let own = text(SOURCE_SID);
    text(SOURCE_ON_PREMISES_SID)
        .into_iter()
        .chain(history.split_whitespace())
        .filter(|sid| Some(*sid) != own)
        .collect()
}

/// Writes the row of `values` over the row the store holds for its key, setting only the columns
/// that differ, and adds and removes only the other source SIDs that differ. False, with nothing
/// written, when the store holds no row for the key.
fn rewrite_row(
    tx: &rusqlite::Transaction<'_>,
    values: &[Option<Cow<'_, str>>; COLUMN_COUNT],
    now: i64,
    rule: &str,
) -> Result<bool> {
    let key = [
        &values[SOURCE_DIRECTORY],
        &values[SOURCE_GUID],
        &values[TARGET_DIRECTORY],
    ];
    let old: Option<[Option<String>; COLUMN_COUNT]> = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM translations WHERE {KEY_MATCHES}"
        ))
        .map_err(bulk::failed)?
        .query_row(params_from_iter(key), |row| {
            let mut old: [Option<String>; COLUMN_COUNT] = Default::default();
            for (i, value) in old.iter_mut().enumerate() {
                *value = row.get(i)?;
            }
            Ok(old)
        })
        .optional()
        .map_err(bulk::failed)?;
    let Some(old) = old else {
        return Ok(false);
    };
    let changed: Vec<usize> = (0..COLUMN_COUNT)
        .filter(|&i| old[i].as_deref() != values[i].as_deref())
        .collect();
    let mut set: String = column_names()
        .enumerate()
        .filter(|(i, _)| changed.contains(i))
        .map(|(_, name)| format!("{name} = ?, "))
        .collect();
    set.push_str("matched_at = ?, rule = ?");
    let mut update = tx
        .prepare_cached(&format!(
            "UPDATE translations SET {set} WHERE {KEY_MATCHES}"
        ))
        .map_err(bulk::failed)?;
    let stamp: [&dyn ToSql; 2] = [&now, &rule];
    let set_values = changed.iter().map(|&i| sql(&values[i]));
    update
        .execute(params_from_iter(
            set_values.chain(stamp).chain(key.into_iter().map(sql)),
        ))
        .map_err(bulk::failed)?;

    let (before, after) = (other_sids(&old), other_sids(values));
    if before != after {
        let (dst, src, guid) = (
            &values[TARGET_DIRECTORY],
            &values[SOURCE_DIRECTORY],
            &values[SOURCE_GUID],
        );
        let mut remove = tx
            .prepare_cached(
                "DELETE FROM translation_sids WHERE target_directory = ? AND sid = ? \
                 AND source_directory = ? AND source_guid = ?",
            )
            .map_err(bulk::failed)?;
        for sid in before.difference(&after) {
            remove
                .execute(params![dst, sid, src, guid])
                .map_err(bulk::failed)?;
        }
        let mut add = tx
            .prepare_cached(&insert_translation_sids_sql(1))
            .map_err(bulk::failed)?;
        for sid in after.difference(&before) {
            add.execute(params![dst, sid, src, guid])
                .map_err(bulk::failed)?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_positions_are_those_of_the_columns() {
        let names: Vec<&str> = column_names().collect();
        assert_eq!(names.len(), COLUMN_COUNT);
        for (at, name) in [
            (SOURCE_DIRECTORY, "source_directory"),
            (SOURCE_GUID, "source_guid"),
            (SOURCE_SID, "source_sid"),
            (TARGET_DIRECTORY, "target_directory"),
            (SOURCE_ON_PREMISES_SID, "source_on_premises_sid"),
            (SOURCE_SID_HISTORY, "source_sid_history"),
        ] {
            assert_eq!(names[at], name);
        }
    }
}
