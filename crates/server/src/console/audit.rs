//! The audit trail in the console, for tenant administrators: filters by actor and action, the
//! newest entries first, and the same selection as CSV.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{when, Viewer};
use crate::audit::routes::AuditQuery;
use crate::auth::{Access, Area};
use crate::{App, Result};

/// Entries shown on the page; the CSV holds more.
const SHOWN: u32 = 500;

fn text(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

/// `GET /audit?actor=&action=`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<AuditQuery>,
) -> Result<Response> {
    if viewer.caller.require(Area::Tenant, Access::Read).is_err() {
        return Ok(viewer.refusal(
            "Audit trail",
            "Only a tenant administrator reads the audit trail.",
        ));
    }
    let mut filter = q.filter()?;
    filter.limit = filter.limit.min(SHOWN);
    let entries = app.store.audit(&filter).await?;
    let actor = q.actor.clone().unwrap_or_default();
    let action = q.action.clone().unwrap_or_default();
    let csv = format!(
        "/api/v1/audit.csv?actor={}&action={}",
        url_escape(&actor),
        url_escape(&action)
    );
    let body = html! {
        h1 { "Audit trail" }
        p.muted { "Every change, sign-in, refused sign-in and lockout, newest first. Secrets are never recorded." }
        form method="get" action="/audit" {
            label for="actor" { "Actor" }
            input #actor name="actor" value=(actor);
            label for="action" { "Action contains" }
            input #action name="action" value=(action);
            button type="submit" { "Filter" }
            " " a href=(csv) { "Download CSV" }
        }
        @if entries.is_empty() {
            p.muted { "No entries." }
        } @else {
            table {
                thead { tr { th { "Time" } th { "Actor" } th { "Address" } th { "Action" } th { "Status" } th { "Before" } th { "After" } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td { (when(e.at)) }
                            td { (e.actor) }
                            td { @if let Some(a) = &e.address { (a) } }
                            td { code { (e.action) } }
                            td { (e.status) }
                            td { code { (text(&e.before)) } }
                            td { code { (text(&e.after)) } }
                        }
                    }
                }
            }
        }
    };
    Ok(viewer.layout("Audit trail", body).into_response())
}

/// Percent-encodes a query value.
fn url_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
