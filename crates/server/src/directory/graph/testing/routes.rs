//! The fake's HTTP side: the token endpoint and the Graph collections, paging and delta.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::{json, Map, Value};

use super::{Continuation, Fake, GraphKind, MAX_TOKENS};

/// A random token nobody can guess or construct.
pub(super) fn opaque_token() -> String {
    use rand::Rng;
    let bytes: [u8; 18] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

/// Graph's error body: `{"error": {"code", "message", "innerError"}}`.
pub(super) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message,
        "innerError": {"request-id": opaque_token(), "date": "2025-01-06T09:00:00"}}});
    (status, Json(body)).into_response()
}

/// Azure AD's token error body.
fn token_error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = json!({"error": code, "error_description": format!(
        "{}\r\nTrace ID: {}\r\nTimestamp: 2025-01-06 09:00:00Z", description, opaque_token()),
        "error_codes": [], "trace_id": opaque_token()});
    (status, Json(body)).into_response()
}

type Shared = State<Arc<Mutex<Fake>>>;

fn lock(state: &Arc<Mutex<Fake>>) -> MutexGuard<'_, Fake> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) async fn token(
    State(state): Shared,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut fake = lock(&state);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let t = &fake.tenant;
    if tenant != t.tenant_id && !tenant.eq_ignore_ascii_case(&t.domain) {
        let message = format!("AADSTS90002: Tenant '{}' not found.", tenant);
        return token_error(StatusCode::BAD_REQUEST, "invalid_request", &message);
    }
    if field("grant_type") != "client_credentials" {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != t.client_id {
        let message = format!(
            "AADSTS700016: Application with identifier '{}' was not found in the directory.",
            field("client_id")
        );
        return token_error(StatusCode::BAD_REQUEST, "unauthorized_client", &message);
    }
    if field("client_secret") != t.client_secret {
        let message = format!("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", t.client_id);
        return token_error(StatusCode::UNAUTHORIZED, "invalid_client", &message);
    }
    if field("scope") != super::super::DEFAULT_SCOPE {
        return token_error(StatusCode::BAD_REQUEST, "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.");
    }
    fake.token_requests += 1;
    let token = opaque_token();
    fake.tokens.insert(token.clone(), std::time::Instant::now());
    let lifetime = fake.token_lifetime;
    Json(
        json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
        "access_token": token}),
    )
    .into_response()
}

pub(super) async fn organization(State(state): Shared, headers: HeaderMap) -> Response {
    let mut fake = lock(&state);
    if let Some(refused) = fake.admit(&headers, "/organization".to_string()) {
        return refused;
    }
    let t = &fake.tenant;
    let initial = format!(
        "{}.onmicrosoft.com",
        t.domain.split('.').next().unwrap_or("tenant")
    );
    Json(json!({"value": [{"id": t.tenant_id, "verifiedDomains": [
        {"name": initial, "isDefault": false, "isInitial": true},
        {"name": t.domain, "isDefault": true, "isInitial": false}]}]}))
    .into_response()
}

/// The properties each kind has (a subset of Graph's schema); `$select` of others is refused.
pub(super) fn schema(kind: GraphKind) -> &'static [&'static str] {
    match kind {
        GraphKind::Users => &[
            "id",
            "displayName",
            "userPrincipalName",
            "mail",
            "employeeId",
            "onPremisesSecurityIdentifier",
            "onPremisesSamAccountName",
            "onPremisesImmutableId",
            "accountEnabled",
            "givenName",
            "surname",
            "jobTitle",
            "department",
            "mailNickname",
            "onPremisesExtensionAttributes",
        ],
        GraphKind::Groups => &[
            "id",
            "displayName",
            "mail",
            "securityEnabled",
            "securityIdentifier",
            "onPremisesSecurityIdentifier",
            "onPremisesSamAccountName",
            "description",
            "mailEnabled",
            "groupTypes",
            "mailNickname",
        ],
        GraphKind::Devices => &[
            "id",
            "deviceId",
            "displayName",
            "operatingSystem",
            "operatingSystemVersion",
            "trustType",
            "onPremisesSecurityIdentifier",
            "accountEnabled",
        ],
    }
}

pub(super) fn kind_of(collection: &str) -> Option<GraphKind> {
    GraphKind::ALL.into_iter().find(|k| k.path() == collection)
}

