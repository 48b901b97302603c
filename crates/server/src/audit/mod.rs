//! The audit trail: who changed what, when, from where, with the state before and after. Every
//! unsafe request to the admin API and the console is recorded by [`layer`]; sign-ins, refused
//! sign-ins and lockouts by `auth::accounts`; the command line's `admin` tasks by the binary
//! through [`record`]. Values pass through [`redact`] first, so no password, secret, PSK or token
//! is ever written. Tenant admins read the trail in the console, the API and as CSV; the jobs
//! delete entries older than the retention period.

pub(crate) mod routes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use chrono::Duration;
use serde_json::Value;
use tower::ServiceExt;

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

/// Whether a field named `key` holds a secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password", "secret", "psk", "token", "bprt", "key", "csrf", "current", "new", "confirm",
    ]
    .iter()
    .any(|s| key.contains(s))
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

/// The JSON a GET of `path` answers with `credentials`, if it answers 200.
async fn current_state(inner: &Router, path: &str, credentials: &HeaderMap) -> Option<Value> {
    let mut get = Request::builder().method(Method::GET).uri(path);
    for (name, value) in credentials {
        get = get.header(name, value);
    }
    let response = inner
        .clone()
        .oneshot(get.body(Body::empty()).ok()?)
        .await
        .ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    let bytes = axum::body::to_bytes(response.into_body(), MAX_RECORDED_VALUE * 4)
        .await
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Wraps `inner` (the whole router, state applied) so that every recorded request leaves an
/// entry: who, from where, the method and path, the answer's status, and for an API resource its
/// state before and after (read with the caller's own rights), else what was sent.
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
    let is_resource = path.starts_with("/api/v1/") && method != Method::POST;
    let credentials = credentials(&request);
    let before = if is_resource {
        current_state(&reader, &path, &credentials).await
    } else {
        None
    };
    // Small bodies are read here and handed on whole; others are described by their size.
    let (mut request, sent) = match length {
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
    let actor = Actor::default();
    request.extensions_mut().insert(actor.clone());
    let response = next.run(request).await;
    let status = response.status();
    let after = if is_resource && method != Method::DELETE && status.is_success() {
        current_state(&reader, &path, &credentials).await.or(sent)
    } else {
        sent
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
    fn forms_decode() {
        let pairs = form_pairs(b"name=a+b&password=x%26y&csrf=");
        assert_eq!(pairs[0], ("name".into(), "a b".into()));
        assert_eq!(pairs[1], ("password".into(), "x&y".into()));
        assert_eq!(pairs[2], ("csrf".into(), String::new()));
    }
}
