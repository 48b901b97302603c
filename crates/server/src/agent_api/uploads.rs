//! Reading agent request bodies without letting strangers fill the memory. A body is read as it
//! arrives; the first [`super::MAX_REGISTER_BYTES`] are free, as for a registration. Past that the
//! request must name a registered agent (`?agent=<id>`, which the agent adds to every enveloped
//! request), that agent may have one large body in flight, and the server reads at most
//! [`DEFAULT_LARGE_BODIES`] large bodies at once; the rest are answered 503 without being read.
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

/// Large agent bodies read at once by default: at most this many times [`MAX_UPLOAD_BYTES`] of
/// memory goes to agent uploads.
pub const DEFAULT_LARGE_BODIES: usize = 4;

/// Admits large agent bodies; see the module documentation.
#[derive(Debug)]
pub struct UploadGate {
    large: Arc<Semaphore>,
    agents: Mutex<HashSet<AgentId>>,
}

impl Default for UploadGate {
    fn default() -> UploadGate {
        UploadGate::new(DEFAULT_LARGE_BODIES)
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
    /// A gate reading at most `large` large bodies at once.
    pub fn new(large: usize) -> UploadGate {
        UploadGate {
            large: Arc::new(Semaphore::new(large)),
            agents: Mutex::new(HashSet::new()),
        }
    }

    /// The right to read one large body for `agent`, if it has none in flight and a place is free.
    pub fn admit(&self, agent: AgentId) -> Option<LargeBody<'_>> {
        let permit = self.large.clone().try_acquire_owned().ok()?;
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
    match app.store.agent(id).await {
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
            large = Some(admit_large(app, &limits.uploads, parts.uri.query()).await?);
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
                large = Some(admit_large(app, &limits.uploads, parts.uri.query()).await?);
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
) -> Result<LargeBody<'a>, Response> {
    let Some(agent) = named_agent(app, query).await else {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "a body this large is read only for a registered agent named in the query (?agent=<id>)",
        ));
    };
    uploads.admit(agent).ok_or_else(|| {
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
    fn one_large_body_per_agent_and_a_few_in_all() {
        let gate = UploadGate::new(2);
        let (a, b, c) = (AgentId::new(), AgentId::new(), AgentId::new());
        let first = gate.admit(a).expect("a place");
        assert!(gate.admit(a).is_none(), "one per agent");
        let second = gate.admit(b).expect("a place");
        assert!(gate.admit(c).is_none(), "two in all");
        drop(first);
        assert!(gate.admit(c).is_some());
        drop(second);
    }
}
