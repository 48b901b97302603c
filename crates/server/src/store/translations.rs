//! The translation table: source object → target object, per source and target directory.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use model::directory::{ObjectKind, TranslationEntry, TranslationSide};
use model::ids::DirectoryId;
use secdesc::Sid;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{parse_text, placeholders, row_placeholders, to_ms, Store, ROWS_PER_STATEMENT};
use crate::{Error, Result};

const COLUMNS: &str = "kind, source_directory, source_guid, source_sid, source_upn, source_name, \
                       target_directory, target_guid, target_sid, target_upn, target_name";

fn entry_from_row(row: &AnyRow) -> Result<TranslationEntry> {
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

impl Store {
    /// Replaces every translation from `source` to `target` with `entries`, in one transaction.
    /// Only rows that differ are written; an unchanged row keeps the instant it was matched.
    pub async fn replace_translations(
        &self,
        source: DirectoryId,
        target: DirectoryId,
        entries: &[TranslationEntry],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM translations WHERE source_directory = $1 AND target_directory = $2",
            COLUMNS
        ))
        .bind(source.to_string())
        .bind(target.to_string())
        .fetch_all(&mut *tx)
        .await?;
        let mut existing = HashMap::with_capacity(rows.len());
        for row in &rows {
            let entry = entry_from_row(row)?;
            existing.insert(entry.source.guid, entry);
        }
        drop(rows);
        let mut changed: Vec<&TranslationEntry> = Vec::new();
        for entry in entries {
            match existing.remove(&entry.source.guid) {
                Some(old) if &old == entry => {}
                _ => changed.push(entry),
            }
        }
        // What is left was matched before and is not now; changed rows are rewritten whole.
        let gone: Vec<String> = existing
            .into_keys()
            .chain(changed.iter().map(|e| e.source.guid))
            .map(|g| g.to_string())
            .collect();
        for chunk in gone.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM translations WHERE source_directory = $1 AND target_directory = $2 AND source_guid IN ({})",
                placeholders(3, chunk.len())
            );
            let mut query = sqlx::query(&sql)
                .bind(source.to_string())
                .bind(target.to_string());
            for guid in chunk {
                query = query.bind(guid.clone());
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in changed.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO translations ({}, matched_at) VALUES {}",
                COLUMNS,
                row_placeholders(chunk.len(), 12)
            );
            let mut query = sqlx::query(&sql);
            for e in chunk {
                query = query
                    .bind(e.kind.as_str())
                    .bind(e.source.directory.to_string())
                    .bind(e.source.guid.to_string())
                    .bind(e.source.sid.to_string())
                    .bind(e.source.upn.clone())
                    .bind(e.source.name.clone())
                    .bind(e.target.directory.to_string())
                    .bind(e.target.guid.to_string())
                    .bind(e.target.sid.to_string())
                    .bind(e.target.upn.clone())
                    .bind(e.target.name.clone())
                    .bind(to_ms(now));
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Translation entries, optionally only those whose names, UPNs or SIDs contain `search`
    /// (ignoring case), ordered by source name.
    pub async fn translations(&self, search: Option<&str>) -> Result<Vec<TranslationEntry>> {
        let rows = match search.map(str::trim).filter(|s| !s.is_empty()) {
            Some(search) => {
                let pattern = format!(
                    "%{}%",
                    search
                        .to_lowercase()
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                );
                sqlx::query(&format!(
                    "SELECT {} FROM translations WHERE LOWER(source_name) LIKE $1 ESCAPE '\\' \
                     OR LOWER(target_name) LIKE $1 ESCAPE '\\' OR LOWER(COALESCE(source_upn, '')) LIKE $1 ESCAPE '\\' \
                     OR LOWER(COALESCE(target_upn, '')) LIKE $1 ESCAPE '\\' OR LOWER(source_sid) LIKE $1 ESCAPE '\\' \
                     OR LOWER(target_sid) LIKE $1 ESCAPE '\\' ORDER BY source_name, source_guid",
                    COLUMNS
                ))
                .bind(pattern)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {} FROM translations ORDER BY source_name, source_guid",
                    COLUMNS
                ))
                .fetch_all(self.pool())
                .await?
            }
        };
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
