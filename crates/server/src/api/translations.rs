//! `/api/v1/translations` and `/translations.csv`: the translation table, as JSON and as a CSV
//! download.

use axum::extract::{Query, State};
use axum::response::Response;
use model::directory::TranslationEntry;
use serde::Deserialize;

use crate::auth::{Access, Area, Caller};
use crate::{App, Result};

/// The query of the translation table routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Search {
    /// Only rows whose names, UPNs or SIDs contain this, ignoring case.
    pub search: Option<String>,
}

/// `GET /translations?search=`.
#[utoipa::path(
    get,
    path = "/translations",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(Search),
    responses(
        (status = 200, description = "The translation table.", body = [crate::api::openapi::schemas::TranslationEntry])
    )
)]
pub async fn translations(
    caller: Caller,
    State(app): State<App>,
    Query(q): Query<Search>,
) -> Result<Response> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(crate::csv_export::stream_json(rows(app, q.search)))
}

/// Rows read at once by the JSON and CSV answers: a statement's worth at a time, so a table of
/// a million rows is streamed, never held whole.
const CHUNK: u64 = 5_000;

/// The rows holding `search` (see [`Store::translations_containing`]), a chunk at a time, as
/// they are read.
///
/// [`Store::translations_containing`]: crate::store::Store::translations_containing
fn rows(app: App, search: Option<String>) -> tokio::sync::mpsc::Receiver<Result<TranslationEntry>> {
    crate::csv_export::chunked(CHUNK, move |seek, limit| {
        let (app, search) = (app.clone(), search.clone());
        async move {
            app.store
                .translations_containing(search.as_deref(), seek, limit)
                .await
        }
    })
}

/// The translation table as CSV, one row per entry.
pub fn translations_to_csv(entries: &[TranslationEntry]) -> Result<String> {
    crate::csv_export::write(CSV_COLUMNS, entries.iter().cloned().map(csv_row))
}

/// The columns of the translation table's CSV downloads (this route's and the console's).
pub(crate) const CSV_COLUMNS: [&str; 11] = [
    "kind",
    "source_name",
    "source_upn",
    "source_sid",
    "source_guid",
    "target_name",
    "target_upn",
    "target_sid",
    "target_guid",
    "source_other_sids",
    "target_on_premises_sid",
];

/// One row of the translation table's CSV download, in the order of [`CSV_COLUMNS`].
pub(crate) fn csv_row(e: TranslationEntry) -> [String; 11] {
    // The source's on-premises SID and sIDHistory: a device may hold any of them.
    let other_sids = e
        .source
        .sids()
        .iter()
        .skip(1)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    [
        e.kind.as_str().to_string(),
        e.source.name,
        e.source.upn.unwrap_or_default(),
        e.source.sid.to_string(),
        e.source.guid.to_string(),
        e.target.name,
        e.target.upn.unwrap_or_default(),
        e.target.sid.to_string(),
        e.target.guid.to_string(),
        other_sids,
        e.target
            .on_premises_sid
            .map(|s| s.to_string())
            .unwrap_or_default(),
    ]
}

/// `GET /translations.csv?search=`: the same rows as a download.
#[utoipa::path(
    get,
    path = "/translations.csv",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(Search),
    responses(
        (status = 200, description = "The translation table as CSV.", body = String, content_type = "text/csv")
    )
)]
pub async fn translations_csv(
    caller: Caller,
    State(app): State<App>,
    Query(q): Query<Search>,
) -> Result<Response> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(crate::csv_export::stream(
        "translation-table.csv",
        CSV_COLUMNS,
        rows(app, q.search),
        csv_row,
    ))
}
