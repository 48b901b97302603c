//! `POST /agent/readiness`: the device's readiness checks for a runbook of its batch.

use axum::extract::State;
use axum::response::Response;
use model::protocol::{kinds, Ack};
use model::readiness::ReadinessReport;

use super::uploads::AgentBody;
use super::{serve_envelope, RemoteAddr};
use crate::App;

/// Stores the checks for the authenticated agent; a report for a batch or runbook it is not
/// in is refused with the field named.
pub(super) async fn readiness(
    State(app): State<App>,
    remote: RemoteAddr,
    AgentBody(body): AgentBody,
) -> Response {
    serve_envelope(
        &app,
        &remote,
        &body,
        kinds::READINESS,
        |agent, report: ReadinessReport| {
            let app = app.clone();
            async move {
                let accepted = crate::migration::readiness::receive(&app, agent.id, report).await?;
                Ok(Ack { accepted })
            }
        },
    )
    .await
}
