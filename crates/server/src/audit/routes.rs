//! `GET /api/v1/audit` (JSON) and `GET /api/v1/audit.csv`: the trail with filters, for Tenant
//! admins.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::auth::{Access, Area, Caller};
use crate::store::audit::{AuditEntry, AuditFilter};
use crate::{App, Error, Result};

/// The filters of both routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only this actor (a user name, `command line`, …), case-insensitive.
    pub actor: Option<String>,
    /// Only actions containing this text, e.g. `users` or `sign-in`.
    pub action: Option<String>,
    /// At or after this instant (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// At most this many, newest first: 1 to 10,000; 500 by default.
    pub limit: Option<u32>,
}

impl AuditQuery {
    /// The store's filter, after checking the limit.
    pub fn filter(&self) -> Result<AuditFilter> {
        let limit = match self.limit {
            None => 500,
            Some(n) if (1..=10_000).contains(&n) => n,
            Some(_) => return Err(Error::field("limit", "between 1 and 10000")),
        };
        Ok(AuditFilter {
            actor: self.actor.clone().filter(|s| !s.is_empty()),
            action: self.action.clone().filter(|s| !s.is_empty()),
            since: self.since,
            until: self.until,
            limit,
        })
    }
}

#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    description = crate::api::openapi::access::TENANT_READ,
    params(AuditQuery),
    responses(
        (status = 200, description = "Changes, sign-ins and lockouts, newest first; secrets never appear.", body = [AuditEntry]),
        (status = 422, description = "Invalid input; `fields` names what is wrong.", body = crate::error::ErrorBody)
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<App>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>> {
    caller.require(Area::Tenant, Access::Read)?;
    Ok(Json(app.store.audit(&q.filter()?).await?))
}

/// The entries as CSV, every cell through the CSV guard.
pub fn to_csv(entries: &[AuditEntry]) -> Result<String> {
    let text =
        |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    crate::csv_export::write(
        [
            "at", "actor", "address", "action", "status", "before", "after",
        ],
        entries.iter().map(|e| {
            [
                e.at.to_rfc3339(),
                e.actor.clone(),
                e.address.clone().unwrap_or_default(),
                e.action.clone(),
                e.status.to_string(),
                text(&e.before),
                text(&e.after),
            ]
        }),
    )
}

#[utoipa::path(
    get,
    path = "/audit.csv",
    tag = "audit",
    description = crate::api::openapi::access::TENANT_READ,
    params(AuditQuery),
    responses(
        (status = 200, description = "The same entries as CSV.", body = String, content_type = "text/csv")
    )
)]
pub async fn csv(
    caller: Caller,
    State(app): State<App>,
    Query(q): Query<AuditQuery>,
) -> Result<impl IntoResponse> {
    caller.require(Area::Tenant, Access::Read)?;
    let entries = app.store.audit(&q.filter()?).await?;
    Ok(crate::csv_export::download("audit.csv", to_csv(&entries)?))
}