pub(super) fn bad_request(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

/// `$select` checked against the schema.
fn parse_select(
    kind: GraphKind,
    query: &HashMap<String, String>,
) -> Result<Option<Vec<String>>, String> {
    let Some(select) = query.get("$select") else {
        return Ok(None);
    };
    let names: Vec<String> = select.split(',').map(|s| s.trim().to_string()).collect();
    match names.iter().find(|n| !schema(kind).contains(&n.as_str())) {
        Some(unknown) => Err(format!(
            "Could not find a property named '{}' on type 'microsoft.graph.{}'.",
            unknown,
            kind.path().trim_end_matches('s')
        )),
        None => Ok(Some(names)),
    }
}

/// `id in ('a','b')` → the ids; other filters are not part of this fake.
fn parse_id_filter(filter: &str) -> Option<Vec<String>> {
    let list = filter.trim().strip_prefix("id in (")?.strip_suffix(')')?;
    list.split(',')
        .map(|s| {
            s.trim()
                .strip_prefix('\'')?
                .strip_suffix('\'')
                .map(str::to_string)
        })
        .collect()
}

/// A basic filter's test on one property's value.
enum Test {
    Eq(String),
    StartsWith(String),
}

impl Test {
    fn holds(&self, value: &str) -> bool {
        // Graph compares strings without regard to case.
        match self {
            Test::Eq(v) => value.eq_ignore_ascii_case(v),
            Test::StartsWith(v) => value.to_lowercase().starts_with(&v.to_lowercase()),
        }
    }
}

/// `property eq 'value'` or `startswith(property,'value')`: the basic filters Graph supports
/// without advanced query parameters; others are not part of this fake.
fn parse_property_filter(filter: &str) -> Option<(String, Test)> {
    let f = filter.trim();
    let quoted = |v: &str| {
        v.trim()
            .strip_prefix('\'')?
            .strip_suffix('\'')
            .map(|v| v.replace("''", "'"))
    };
    if let Some(inner) = f
        .strip_prefix("startswith(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let (property, value) = inner.split_once(',')?;
        return Some((
            property.trim().to_string(),
            Test::StartsWith(quoted(value)?),
        ));
    }
    let (property, value) = f.split_once(" eq ")?;
    Some((property.trim().to_string(), Test::Eq(quoted(value)?)))
}

pub(super) async fn collection(
    State(state): Shared,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut fake = lock(&state);
    let Some(kind) = kind_of(&name) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Resource not found for the segment.",
        );
    };
    if let Some(refused) = fake.admit(&headers, format!("/{}?{}", name, sorted(&query))) {
        return refused;
    }
    if fake.denied.contains(&kind) {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let continuation = match query.get("$skiptoken") {
        Some(token) => match fake.pages.remove(token) {
            Some(c @ Continuation::List { kind: of, .. }) if of == kind => c,
            _ => return bad_request("Invalid skip token."),
        },
        None => {
            let select = match parse_select(kind, &query) {
                Ok(s) => s,
                Err(message) => return bad_request(&message),
            };
            let top = match query.get("$top").map(|t| t.parse::<usize>()) {
                None => 100,
                Some(Ok(n)) if (1..=999).contains(&n) => n,
                Some(_) => {
                    return bad_request("Invalid page size specified: must be between 1 and 999.")
                }
            };
            let ids = match query.get("$filter") {
                None => None,
                Some(f) => match parse_id_filter(f) {
                    Some(ids) if ids.len() <= 15 => Some(ids),
                    Some(_) => {
                        return bad_request("Too many values in the 'in' operator: at most 15.")
                    }
                    None => match parse_property_filter(f) {
                        Some((property, test)) if schema(kind).contains(&property.as_str()) => {
                            Some(
                                fake.objects[&kind]
                                    .iter()
                                    .filter(|(_, o)| {
                                        o.get(&property)
                                            .and_then(Value::as_str)
                                            .is_some_and(|v| test.holds(v))
                                    })
                                    .map(|(id, _)| id.clone())
                                    .collect(),
                            )
                        }
                        _ => return bad_request("Unsupported or invalid query filter clause."),
                    },
                },
            };
            Continuation::List {
                kind,
                select,
                ids,
                top,
                offset: 0,
            }
        }
    };
    let Continuation::List {
        kind,
        select,
        ids,
        top,
        offset,
    } = continuation
    else {
        return bad_request("Invalid skip token.");
    };
    let all: Vec<&Map<String, Value>> = match &ids {
        None => fake.objects[&kind].values().collect(),
        Some(ids) => ids
            .iter()
            .filter_map(|id| fake.objects[&kind].get(id))
            .collect(),
    };
    let value: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(top)
        .map(|o| Fake::shaped(o, select.as_deref()))
        .collect();
    let more = all.len() > offset + top;
    let mut body = json!({"@odata.context": format!("{}/v1.0/$metadata#{}", fake.base, name),
        "value": value});
    if more {
        let select_query = select
            .as_ref()
            .map(|s| format!("$select={}&", s.join(",")))
            .unwrap_or_default();
        let token = fake.remember_page(Continuation::List {
            kind,
            select,
            ids,
            top,
            offset: offset + top,
        });
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/{}?{}$top={}&$skiptoken={}",
            fake.base, name, select_query, top, token
        ));
    }
    Json(body).into_response()
}

