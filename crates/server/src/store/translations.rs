//! The translation table: source object → target object, per source and target directory.

use chrono::{DateTime, Utc};
use model::directory::{ObjectKind, TranslationEntry, TranslationSide};
use model::ids::{DirectoryId, ObjectGuid};
use secdesc::Sid;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::directories::split_spaced;
use super::{
    from_ms, parse_text, placeholders, row_placeholders, to_ms, Store, ROWS_PER_STATEMENT,
};
use crate::{Error, Result};

mod writer;
pub use writer::MatchWriter;

pub(super) const COLUMNS: &str =
    "kind, source_directory, source_guid, source_sid, source_upn, source_name, \
                       target_directory, target_guid, target_sid, target_upn, target_name, \
                       source_on_premises_sid, source_sid_history, target_on_premises_sid, \
                       target_sid_history";

/// Columns of [`COLUMNS`].
const COLUMN_COUNT: usize = 15;

// The statements of a match run, written once for both paths: `$n` parameters, each used once
// and in order, bind by position in rusqlite and by number in sqlx.

/// Deletes `count` rows of a pair (source $1, target $2) by source GUID ($3, …).
fn delete_translations_sql(count: usize) -> String {
    format!(
        "DELETE FROM translations WHERE source_directory = $1 AND target_directory = $2 \
         AND source_guid IN ({})",
        placeholders(3, count)
    )
}

/// Inserts `rows` translation rows: [`COLUMNS`], `matched_at` and `rule`.
fn insert_translations_sql(rows: usize) -> String {
    format!(
        "INSERT INTO translations ({}, matched_at, rule) VALUES {}",
        COLUMNS,
        row_placeholders(rows, COLUMN_COUNT + 2)
    )
}

/// Deletes the SIDs of `count` source objects of a pair (source $1, target $2) by GUID ($3, …).
fn delete_translation_sids_sql(count: usize) -> String {
    format!(
        "DELETE FROM translation_sids WHERE source_directory = $1 AND target_directory = $2 \
         AND source_guid IN ({})",
        placeholders(3, count)
    )
}

/// Inserts `rows` (target directory, SID, source directory, source GUID) rows.
fn insert_translation_sids_sql(rows: usize) -> String {
    format!(
        "INSERT INTO translation_sids (target_directory, sid, source_directory, source_guid) \
         VALUES {} ON CONFLICT DO NOTHING",
        row_placeholders(rows, 4)
    )
}

/// The text of an optional SID column.
fn sid_text(sid: &Option<Sid>) -> Option<String> {
    sid.as_ref().map(ToString::to_string)
}

/// Deletes `count` messages of a stage (directory $1, stage $2) by GUID ($3, …).
fn delete_messages_sql(count: usize) -> String {
    format!(
        "DELETE FROM object_messages WHERE directory = $1 AND stage = $2 AND guid IN ({})",
        placeholders(3, count)
    )
}

/// Inserts or replaces `rows` messages.
fn upsert_messages_sql(rows: usize) -> String {
    format!(
        "INSERT INTO object_messages (directory, guid, stage, at, level, message) VALUES {} \
         ON CONFLICT (directory, guid, stage) DO UPDATE SET at = excluded.at, \
         level = excluded.level, message = excluded.message",
        row_placeholders(rows, 6)
    )
}

const UPSERT_MATCH_PAIR: &str = "INSERT INTO match_pairs \
     (source_directory, target_directory, profile, generation, updated_at) \
     VALUES ($1, $2, $3, 1, $4) ON CONFLICT (source_directory, target_directory) DO UPDATE SET \
     profile = excluded.profile, generation = match_pairs.generation + 1, \
     updated_at = excluded.updated_at RETURNING generation";

