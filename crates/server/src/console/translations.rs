//! The translation table: searched and filtered by directory on the server, a page at a time,
//! with the same rows as CSV.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use model::ids::{DirectoryId, ObjectGuid};
use serde::Deserialize;

use super::table::{self, link};
use super::Viewer;

/// Rows each statement of a CSV export reads.
const CSV_CHUNK: u64 = 5_000;
use crate::auth::{Access, Area};
use crate::store::translation_pages::TranslationFilter;
use crate::{App, Result};

/// The filters.
#[derive(Debug, Default, Deserialize)]
pub struct TranslationQuery {
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    directory: Option<String>,
}

fn text(v: &Option<String>) -> &str {
    v.as_deref().map(str::trim).unwrap_or_default()
}

impl TranslationQuery {
    fn filter(&self) -> TranslationFilter {
        TranslationFilter {
            search: Some(text(&self.search).to_string()).filter(|s| !s.is_empty()),
            directory: text(&self.directory).parse::<DirectoryId>().ok(),
        }
    }
}

/// `GET /translations?search=&directory=`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<TranslationQuery>,
    Query(cursor): Query<table::Cursor>,
) -> Result<Response> {
    if !viewer.may(Area::Sync, Access::Read) {
        return Ok(viewer.sync_page("Translation table", html! {}));
    }
    let mut directories = app.store.directories().await?;
    directories.sort_by(|a, b| a.name.cmp(&b.name));
    let filter = q.filter();
    let (total, page, shown) = table::seek_paged(
        app.store.translation_count(&filter),
        &cursor,
        |seek, limit| app.store.translation_seek(&filter, seek, limit),
    )
    .await?;
    // The targets an import deleted since their rows were matched.
    let mut gone = std::collections::HashSet::new();
    let mut by_target: std::collections::BTreeMap<DirectoryId, Vec<ObjectGuid>> =
        std::collections::BTreeMap::new();
    for e in &shown.rows {
        by_target
            .entry(e.target.directory)
            .or_default()
            .push(e.target.guid);
    }
    for (directory, guids) in by_target {
        let stored = app.store.object_names_of(directory, &guids).await?;
        gone.extend(
            guids
                .into_iter()
                .filter(|g| !stored.contains_key(g))
                .map(|g| (directory, g)),
        );
    }
    let pairs = [
        ("search", text(&q.search)),
        ("directory", text(&q.directory)),
    ];
    let body = html! {
        h1 { "Translation table" }
        form.filters method="get" action="/translations" {
            label { "Name or UPN starts with, or SID" input name="search" value=(text(&q.search)) placeholder="ada* or S-1-5-21-…"; }
            label { "Directory" select name="directory" {
                option value="" { "Every directory" }
                @for d in &directories { option value=(d.id) selected[text(&q.directory) == d.id.to_string()] { (d.name) } }
            } }
            button type="submit" { "Filter" }
        }
        p { a href=(link("/translations.csv", &pairs)) download { "Download CSV of these " (total) " rows" } }
        table {
            thead { tr { th { "Kind" } th { "Source" } th { "Source SID" } th { "Target" } th { "Target SID" } } }
            tbody {
                @for e in &shown.rows {
                    tr {
                        td { (e.kind.as_str()) }
                        td { a href=(format!("/objects/{}/{}", e.source.directory, e.source.guid)) { (e.source.name) } @if let Some(u) = &e.source.upn { br; span.muted { (u) } } }
                        td { code { (e.source.sid) } }
                        @if gone.contains(&(e.target.directory, e.target.guid)) {
                            td { (e.target.name) br; span.stale { "No longer in the target directory: no device is given this row until the pair is matched again." } }
                        } @else {
                            td { a href=(format!("/objects/{}/{}", e.target.directory, e.target.guid)) { (e.target.name) } @if let Some(u) = &e.target.upn { br; span.muted { (u) } } }
                        }
                        td { code { (e.target.sid) } }
                    }
                }
            }
        }
        (table::seek_pager("/translations", &pairs, page, total, &shown))
    };
    Ok(viewer.sync_page("Translation table", body))
}

/// `GET /translations.csv`: every row the filters keep.
pub async fn csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<TranslationQuery>,
) -> Result<Response> {
    viewer.caller.require(Area::Sync, Access::Read)?;
    let filter = q.filter();
    let plan = app.store.translation_plan(&filter).await?;
    let rows = crate::csv_export::chunked(CSV_CHUNK, move |seek, limit| {
        let (app, filter) = (app.clone(), filter.clone());
        async move {
            app.store
                .translation_seek_planned(&filter, plan, seek, limit)
                .await
        }
    });
    Ok(crate::csv_export::stream(
        "translation-table.csv",
        crate::api::translations::CSV_COLUMNS,
        rows,
        crate::api::translations::csv_row,
    ))
}
