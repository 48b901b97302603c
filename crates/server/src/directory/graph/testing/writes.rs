//! The fake's writes: what an export sends to Graph. Each checks what Graph checks (required
//! properties, unknown properties, a verified domain in the user principal name, unique names,
//! password complexity, existing members) and answers as Graph does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::routes::{bad_request, graph_error, kind_of, schema};
use super::{Continuation, Fake, GraphKind};

type Shared = State<Arc<Mutex<Fake>>>;

fn lock(state: &Arc<Mutex<Fake>>) -> MutexGuard<'_, Fake> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn not_found(id: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{}' does not exist or one of its queried reference-property objects are not present.",
            id
        ),
    )
}

impl Fake {
    /// Admits a write: the token and queued faults as for reads, then the write failure budget.
    fn admit_write(&mut self, headers: &HeaderMap, what: String) -> Option<Response> {
        if let Some(refused) = self.admit(headers, what) {
            return Some(refused);
        }
        if let Some(retry_after) = self.write_faults.pop_front() {
            let mut response = graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
            );
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after.into());
            return Some(response);
        }
        match self.writes_left {
            Some(0) => Some(graph_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "An internal server error occurred.",
            )),
            Some(n) => {
                self.writes_left = Some(n - 1);
                None
            }
            None => None,
        }
    }

    fn exists(&self, id: &str) -> bool {
        [GraphKind::Users, GraphKind::Groups]
            .iter()
            .any(|k| self.objects[k].contains_key(id))
    }
}

/// Users and groups are written; devices and anything else are not part of this fake.
fn writable(name: &str) -> Option<GraphKind> {
    kind_of(name).filter(|k| *k != GraphKind::Devices)
}

/// The first property Graph does not know on `kind`, among those a write may set.
fn unknown_property(kind: GraphKind, body: &Map<String, Value>) -> Option<String> {
    let extra: &[&str] = match kind {
        GraphKind::Users => &["passwordProfile"],
        _ => &[],
    };
    body.keys()
        .find(|k| {
            k.as_str() == "id"
                || !(schema(kind).contains(&k.as_str()) || extra.contains(&k.as_str()))
        })
        .cloned()
}

/// Graph's answer to a property it does not know, if the body names one.
fn refuse_unknown(
    kind: GraphKind,
    collection: &str,
    body: &Map<String, Value>,
) -> Option<Response> {
    unknown_property(kind, body).map(|unknown| {
        bad_request(&format!(
            "Property '{}' does not exist on type 'microsoft.graph.{}'.",
            unknown,
            collection.trim_end_matches('s')
        ))
    })
}

fn complex_enough(password: &str) -> bool {
    let classes = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    password.chars().count() >= 8 && classes.iter().filter(|c| **c).count() >= 3
}