pub(super) fn entry_from_row(row: &AnyRow) -> Result<TranslationEntry> {
    let kind: String = row.try_get("kind")?;
    let side = |prefix: &str| -> Result<TranslationSide> {
        Ok(TranslationSide {
            guid: parse_text(
                "translation guid",
                &row.try_get::<String, _>(format!("{}_guid", prefix).as_str())?,
            )?,
            sid: parse_text(
                "translation sid",
                &row.try_get::<String, _>(format!("{}_sid", prefix).as_str())?,
            )?,
            on_premises_sid: row
                .try_get::<Option<String>, _>(format!("{}_on_premises_sid", prefix).as_str())?
                .map(|s| parse_text("translation on_premises_sid", &s))
                .transpose()?,
            sid_history: split_spaced(
                "translation sid_history",
                row.try_get(format!("{}_sid_history", prefix).as_str())?,
            )?,
            upn: row.try_get(format!("{}_upn", prefix).as_str())?,
            name: row.try_get(format!("{}_name", prefix).as_str())?,
            directory: parse_text(
                "translation directory",
                &row.try_get::<String, _>(format!("{}_directory", prefix).as_str())?,
            )?,
        })
    };
    Ok(TranslationEntry {
        kind: ObjectKind::parse(&kind).ok_or_else(|| {
            Error::Internal(format!(
                "stored translation kind {:?} is not understood",
                kind
            ))
        })?,
        source: side("source")?,
        target: side("target")?,
    })
}

/// How much a message about an object matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageLevel {
    /// For the record.
    Info,
    /// Something an engineer should look at: the object is not translated.
    Warning,
    /// Matching could not decide: the object is held back.
    Error,
}

impl MessageLevel {
    /// The stable name, as stored and as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageLevel::Info => "info",
            MessageLevel::Warning => "warning",
            MessageLevel::Error => "error",
        }
    }

    /// The level named `text`.
    pub fn parse(text: &str) -> Option<MessageLevel> {
        match text {
            "info" => Some(MessageLevel::Info),
            "warning" => Some(MessageLevel::Warning),
            "error" => Some(MessageLevel::Error),
            _ => None,
        }
    }
}

impl std::fmt::Display for MessageLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object's latest word from a stage (import, or matching into a target directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectMessage {
    /// The object.
    pub guid: ObjectGuid,
    /// How much it matters.
    pub level: MessageLevel,
    /// What happened, in words.
    pub message: String,
    /// When it was said.
    pub at: DateTime<Utc>,
}

/// Everything one match run changes for a source and target pair.
#[derive(Debug, Default)]
pub struct MatchWrite {
    /// Source GUIDs whose translation row goes (before `insert_rows` are written).
    pub delete_rows: Vec<ObjectGuid>,
    /// New or rewritten rows, with the rule that matched.
    pub insert_rows: Vec<(TranslationEntry, String)>,
    /// Messages to add or replace.
    pub upsert_messages: Vec<ObjectMessage>,
    /// Source GUIDs whose message goes.
    pub delete_messages: Vec<ObjectGuid>,
}

impl MatchWrite {
    /// Rows and messages to write or remove.
    pub fn len(&self) -> usize {
        self.delete_rows.len()
            + self.insert_rows.len()
            + self.upsert_messages.len()
            + self.delete_messages.len()
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Translation rows written or removed.
    pub fn rows_changed(&self) -> u64 {
        (self.delete_rows.len() + self.insert_rows.len()) as u64
    }
}

/// A row read with its `rule` column: the entry and the rule that matched it.
fn entry_with_rule(row: &AnyRow) -> Result<(TranslationEntry, String)> {
    let rule: Option<String> = row.try_get("rule")?;
    Ok((entry_from_row(row)?, rule.unwrap_or_default()))
}

fn message_from_row(row: &AnyRow) -> Result<ObjectMessage> {
    Ok(ObjectMessage {
        guid: parse_text("message guid", &row.try_get::<String, _>("guid")?)?,
        level: {
            let level: String = row.try_get("level")?;
            MessageLevel::parse(&level).ok_or_else(|| {
                Error::Internal(format!(
                    "stored message level {:?} is not understood",
                    level
                ))
            })?
        },
        message: row.try_get("message")?,
        at: from_ms(row.try_get("at")?),
    })
}

impl Store {
    /// The number every match run of the pair raises; 0 before the first.
    pub async fn pair_generation(&self, source: DirectoryId, target: DirectoryId) -> Result<i64> {
        let generation: Option<i64> = sqlx::query_scalar(
            "SELECT generation FROM match_pairs WHERE source_directory = $1 AND target_directory = $2",
        )
        .bind(source.to_string())
        .bind(target.to_string())
        .fetch_optional(self.pool())
        .await?;
        Ok(generation.unwrap_or(0))
    }

