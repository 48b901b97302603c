//! The audit trail: who changed what, when, from where, with the state before and after. Every
//! unsafe request to the admin API and the console by a signed-in user is recorded by [`layer`], with the state
//! before and after read through the API for both; sign-ins, refused
//! sign-ins and lockouts by `auth::accounts`; the command line's `admin` tasks by the binary
//! through [`record`]. Values pass through [`redact`] first, so no password, secret, PSK or token
//! is ever written. Tenant admins read the trail in the console, the API and as CSV; the jobs
//! delete entries older than the retention period.

pub(crate) mod routes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use chrono::Duration;
use serde_json::Value;
use tower::ServiceExt;

use crate::auth::CsrfPending;
use crate::store::audit::AuditEntry;
use crate::App;

/// Request bodies up to this size are recorded; larger ones (package uploads) by size only.
const MAX_RECORDED_BODY: usize = 256 * 1024;
/// A recorded value is cut to this many bytes of JSON.
const MAX_RECORDED_VALUE: usize = 64 * 1024;

/// How long entries are kept unless the server is told otherwise.
pub fn default_retention() -> Duration {
    Duration::days(365)
}

/// The actor of a request, filled in by the session extractor when it authenticates one.
#[derive(Debug, Clone, Default)]
pub struct Actor(Arc<Mutex<Option<String>>>);

impl Actor {
    /// Records who the request turned out to be from.
    pub fn set(&self, name: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(name.to_string());
    }

    fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Whether a field named `key` holds a secret. `code` and `state` are the authorization code
/// and state an Entra sign-in comes back with (`…/bulk-tokens/flows/{flow}/complete`).
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password", "secret", "psk", "token", "bprt", "key", "csrf", "current", "new", "confirm",
    ]
    .iter()
    .any(|s| key.contains(s))
        || matches!(key.as_str(), "code" | "state")
}

/// `value` with every field that may hold a secret replaced by `"(hidden)"`.
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if is_secret_key(&k) && !v.is_null() && !v.is_boolean() {
                        (k, Value::String("(hidden)".to_string()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// A value cut to [`MAX_RECORDED_VALUE`] bytes of JSON.
fn bounded(value: Value) -> Value {
    let text = value.to_string();
    if text.len() <= MAX_RECORDED_VALUE {
        return value;
    }
    serde_json::json!({"truncated": true, "bytes": text.len()})
}

/// Appends an entry; a failure to record is logged, never hidden as success of the audit itself.
pub async fn record(app: &App, entry: AuditEntry) {
    let entry = AuditEntry {
        before: entry.before.map(redact).map(bounded),
        after: entry.after.map(redact).map(bounded),
        ..entry
    };
    if let Err(e) = app.store.insert_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, "could not write the audit trail");
    }
}

/// An entry for `actor` doing `action` now, with nothing else known yet.
pub fn entry(app: &App, actor: &str, address: Option<String>, action: &str) -> AuditEntry {
    AuditEntry {
        at: app.clock.now(),
        actor: actor.to_string(),
        address,
        action: action.to_string(),
        status: 0,
        before: None,
        after: None,
    }
}

/// A request body as a recorded value: JSON or a form as JSON, anything else by size.
fn body_value(content_type: &str, bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: serde_json::Map<String, Value> = form_pairs(bytes)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Some(Value::Object(pairs));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => Some(v),
        Err(_) => Some(serde_json::json!({"content_type": content_type, "bytes": bytes.len()})),
    }
}

/// Decodes `a=b&c=d` (with `+` and `%xx`).
fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let escaped = match bytes.get(i..i + 3) {
                Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| h * 16 + l),
                _ => None,
            };
            match (escaped, bytes[i]) {
                (Some(b), _) => {
                    out.push(b);
                    i += 3;
                }
                (None, b'+') => {
                    out.push(b' ');
                    i += 1;
                }
                (None, b) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(bytes)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// Whether a request changes something worth recording (sign-ins are recorded where they are
/// decided; agent traffic is not an administrator's change).
fn is_recorded(method: &Method, path: &str) -> bool {
    let unsafe_method = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    unsafe_method
        && !path.starts_with("/agent/")
        && path != "/login"
        && path != "/api/v1/auth/login"
}

/// The request's credentials, to read state with the caller's own rights.
fn credentials(request: &Request) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in [AUTHORIZATION, COOKIE] {
        if let Some(v) = request.headers().get(&name) {
            out.insert(name, v.clone());
        }
    }
    out
}

/// What a GET of a resource answered.
enum Read {
    /// 200, with this JSON.
    Found(Value),
    /// 404: the resource does not exist (any more).
    Gone,
    /// Anything else: no GET, no right to read, not JSON.
    Unreadable,
}

/// What a GET of `path` answers with `credentials`.
async fn current_state(inner: &Router, path: &str, credentials: &HeaderMap) -> Read {
    let mut get = Request::builder().method(Method::GET).uri(path);
    for (name, value) in credentials {
        get = get.header(name, value);
    }
    let Ok(request) = get.body(Body::empty()) else {
        return Read::Unreadable;
    };
    let response = match inner.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    match response.status() {
        StatusCode::OK => {}
        StatusCode::NOT_FOUND => return Read::Gone,
        _ => return Read::Unreadable,
    }
    let Ok(bytes) = axum::body::to_bytes(response.into_body(), MAX_RECORDED_VALUE * 4).await else {
        return Read::Unreadable;
    };
    serde_json::from_slice(&bytes).map_or(Read::Unreadable, Read::Found)
}