/// `POST /users` and `POST /groups`.
pub(super) async fn create(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut fake = lock(&state);
    if let Some(refused) = fake.admit_write(&headers, format!("POST /{}", name)) {
        return refused;
    }
    let Some(kind) = writable(&name) else {
        return bad_request("Resource not found for the segment.");
    };
    let Value::Object(mut body) = body else {
        return bad_request("The request body is not a JSON object.");
    };
    if let Some(refused) = refuse_unknown(kind, &name, &body) {
        return refused;
    }
    let text = |b: &Map<String, Value>, n: &str| {
        b.get(n)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
    };
    let required: &[&str] = match kind {
        GraphKind::Users => &["displayName", "mailNickname", "userPrincipalName"],
        _ => &["displayName", "mailNickname"],
    };
    let flags: &[&str] = match kind {
        GraphKind::Users => &["accountEnabled"],
        _ => &["mailEnabled", "securityEnabled"],
    };
    for property in required {
        if text(&body, property).is_none() {
            return bad_request(&format!(
                "Invalid value specified for property '{}' of resource '{}'.",
                property,
                name.trim_end_matches('s')
            ));
        }
    }
    for flag in flags {
        if !body.get(*flag).is_some_and(Value::is_boolean) {
            return bad_request(&format!("A value is required for property '{}'.", flag));
        }
    }
    if kind == GraphKind::Users {
        let password = body
            .get("passwordProfile")
            .and_then(|p| p.get("password"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !complex_enough(password) {
            return bad_request("The specified password does not comply with password complexity requirements. Please provide a different password.");
        }
        let upn = text(&body, "userPrincipalName").unwrap_or_default();
        let domain = upn.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        let tenant = fake.tenant.domain.to_ascii_lowercase();
        let initial = format!("{}.onmicrosoft.com", tenant.split('.').next().unwrap_or(""));
        if domain.as_deref() != Some(tenant.as_str()) && domain.as_deref() != Some(initial.as_str())
        {
            return bad_request("Property userPrincipalName is invalid: the domain portion of the userPrincipalName property is not a verified domain of the organization.");
        }
        let taken = fake.objects[&kind].values().any(|o| {
            o.get("userPrincipalName")
                .and_then(Value::as_str)
                .is_some_and(|u| u.eq_ignore_ascii_case(&upn))
        });
        if taken {
            return bad_request(
                "Another object with the same value for property userPrincipalName already exists.",
            );
        }
        // Graph never hands the password back.
        body.remove("passwordProfile");
    }
    let id = uuid::Uuid::new_v4().to_string();
    body.insert("id".into(), json!(id));
    fake.put_object(kind, id, body.clone());
    (StatusCode::CREATED, Json(Value::Object(body))).into_response()
}

/// `PATCH /users/{id}` and `PATCH /groups/{id}`: only the properties sent change; an
/// `onPremisesExtensionAttributes` object is merged into the one there.
pub(super) async fn update(
    State(state): Shared,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut fake = lock(&state);
    if let Some(refused) = fake.admit_write(&headers, format!("PATCH /{}/{}", name, id)) {
        return refused;
    }
    let Some(kind) = writable(&name) else {
        return bad_request("Resource not found for the segment.");
    };
    let Value::Object(patch) = body else {
        return bad_request("The request body is not a JSON object.");
    };
    if let Some(refused) = refuse_unknown(kind, &name, &patch) {
        return refused;
    }
    let Some(mut object) = fake.objects[&kind].get(&id).cloned() else {
        return not_found(&id);
    };
    for (k, v) in patch {
        let merged = match (object.get_mut(&k), &v) {
            (Some(Value::Object(old)), Value::Object(new))
                if k == "onPremisesExtensionAttributes" =>
            {
                old.extend(new.clone());
                true
            }
            _ => false,
        };
        if !merged {
            object.insert(k, v);
        }
    }
    object.remove("passwordProfile");
    fake.put_object(kind, id, object);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /groups/{id}/members?$select=id&$top=…`, paged.
pub(super) async fn members(
    State(state): Shared,
    Path((name, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut fake = lock(&state);
    if let Some(refused) = fake.admit(&headers, format!("/{}/{}/members", name, id)) {
        return refused;
    }
    if name != "groups" || !fake.objects[&GraphKind::Groups].contains_key(&id) {
        return not_found(&id);
    }
    let (top, offset) = match query.get("$skiptoken") {
        Some(token) => match fake.pages.remove(token) {
            Some(Continuation::Members { group, top, offset }) if group == id => (top, offset),
            _ => return bad_request("Invalid skip token."),
        },
        None => match query.get("$top").map(|t| t.parse::<usize>()) {
            None => (100, 0),
            Some(Ok(n)) if (1..=999).contains(&n) => (n, 0),
            Some(_) => {
                return bad_request("Invalid page size specified: must be between 1 and 999.")
            }
        },
    };
    let all: Vec<String> = fake
        .members
        .get(&id)
        .map(|m| m.iter().cloned().collect())
        .unwrap_or_default();
    let value: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(top)
        .map(|m| {
            let kind = if fake.objects[&GraphKind::Groups].contains_key(m) {
                "#microsoft.graph.group"
            } else {
                "#microsoft.graph.user"
            };
            json!({"@odata.type": kind, "id": m})
        })
        .collect();
    let mut body = json!({"value": value});
    if all.len() > offset + top {
        let token = fake.remember_page(Continuation::Members {
            group: id.clone(),
            top,
            offset: offset + top,
        });
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/groups/{}/members?$top={}&$skiptoken={}",
            fake.base, id, top, token
        ));
    }
    Json(body).into_response()
}

/// `POST /groups/{id}/members/$ref` with `{"@odata.id": ".../directoryObjects/{member}"}`.
pub(super) async fn add_member(
    State(state): Shared,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut fake = lock(&state);
    if let Some(refused) = fake.admit_write(&headers, format!("POST /{}/{}/members/$ref", name, id))
    {
        return refused;
    }
    if name != "groups" || !fake.objects[&GraphKind::Groups].contains_key(&id) {
        return not_found(&id);
    }
    let Some(member) = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit_once("/directoryObjects/"))
        .map(|(_, m)| m.to_string())
    else {
        return bad_request("Invalid URL format specified in @odata.id.");
    };
    if !fake.exists(&member) {
        return not_found(&member);
    }
    if !fake.members.entry(id).or_default().insert(member) {
        return bad_request("One or more added object references already exist for the following modified properties: 'members'.");
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /groups/{id}/members/{member}/$ref`.
pub(super) async fn remove_member(
    State(state): Shared,
    Path((name, id, member)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut fake = lock(&state);
    if let Some(refused) = fake.admit_write(
        &headers,
        format!("DELETE /{}/{}/members/{}/$ref", name, id, member),
    ) {
        return refused;
    }
    let removed = fake.members.get_mut(&id).is_some_and(|m| m.remove(&member));
    if name != "groups" || !removed {
        return not_found(&member);
    }
    StatusCode::NO_CONTENT.into_response()
}