pub(super) async fn delta(
    State(state): Shared,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut fake = lock(&state);
    let Some(kind) = kind_of(&name) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Resource not found for the segment.",
        );
    };
    if let Some(refused) = fake.admit(&headers, format!("/{}/delta?{}", name, sorted(&query))) {
        return refused;
    }
    if fake.denied.contains(&kind) {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let top = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(100);
    let (select, rest, end_seq) = if let Some(token) = query.get("$skiptoken") {
        match fake.pages.remove(token) {
            Some(Continuation::Delta {
                kind: of,
                select,
                rest,
                end_seq,
            }) if of == kind => (select, rest, end_seq),
            _ => return bad_request("Invalid skip token."),
        }
    } else if query.get("$deltatoken").map(String::as_str) == Some("latest") {
        let select = match parse_select(kind, &query) {
            Ok(s) => s,
            Err(message) => return bad_request(&message),
        };
        (select, Vec::new(), fake.seq)
    } else if let Some(token) = query.get("$deltatoken") {
        let Some((token_kind, select, since)) = fake.deltas.get(token).cloned() else {
            return graph_error(
                StatusCode::GONE,
                "syncStateNotFound",
                "The sync state is not found or has expired.",
            );
        };
        if token_kind != kind {
            return bad_request("The delta token belongs to another collection.");
        }
        (
            select.clone(),
            fake.changed_since(kind, since, select.as_deref()),
            fake.seq,
        )
    } else {
        let select = match parse_select(kind, &query) {
            Ok(s) => s,
            Err(message) => return bad_request(&message),
        };
        let all = fake.objects[&kind]
            .values()
            .map(|o| Fake::shaped(o, select.as_deref()))
            .collect();
        (select, all, fake.seq)
    };
    let mut rest = rest;
    let value: Vec<Value> = rest.drain(..rest.len().min(top)).collect();
    let mut body =
        json!({"@odata.context": format!("{}/v1.0/$metadata#{}", fake.base, name), "value": value});
    if rest.is_empty() {
        if fake.deltas.len() >= MAX_TOKENS {
            fake.deltas.clear();
        }
        let token = opaque_token();
        fake.deltas.insert(token.clone(), (kind, select, end_seq));
        body["@odata.deltaLink"] = json!(format!(
            "{}/v1.0/{}/delta?$deltatoken={}",
            fake.base, name, token
        ));
    } else {
        let token = fake.remember_page(Continuation::Delta {
            kind,
            select,
            rest,
            end_seq,
        });
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/{}/delta?$skiptoken={}",
            fake.base, name, token
        ));
    }
    Json(body).into_response()
}

impl Fake {
    /// The objects of `kind` changed after `since`, each once: present ones with the selected
    /// properties that changed, deleted ones as `@removed`.
    fn changed_since(&self, kind: GraphKind, since: u64, select: Option<&[String]>) -> Vec<Value> {
        let mut order: Vec<&str> = Vec::new();
        let mut properties: HashMap<&str, Vec<&String>> = HashMap::new();
        for change in self
            .changes
            .iter()
            .filter(|c| c.seq > since && c.kind == kind)
        {
            let entry = properties.entry(change.id.as_str()).or_insert_with(|| {
                order.push(change.id.as_str());
                Vec::new()
            });
            entry.extend(change.properties.iter());
        }
        order
            .into_iter()
            .map(|id| match self.objects[&kind].get(id) {
                Some(object) => {
                    let changed: Map<String, Value> = object
                        .iter()
                        .filter(|(k, _)| properties[id].contains(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    Fake::shaped(&changed, select)
                        .as_object()
                        .cloned()
                        .map(|mut o| {
                            o.insert("id".to_string(), json!(id));
                            Value::Object(o)
                        })
                        .unwrap_or(Value::Null)
                }
                None => json!({"id": id, "@removed": {"reason": "changed"}}),
            })
            .collect()
    }
}

/// A query as `k=v&…` in key order, for request logs that compare equal across runs.
pub(super) fn sorted(query: &HashMap<String, String>) -> String {
    let mut pairs: Vec<_> = query.iter().map(|(k, v)| format!("{}={}", k, v)).collect();
    pairs.sort();
    pairs.join("&")
}