/// Set on an answer by a handler that created something: the API path that reads it, so the
/// trail records the new state as the API shows it rather than what was sent.
#[derive(Debug, Clone)]
pub struct Created(pub String);

/// `response` marked as having created what a GET of `path` reads.
pub fn created(mut response: Response, path: String) -> Response {
    response.extensions_mut().insert(Created(path));
    response
}

/// The API path whose state a recorded request changes, read before and after it: an API
/// resource is its own path (creations name theirs through [`Created`]), a password change is
/// the caller as `whoami` shows them, and a console form names the resource it changes.
fn subject(method: &Method, path: &str) -> Option<String> {
    if path == "/api/v1/auth/password" {
        return Some(WHOAMI.to_string());
    }
    if path.starts_with("/api/v1/") {
        return (*method != Method::POST).then(|| path.to_string());
    }
    crate::console::form_subject(path)
}

/// The caller, as the API shows them.
pub(crate) const WHOAMI: &str = "/api/v1/auth/whoami";

/// Wraps `inner` (the whole router, state applied) so that every recorded request leaves an
/// entry: who, from where, the method and path, the answer's status, and the state before and
/// after of the resource it changes (read through the API with the caller's own rights, so the
/// API and the console are recorded alike), else what was sent.
pub fn layer(app: App, inner: Router) -> Router {
    let reader = inner.clone();
    inner.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let app = app.clone();
            let reader = reader.clone();
            async move { record_change(app, reader, request, next).await }
        },
    ))
}

async fn record_change(app: App, reader: Router, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    if !is_recorded(&method, &path) {
        return next.run(request).await;
    }
    // A request without a valid session changes nothing (the handler refuses it): its body is
    // not read here and it leaves no entry, so strangers can neither hold memory through this
    // layer nor fill the trail.
    let actor = Actor::default();
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(actor.clone());
    let identified = CsrfPending::from_request_parts(&mut parts, &app)
        .await
        .is_ok();
    let request = Request::from_parts(parts, body);
    if !identified {
        return next.run(request).await;
    }
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .or_else(|| {
            let hint = axum::body::HttpBody::size_hint(request.body()).exact()?;
            usize::try_from(hint).ok()
        });
    let subject = subject(&method, &path);
    let credentials = credentials(&request);
    let before = match &subject {
        Some(subject) => match current_state(&reader, subject, &credentials).await {
            Read::Found(state) => Some(state),
            Read::Gone | Read::Unreadable => None,
        },
        None => None,
    };
    // Small bodies are read here and handed on whole; others are described by their size.
    let (request, sent) = match length {
        Some(n) if n <= MAX_RECORDED_BODY => {
            let (parts, body) = request.into_parts();
            match axum::body::to_bytes(body, MAX_RECORDED_BODY).await {
                Ok(bytes) => {
                    let sent = body_value(&content_type, &bytes);
                    (Request::from_parts(parts, Body::from(bytes)), sent)
                }
                Err(_) => {
                    let refused = crate::Error::field("body", "the body could not be read");
                    return axum::response::IntoResponse::into_response(refused);
                }
            }
        }
        Some(n) => (
            request,
            Some(serde_json::json!({"content_type": content_type, "bytes": n})),
        ),
        None => (request, None),
    };
    let response = next.run(request).await;
    let status = response.status();
    // The console answers a change it made with a redirect to the page that shows it.
    let changed = status.is_success() || status.is_redirection();
    let target = response
        .extensions()
        .get::<Created>()
        .map(|c| c.0.clone())
        .or(subject);
    let after = match target {
        Some(target) if changed => match current_state(&reader, &target, &credentials).await {
            Read::Found(state) => Some(state),
            Read::Gone => None,
            Read::Unreadable => sent,
        },
        _ => sent,
    };
    let mut e = entry(
        &app,
        &actor.get().unwrap_or_else(|| "anonymous".to_string()),
        address,
        &format!("{method} {path}"),
    );
    e.status = i64::from(status.as_u16());
    e.before = before;
    e.after = after;
    record(&app, e).await;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_at_any_depth() {
        let v = serde_json::json!({"name": "svc", "password": "p@ss", "connection": {
            "client_secret": "s3", "url": "ldaps://dc"}, "list": [{"psk": "k"}],
            "must_change_password": true, "csrf": "c", "new": "n"});
        let text = redact(v).to_string();
        for secret in ["p@ss", "s3", "\"k\"", "\"c\"", "\"n\""] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(
            text.contains("ldaps://dc") && text.contains("svc"),
            "{text}"
        );
        assert!(text.contains("\"must_change_password\":true"), "{text}");
    }

    #[test]
    fn an_entra_sign_in_code_and_state_are_hidden() {
        let sent = serde_json::json!({"state": "st-9f2", "code": "0.AXoA-auth-code"});
        let text = redact(sent).to_string();
        assert!(
            !text.contains("st-9f2") && !text.contains("auth-code"),
            "{text}"
        );
    }

    #[test]
    fn forms_decode() {
        let pairs = form_pairs(b"name=a+b&password=x%26y&csrf=");
        assert_eq!(pairs[0], ("name".into(), "a b".into()));
        assert_eq!(pairs[1], ("password".into(), "x&y".into()));
        assert_eq!(pairs[2], ("csrf".into(), String::new()));
    }
}