    /// The match profile stored for the pair (JSON), if any run or edit stored one.
    pub async fn pair_profile(
        &self,
        source: DirectoryId,
        target: DirectoryId,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT profile FROM match_pairs WHERE source_directory = $1 AND target_directory = $2",
        )
        .bind(source.to_string())
        .bind(target.to_string())
        .fetch_optional(self.pool())
        .await?)
    }

    /// Stores the match profile of a pair without running it.
    pub async fn set_pair_profile(
        &self,
        source: DirectoryId,
        target: DirectoryId,
        profile: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO match_pairs (source_directory, target_directory, profile, generation, updated_at) \
             VALUES ($1, $2, $3, 0, $4) ON CONFLICT (source_directory, target_directory) DO UPDATE SET \
             profile = excluded.profile, updated_at = excluded.updated_at",
        )
        .bind(source.to_string())
        .bind(target.to_string())
        .bind(profile)
        .bind(to_ms(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every translation row of a pair, with the rule that matched it.
    pub async fn pair_translations(
        &self,
        source: DirectoryId,
        target: DirectoryId,
    ) -> Result<Vec<(TranslationEntry, String)>> {
        let rows = sqlx::query(&format!(
            "SELECT {}, rule FROM translations WHERE source_directory = $1 AND target_directory = $2",
            COLUMNS
        ))
        .bind(source.to_string())
        .bind(target.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(entry_with_rule).collect()
    }

    /// The messages of `stage` on objects of `directory`.
    pub async fn stage_messages(
        &self,
        directory: DirectoryId,
        stage: &str,
    ) -> Result<Vec<ObjectMessage>> {
        let rows = sqlx::query(
            "SELECT guid, level, message, at FROM object_messages WHERE directory = $1 AND stage = $2",
        )
        .bind(directory.to_string())
        .bind(stage)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Every message on one object, by stage.
    pub async fn object_messages(
        &self,
        directory: DirectoryId,
        guid: ObjectGuid,
    ) -> Result<Vec<(String, ObjectMessage)>> {
        let rows = sqlx::query(
            "SELECT guid, stage, level, message, at FROM object_messages WHERE directory = $1 AND guid = $2 ORDER BY stage",
        )
        .bind(directory.to_string())
        .bind(guid.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("stage")?, message_from_row(row)?)))
            .collect()
    }

    /// Applies one match run of a pair in one transaction and returns the pair's new generation.
    pub async fn write_match(
        &self,
        source: DirectoryId,
        target: DirectoryId,
        stage: &str,
        profile: &str,
        write: MatchWrite,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let mut writer = self.begin_match(source, target, stage, now).await?;
        writer.write(write).await?;
        writer.finish(profile).await
    }

    /// Translation entries, optionally only those whose names, UPNs or SIDs contain `search`
    /// (ignoring case), ordered by source name.
    pub async fn translations(&self, search: Option<&str>) -> Result<Vec<TranslationEntry>> {
        let (condition, binds) = containing(search);
        let sql = format!(
            "SELECT {} FROM translations WHERE {} ORDER BY source_name, source_guid",
            COLUMNS, condition
        );
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The translations into `target` of exactly the source SIDs in `sids` that have one.
    pub async fn translations_for_sids(
        &self,
        target: DirectoryId,
        sids: &[Sid],
    ) -> Result<Vec<TranslationEntry>> {
        let mut out = Vec::new();
        for chunk in sids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {} FROM translations WHERE target_directory = $1 AND source_sid IN ({}) ORDER BY source_sid",
                COLUMNS,
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(target.to_string());
            for sid in chunk {
                query = query.bind(sid.to_string());
            }
            for row in query.fetch_all(self.pool()).await? {
                out.push(entry_from_row(&row)?);
            }
        }
        Ok(out)
    }
}

/// One row [`Store::translations_for_device`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// The SID, of those the device sent, that found the row.
    pub found: Sid,
    /// The row.
    pub entry: TranslationEntry,
    /// Whether the target directory still holds the row's target object.
    pub target_stored: bool,
}

