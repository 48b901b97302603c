//! [`FakeGraph`]: a local Entra tenant speaking Graph's protocol, for tests and demos (Graph
//! itself is not reachable from a test machine). On 127.0.0.1 only; it stops when dropped.
//!
//! What it does as Graph does: the client-credentials token endpoint with AADSTS errors and
//! expiring tokens; `/organization`; `/users`, `/groups`, `/devices` with `$select` (unknown
//! properties refused), `$top` and `$filter=id in (…)`, paged through `@odata.nextLink` with
//! opaque skip tokens; delta queries whose rounds end with an `@odata.deltaLink`, later rounds
//! returning only what changed (updated objects with only their changed properties, deleted ones
//! as `@removed`); `$deltatoken=latest`; 429 and 503 with Retry-After; 401
//! `InvalidAuthenticationToken` for an expired token. And the writes an export makes
//! (`writes.rs`): `POST /users` and `/groups` with Graph's required properties, `PATCH` of
//! either, `GET /groups/{id}/members`, and members added and removed through `$ref`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::Router;
use serde_json::{Map, Value};

use super::{GraphConfig, GraphKind};
use routes::{collection, delta, graph_error, opaque_token, organization, token};

mod routes;
mod writes;

/// The tenant a [`FakeGraph`] serves and the application allowed to read it.
#[derive(Debug, Clone)]
pub struct FakeTenant {
    /// The tenant id.
    pub tenant_id: String,
    /// The default domain.
    pub domain: String,
    /// The application (client) id.
    pub client_id: String,
    /// The application's secret.
    pub client_secret: String,
}

/// A running fake Graph; dropping it stops the server.
pub struct FakeGraph {
    state: Arc<Mutex<Fake>>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How many skip and delta tokens are remembered: enough for any test, bounded for a demo.
const MAX_TOKENS: usize = 10_000;

/// One recorded change, as Graph's change tracking keeps it.
struct Change {
    seq: u64,
    kind: GraphKind,
    id: String,
    properties: Vec<String>,
}

/// Where a paged answer continues.
enum Continuation {
    List {
        kind: GraphKind,
        select: Option<Vec<String>>,
        ids: Option<Vec<String>>,
        top: usize,
        offset: usize,
    },
    Delta {
        kind: GraphKind,
        select: Option<Vec<String>>,
        rest: Vec<Value>,
        end_seq: u64,
    },
    Members {
        group: String,
        top: usize,
        offset: usize,
    },
}

struct Fake {
    tenant: FakeTenant,
    base: String,
    denied: HashSet<GraphKind>,
    objects: HashMap<GraphKind, BTreeMap<String, Map<String, Value>>>,
    changes: Vec<Change>,
    seq: u64,
    token_lifetime: i64,
    tokens: HashMap<String, std::time::Instant>,
    token_requests: u32,
    expire_after: Option<usize>,
    expired_answers: u32,
    faults: VecDeque<(StatusCode, u64)>,
    pages: HashMap<String, Continuation>,
    deltas: HashMap<String, (GraphKind, Option<Vec<String>>, u64)>,
    requests: Vec<String>,
    members: HashMap<String, std::collections::BTreeSet<String>>,
    writes_left: Option<usize>,
    write_faults: VecDeque<u64>,
}

impl FakeGraph {
    /// Starts a fake Graph for `tenant` on 127.0.0.1 with no objects; tokens live an hour.
    pub async fn start(tenant: FakeTenant) -> std::io::Result<FakeGraph> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(Fake {
            tenant,
            base: format!("http://{}", addr),
            denied: HashSet::new(),
            objects: GraphKind::ALL
                .iter()
                .map(|k| (*k, BTreeMap::new()))
                .collect(),
            changes: Vec::new(),
            seq: 0,
            token_lifetime: 3599,
            tokens: HashMap::new(),
            token_requests: 0,
            expire_after: None,
            expired_answers: 0,
            faults: VecDeque::new(),
            pages: HashMap::new(),
            deltas: HashMap::new(),
            requests: Vec::new(),
            members: HashMap::new(),
            writes_left: None,
            write_faults: VecDeque::new(),
        }));
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1.0/organization", get(organization))
            .route("/v1.0/{collection}", get(collection).post(writes::create))
            .route("/v1.0/{collection}/delta", get(delta))
            .route("/v1.0/{collection}/{id}", patch(writes::update))
            .route("/v1.0/{collection}/{id}/members", get(writes::members))
            .route(
                "/v1.0/{collection}/{id}/members/$ref",
                post(writes::add_member),
            )
            .route(
                "/v1.0/{collection}/{id}/members/{member}/$ref",
                delete(writes::remove_member),
            )
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(FakeGraph { state, addr, task })
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A [`GraphConfig`] pointing at this server with the right credentials.
    pub fn config(&self) -> GraphConfig {
        let fake = self.lock();
        let mut config = GraphConfig::new(
            fake.tenant.tenant_id.clone(),
            fake.tenant.client_id.clone(),
            fake.tenant.client_secret.clone(),
        );
        config.authority_url = format!("http://{}", self.addr);
        config.graph_url = format!("http://{}/v1.0", self.addr);
        config
    }

