//! Reading agent request bodies without letting strangers fill the memory. A body is read as it
//! arrives; the first [`super::MAX_REGISTER_BYTES`] are free, as for a registration. Past that the
//! request must name a registered agent (`?agent=<id>`, which the agent adds to every enveloped
//! request), that agent may have one large body in flight, and the large bodies read at once fit
//! in [`DEFAULT_UPLOAD_BUDGET`] bytes, each counted at its declared length (a body of unknown
//! length at [`super::MAX_UPLOAD_BYTES`]); the rest are answered 503 without being read. A
//! device's usual upload (500 events, about 100 KiB sealed) so takes a small share, and a full
//! fleet uploading at once is read rather than turned away.
//! The envelope's signature is then checked as before: naming an agent only buys the right to be
//! read, never to be believed.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use model::ids::AgentId;
use model::protocol::Refused;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{MAX_REGISTER_BYTES, MAX_UPLOAD_BYTES};
use crate::App;

/// Bytes of large agent bodies read at once by default: the memory agent uploads may take.
pub const DEFAULT_UPLOAD_BUDGET: usize = 4 * MAX_UPLOAD_BYTES;

/// The gate counts bytes in units of this many (a body past it is a large one).
const UNIT: usize = MAX_REGISTER_BYTES;

/// Admits large agent bodies; see the module documentation.
#[derive(Debug)]
pub struct UploadGate {
    budget: Arc<Semaphore>,
    units: usize,
    agents: Mutex<HashSet<AgentId>>,
}

impl Default for UploadGate {
    fn default() -> UploadGate {
        UploadGate::new(DEFAULT_UPLOAD_BUDGET)
    }
}

/// One large body being read for one agent.
pub struct LargeBody<'a> {
    gate: &'a UploadGate,
    agent: AgentId,
    _permit: OwnedSemaphorePermit,
}

impl Drop for LargeBody<'_> {
    fn drop(&mut self) {
        self.gate
            .agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.agent);
    }
}

impl UploadGate {
    /// A gate reading large bodies of at most `budget` bytes in all at once (at least one of
    /// the largest).
    pub fn new(budget: usize) -> UploadGate {
        let units = budget.div_ceil(UNIT).max(MAX_UPLOAD_BYTES.div_ceil(UNIT));
        UploadGate {
            budget: Arc::new(Semaphore::new(units)),
            units,
            agents: Mutex::new(HashSet::new()),
        }
    }

    /// The right to read one large body of `length` bytes (unknown: the most there may be) for
    /// `agent`, if it has none in flight and the budget has room.
    pub fn admit(&self, agent: AgentId, length: Option<u64>) -> Option<LargeBody<'_>> {
        let length = length.map_or(MAX_UPLOAD_BYTES, |n| {
            usize::try_from(n).unwrap_or(MAX_UPLOAD_BYTES)
        });
        let units = length
            .min(MAX_UPLOAD_BYTES)
            .div_ceil(UNIT)
            .clamp(1, self.units);
        let permit = self
            .budget
            .clone()
            .try_acquire_many_owned(u32::try_from(units).ok()?)
            .ok()?;
        if !self
            .agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(agent)
        {
            return None;
        }
        Some(LargeBody {
            gate: self,
            agent,
            _permit: permit,
        })
    }
}

/// An agent request body read under the rules above.
pub struct AgentBody(pub Bytes);

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(Refused {
            code: code.to_string(),
            message: message.to_string(),
            server_time: None,
        }),
    )
        .into_response()
}

fn too_large() -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        "the body is larger than the server reads for this route",
    )
}

/// The agent a request names in its query, when it names a registered one.
async fn named_agent(app: &App, query: Option<&str>) -> Option<AgentId> {
    let id = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("agent="))?
        .parse::<AgentId>()
        .ok()?;
    match app.agent_cache.agent(app, id).await {
        Ok(Some(agent)) => Some(agent.id),
        _ => None,
    }
}

impl FromRequest<App> for AgentBody {
    type Rejection = Response;

    async fn from_request(request: Request, app: &App) -> Result<AgentBody, Response> {
        let (parts, body) = request.into_parts();
        let declared = parts
            .headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_UPLOAD_BYTES as u64) {
            return Err(too_large());
        }
        let limits = app.limits.clone();
        let mut large: Option<LargeBody<'_>> = None;
        if declared.is_some_and(|n| n > MAX_REGISTER_BYTES as u64) {
            large = Some(admit_large(app, &limits.uploads, parts.uri.query(), declared).await?);
        }
        let mut stream = Body::into_data_stream(body);
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    "the body could not be read",
                )
            })?;
            if bytes.len() + chunk.len() > MAX_REGISTER_BYTES && large.is_none() {
                large = Some(admit_large(app, &limits.uploads, parts.uri.query(), None).await?);
            }
            if bytes.len() + chunk.len() > MAX_UPLOAD_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(AgentBody(Bytes::from(bytes)))
    }
}

async fn admit_large<'a>(
    app: &App,
    uploads: &'a UploadGate,
    query: Option<&str>,
    length: Option<u64>,
) -> Result<LargeBody<'a>, Response> {
    let Some(agent) = named_agent(app, query).await else {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "a body this large is read only for a registered agent named in the query (?agent=<id>)",
        ));
    };
    uploads.admit(agent, length).ok_or_else(|| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is reading other large uploads; try again in a moment",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_large_body_per_agent_and_bodies_within_the_budget() {
        let gate = UploadGate::new(2 * MAX_UPLOAD_BYTES);
        let (a, b, c) = (AgentId::new(), AgentId::new(), AgentId::new());
        let full = Some(MAX_UPLOAD_BYTES as u64);
        let first = gate.admit(a, full).expect("room");
        assert!(gate.admit(a, Some(100_000)).is_none(), "one per agent");
        let second = gate.admit(b, None).expect("room for one of unknown length");
        assert!(
            gate.admit(c, Some(100_000)).is_none(),
            "the budget is spent"
        );
        drop(first);
        assert!(gate.admit(c, Some(100_000)).is_some());
        drop(second);
    }

    #[test]
    fn a_fleet_of_usual_uploads_is_read_at_once() {
        let gate = UploadGate::default();
        let agents: Vec<AgentId> = (0..1000).map(|_| AgentId::new()).collect();
        // 500 events sealed: about 100 KiB each.
        let admitted: Vec<_> = agents
            .iter()
            .filter_map(|a| gate.admit(*a, Some(100 * 1024)))
            .collect();
        assert_eq!(admitted.len(), 1000);
        assert!(
            gate.admit(AgentId::new(), None).is_none(),
            "memory stays bounded"
        );
    }
}