/// The condition (with its binds, `$1` on) of the translation rows that hold `search` inside a
/// name, UPN or SID, ignoring case; every row for no search.
pub(super) fn containing(search: Option<&str>) -> (&'static str, Vec<String>) {
    match search.map(str::trim).filter(|s| !s.is_empty()) {
        None => ("1 = 1", Vec::new()),
        Some(search) => {
            let pattern = format!(
                "%{}%",
                search
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            (
                "(LOWER(source_name) LIKE $1 ESCAPE '\\' \
                 OR LOWER(target_name) LIKE $1 ESCAPE '\\' OR LOWER(COALESCE(source_upn, '')) LIKE $1 ESCAPE '\\' \
                 OR LOWER(COALESCE(target_upn, '')) LIKE $1 ESCAPE '\\' OR LOWER(source_sid) LIKE $1 ESCAPE '\\' \
                 OR LOWER(target_sid) LIKE $1 ESCAPE '\\' \
                 OR LOWER(COALESCE(source_on_premises_sid, '')) LIKE $1 ESCAPE '\\' \
                 OR LOWER(COALESCE(source_sid_history, '')) LIKE $1 ESCAPE '\\' \
                 OR LOWER(COALESCE(target_on_premises_sid, '')) LIKE $1 ESCAPE '\\')",
                vec![pattern],
            )
        }
    }
}

/// Joins a row `t` to its target object `o`, which is NULL when an import deleted it.
const TARGET_STORED: &str = "LEFT JOIN directory_objects o \
     ON o.directory = t.target_directory AND o.guid = t.target_guid";

impl Store {
    /// The translation rows into `target` of every source object that has one of `sids` among
    /// its SIDs (own, on-premises, sIDHistory), each with the SID of `sids` that found it and
    /// whether the row's target object is still stored: an import that deleted it leaves the
    /// row until the pair is matched again. A row's own source SID is found in the row
    /// (`translations_source_sid`), its other SIDs in `translation_sids`: with one SID an
    /// object, as most have, that table stays empty, and a match run writes three b-trees fewer
    /// a row (its table and two indexes).
    pub async fn translations_for_device(
        &self,
        target: DirectoryId,
        sids: &[Sid],
    ) -> Result<Vec<DeviceRow>> {
        let columns: Vec<String> = COLUMNS
            .split(',')
            .map(|c| format!("t.{}", c.trim()))
            .collect();
        let mut out = Vec::new();
        for chunk in sids.chunks(ROWS_PER_STATEMENT) {
            let (columns, listed) = (columns.join(", "), placeholders(2, chunk.len()));
            let sql = format!(
                "SELECT t.source_sid AS found_sid, {columns}, o.guid AS stored_target \
                 FROM translations t {TARGET_STORED} \
                 WHERE t.target_directory = $1 AND t.source_sid IN ({listed}) \
                 UNION \
                 SELECT s.sid AS found_sid, {columns}, o.guid AS stored_target \
                 FROM translation_sids s JOIN translations t \
                 ON t.source_directory = s.source_directory AND t.source_guid = s.source_guid \
                 AND t.target_directory = s.target_directory {TARGET_STORED} \
                 WHERE s.target_directory = $1 AND s.sid IN ({listed}) \
                 ORDER BY found_sid, source_directory, source_guid"
            );
            let mut query = sqlx::query(&sql).bind(target.to_string());
            for sid in chunk {
                query = query.bind(sid.to_string());
            }
            for row in query.fetch_all(self.pool()).await? {
                let found: String = row.try_get("found_sid")?;
                let stored: Option<String> = row.try_get("stored_target")?;
                out.push(DeviceRow {
                    found: parse_text("translation sid", &found)?,
                    entry: entry_from_row(&row)?,
                    target_stored: stored.is_some(),
                });
            }
        }
        Ok(out)
    }

    /// How many rows the translation table holds, and how many source SIDs devices find them
    /// by (each row's own, and the others `translation_sids` holds), for reports and
    /// benchmarks.
    pub async fn translation_counts(&self) -> Result<(u64, u64)> {
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM translations")
            .fetch_one(self.pool())
            .await?;
        let others: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM translation_sids")
            .fetch_one(self.pool())
            .await?;
        Ok((rows as u64, (rows + others) as u64))
    }

    /// The rows where the object is the source or the target.
    pub async fn translations_of(
        &self,
        directory: DirectoryId,
        guid: ObjectGuid,
    ) -> Result<Vec<(TranslationEntry, String)>> {
        let rows = sqlx::query(&format!(
            "SELECT {}, rule FROM translations WHERE (source_directory = $1 AND source_guid = $2) \
             OR (target_directory = $1 AND target_guid = $2) ORDER BY source_name",
            COLUMNS
        ))
        .bind(directory.to_string())
        .bind(guid.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(entry_with_rule).collect()
    }
}