    /// Adds or replaces an object of `kind` (JSON with an `id`), recording the properties that
    /// changed for delta queries.
    pub fn put(&self, kind: GraphKind, object: Value) {
        let Value::Object(object) = object else {
            return;
        };
        let Some(id) = object.get("id").and_then(Value::as_str).map(str::to_string) else {
            return;
        };
        self.lock().put_object(kind, id, object);
    }

    /// An object as stored, with every property.
    pub fn object(&self, kind: GraphKind, id: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&kind)
            .and_then(|m| m.get(id))
            .cloned()
            .map(Value::Object)
    }

    /// Every object of `kind`, by id.
    pub fn objects(&self, kind: GraphKind) -> Vec<Value> {
        self.lock().objects[&kind]
            .values()
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// Makes `member` (a user or group id) a direct member of `group`.
    pub fn add_member(&self, group: &str, member: &str) {
        self.lock()
            .members
            .entry(group.to_string())
            .or_default()
            .insert(member.to_string());
    }

    /// The ids of `group`'s direct members, in order.
    pub fn members_of(&self, group: &str) -> Vec<String> {
        self.lock()
            .members
            .get(group)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The next `count` writes (reads pass) are answered 429 with `Retry-After: retry_after`.
    pub fn throttle_writes(&self, count: usize, retry_after: u64) {
        let mut fake = self.lock();
        for _ in 0..count {
            fake.write_faults.push_back(retry_after);
        }
    }

    /// After `writes` more writes (POST, PATCH, DELETE), every write is answered 500, as when
    /// Graph fails part way through an export; `None` heals it.
    pub fn fail_writes_after(&self, writes: Option<usize>) {
        self.lock().writes_left = writes;
    }

    /// Changes some properties of an existing object.
    pub fn update(&self, kind: GraphKind, id: &str, patch: Value) {
        let old = self
            .lock()
            .objects
            .get(&kind)
            .and_then(|m| m.get(id))
            .cloned();
        if let (Some(mut object), Value::Object(patch)) = (old, patch) {
            object.extend(patch);
            self.put(kind, Value::Object(object));
        }
    }

    /// Deletes an object (as Entra soft-deletes it: `@removed` with reason `changed`).
    pub fn remove(&self, kind: GraphKind, id: &str) {
        let mut fake = self.lock();
        if let Some(objects) = fake.objects.get_mut(&kind) {
            objects.remove(id);
        }
        fake.record(kind, id.to_string(), Vec::new());
    }

    /// The next `count` Graph requests are answered 429 with `Retry-After: retry_after`.
    pub fn throttle(&self, count: usize, retry_after: u64) {
        let mut fake = self.lock();
        for _ in 0..count {
            fake.faults
                .push_back((StatusCode::TOO_MANY_REQUESTS, retry_after));
        }
    }

    /// The next Graph request is answered 503 with `Retry-After: retry_after`.
    pub fn unavailable(&self, retry_after: u64) {
        self.lock()
            .faults
            .push_back((StatusCode::SERVICE_UNAVAILABLE, retry_after));
    }

    /// Every token issued so far stops being valid, as if its lifetime had run out.
    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Reading `kind` is refused with 403, as when the application lacks the permission.
    pub fn deny(&self, kind: GraphKind) {
        self.lock().denied.insert(kind);
    }

    /// Later `@odata.nextLink`s and delta links start with `base` instead of this server's URL.
    pub fn link_base(&self, base: &str) {
        self.lock().base = base.trim_end_matches('/').to_string();
    }

    /// Every token issued so far stops being valid after the next `requests` Graph requests.
    pub fn expire_tokens_after(&self, requests: usize) {
        self.lock().expire_after = Some(requests);
    }

    /// How many Graph requests were refused for an expired or unknown token.
    pub fn expired_answers(&self) -> u32 {
        self.lock().expired_answers
    }

    /// How many tokens were issued.
    pub fn token_requests(&self) -> u32 {
        self.lock().token_requests
    }

    /// The Graph requests served so far, as `path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }
}

impl Fake {
    /// Adds or replaces an object, recording the properties that changed for delta queries.
    fn put_object(&mut self, kind: GraphKind, id: String, object: Map<String, Value>) {
        let old = self.objects.get(&kind).and_then(|m| m.get(&id)).cloned();
        let properties: Vec<String> = object
            .iter()
            .filter(|(k, v)| old.as_ref().and_then(|o| o.get(*k)) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect();
        self.objects
            .entry(kind)
            .or_default()
            .insert(id.clone(), object);
        self.record(kind, id, properties);
    }

    fn record(&mut self, kind: GraphKind, id: String, properties: Vec<String>) {
        self.seq += 1;
        let seq = self.seq;
        self.changes.push(Change {
            seq,
            kind,
            id,
            properties,
        });
    }

    fn remember_page(&mut self, continuation: Continuation) -> String {
        if self.pages.len() >= MAX_TOKENS {
            self.pages.clear();
        }
        let token = opaque_token();
        self.pages.insert(token.clone(), continuation);
        token
    }

    /// The refusal of a request without a valid token, or with a fault queued for it.
    fn admit(&mut self, headers: &HeaderMap, what: String) -> Option<Response> {
        self.requests.push(what);
        match self.expire_after {
            Some(0) => {
                self.tokens.clear();
                self.expire_after = None;
            }
            Some(n) => self.expire_after = Some(n - 1),
            None => {}
        }
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let lifetime = std::time::Duration::from_secs(self.token_lifetime.max(0) as u64);
        let valid = self
            .tokens
            .get(token)
            .is_some_and(|issued| issued.elapsed() < lifetime);
        if !valid {
            self.expired_answers += 1;
        }
        match token {
            "" => Some(graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty.",
            )),
            _ if valid => match self.faults.pop_front() {
                None => None,
                Some((status, retry_after)) => {
                    let (code, message) = if status == StatusCode::TOO_MANY_REQUESTS {
                        ("TooManyRequests", "Too many requests.")
                    } else {
                        ("serviceNotAvailable", "Service unavailable.")
                    };
                    let mut response = graph_error(status, code, message);
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, retry_after.into());
                    Some(response)
                }
            },
            _ => Some(graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )),
        }
    }

    /// An object with only the `select`ed properties (all when `None`), `id` always.
    fn shaped(object: &Map<String, Value>, select: Option<&[String]>) -> Value {
        let keep = |k: &String| k == "id" || select.is_none_or(|s| s.contains(k));
        Value::Object(
            object
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }
}
