//! The OpenAPI document against the router: every route documented, every documented path routed.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use server::auth::Role;

use crate::support::TestApp;

/// `/a/{flow}/b` → `/a/{id}/b`: the route lists write every path parameter as `{id}`.
fn normalised(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// (METHOD, path as documented) for every operation of the document.
fn operations(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths is an object");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

async fn served_document(t: &TestApp) -> serde_json::Value {
    let token = t.token_with_roles(&[Role::AgentViewer]).await;
    let response = t.get("/api/v1/openapi.json", &token).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

#[tokio::test]
async fn the_document_is_openapi_3_and_needs_a_signed_in_user() {
    let t = TestApp::new().await;
    let response = t.get("/api/v1/openapi.json", "").await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);

    let doc = served_document(&t).await;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "{version}");
    // The same document `rehome openapi` prints.
    let printed: serde_json::Value =
        serde_json::from_str(&server::api::openapi::json()).expect("printed document is JSON");
    assert_eq!(printed, doc);
}

/// Routes that clients and the console rely on: each must stay in the route table with its method.
const KNOWN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/directories"),
    ("POST", "/directories"),
    ("POST", "/directories/{id}/import"),
    ("PUT", "/directories/{id}/connection"),
    ("POST", "/directories/{id}/sync"),
    ("PUT", "/sync/schedule"),
    ("POST", "/sync/run"),
    ("POST", "/match"),
    ("PUT", "/match/profile"),
    ("POST", "/match/run"),
    ("POST", "/match/what-if"),
    ("GET", "/match/explain"),
    ("GET", "/objects/{id}/{id}"),
    ("GET", "/translations.csv"),
    ("POST", "/psks"),
    ("DELETE", "/psks/{id}"),
    ("POST", "/agent-certificates"),
    ("PUT", "/runbooks/{id}"),
    ("DELETE", "/runbooks/{id}"),
    ("POST", "/batches"),
    ("PUT", "/batches/{id}/computers.csv"),
    ("GET", "/computers"),
    ("GET", "/agents/{id}/events"),
    ("GET", "/progress"),
    ("POST", "/licences"),
    ("POST", "/directories/{id}/bulk-tokens/flows/{id}/complete"),
    ("DELETE", "/command-packages/{id}"),
    ("POST", "/lock-screen-images"),
    ("DELETE", "/lock-screen-images/{id}"),
    ("GET", "/openapi.json"),
];

#[tokio::test]
async fn the_route_table_holds_every_known_route_and_the_document_shows_them_all() {
    let t = TestApp::new().await;
    let doc = served_document(&t).await;
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path)| (method, normalised(&path)))
        .collect();
    let table: BTreeSet<(String, String)> = server::api::operations()
        .into_iter()
        .map(|(method, path)| (method, normalised(&path)))
        .collect();
    let missing: Vec<_> = KNOWN_ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .filter(|r| !table.contains(r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from the table: {missing:?}"
    );
    let undocumented: Vec<_> = table.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    // The sign-in and user routes are documented besides the table.
    assert!(documented.contains(&("POST".to_string(), "/auth/login".to_string())));
    assert_eq!(documented.len(), table.len() + 9);
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let t = TestApp::new().await;
    let doc = served_document(&t).await;
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let ops = operations(&doc);
    assert!(ops.len() > 40, "only {} operations", ops.len());
    for (method, path) in ops {
        let url = format!(
            "/api/v1{}",
            normalised(&path).replace("{id}", &uuid::Uuid::new_v4().to_string())
        );
        // Logging out ends the session: use one of its own.
        let token = if path == "/auth/logout" {
            t.token_with_roles(&[Role::TenantAdmin]).await
        } else {
            admin.clone()
        };
        let body = serde_json::json!({});
        let response = match method.as_str() {
            "GET" => t.get(&url, &token).await,
            "POST" => t.post_json(&url, &token, body).await,
            "PUT" => t.put_json(&url, &token, body).await,
            "DELETE" => t.delete(&url, &token).await,
            other => panic!("add {other} to this test"),
        };
        let what = format!("{method} {url}: {} {}", response.status, response.text());
        assert_ne!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
        if response.status == StatusCode::NOT_FOUND {
            // A handler's "no such thing" carries the error body; the router's fallback does not.
            assert_eq!(response.json()["code"], "not_found", "{what}");
        }
    }
}

#[tokio::test]
async fn operations_carry_their_tag_access_and_error_answers() {
    let t = TestApp::new().await;
    let doc = served_document(&t).await;
    let delete_runbook = &doc["paths"]["/runbooks/{id}"]["delete"];
    assert_eq!(delete_runbook["tags"][0], "runbooks");
    let description = delete_runbook["description"].as_str().unwrap_or_default();
    assert!(description.contains("AgentAdmin"), "{description}");
    for status in ["204", "401", "403", "404", "409"] {
        assert!(
            delete_runbook["responses"].get(status).is_some(),
            "DELETE /runbooks/{{id}} lacks {status}"
        );
    }
    let error = &doc["components"]["schemas"]["ErrorBody"]["properties"];
    for field in ["code", "message", "fields"] {
        assert!(error.get(field).is_some(), "ErrorBody lacks {field}");
    }
    // Passwords go in, never come out.
    let login = &doc["components"]["schemas"]["LoginBody"]["properties"];
    assert_eq!(login["password"]["writeOnly"], true);
    let create_user = &doc["components"]["schemas"]["CreateBody"]["properties"];
    assert_eq!(create_user["password"]["writeOnly"], true);
    // Operation ids are unique, as OpenAPI requires.
    let mut ids = BTreeSet::new();
    for (method, path) in operations(&doc) {
        let id = doc["paths"][&path][method.to_lowercase()]["operationId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            ids.insert(id.clone()),
            "{method} {path}: operationId {id:?} used twice"
        );
    }
    // Login is the one operation open to anyone.
    assert!(doc["paths"]["/auth/login"]["post"]["responses"]
        .get("403")
        .is_none());
}

/// Where `schema` (resolved through `$ref`) or a schema inside it is an object with nothing said
/// about its members: what a generated client can only read as an untyped map.
fn bare_objects(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    at: &str,
    out: &mut Vec<String>,
) {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        if doc["components"]["schemas"].get(name).is_none() {
            out.push(format!("{at}: no schema {name}"));
        }
        // Components are walked on their own.
        return;
    }
    let typed_object = schema["type"] == "object"
        || schema["type"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "object"));
    let described = [
        "properties",
        "additionalProperties",
        "allOf",
        "oneOf",
        "anyOf",
    ]
    .iter()
    .any(|k| schema.get(*k).is_some());
    if typed_object && !described {
        out.push(at.to_string());
    }
    if schema.as_object().is_some_and(|o| o.is_empty()) {
        out.push(format!("{at}: any value"));
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, p) in properties {
            bare_objects(doc, p, &format!("{at}.{name}"), out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = schema.get(key).filter(|v| v.is_object()) {
            bare_objects(doc, inner, &format!("{at}[{key}]"), out);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for (i, inner) in schema[key].as_array().into_iter().flatten().enumerate() {
            bare_objects(doc, inner, &format!("{at}.{key}[{i}]"), out);
        }
    }
}

#[tokio::test]
async fn every_request_and_answer_body_has_a_full_schema() {
    let t = TestApp::new().await;
    let doc = served_document(&t).await;
    let mut bare = Vec::new();
    let mut bodies = 0;
    for (method, path) in operations(&doc) {
        let operation = &doc["paths"][&path][method.to_lowercase()];
        let mut contents = vec![(
            format!("{method} {path} request"),
            &operation["requestBody"]["content"],
        )];
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            contents.push((format!("{method} {path} {status}"), &response["content"]));
        }
        for (at, content) in contents {
            for (media, body) in content.as_object().into_iter().flatten() {
                if media == "application/json" {
                    bodies += 1;
                    bare_objects(&doc, &body["schema"], &at, &mut bare);
                }
            }
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        bare_objects(&doc, schema, name, &mut bare);
    }
    assert!(bodies > 60, "only {bodies} JSON bodies");
    assert!(bare.is_empty(), "bodies without a full schema: {bare:#?}");
    // The model's types are described field by field, with their documentation.
    let runbook = &doc["components"]["schemas"]["Runbook"]["properties"];
    for field in [
        "name",
        "source_directories",
        "target_directory",
        "device_state",
    ] {
        assert!(runbook.get(field).is_some(), "Runbook lacks {field}");
    }
    let batch = &doc["components"]["schemas"]["Batch"]["properties"];
    assert!(batch["assignments"]["items"]["$ref"].is_string(), "{batch}");
}

#[test]
fn a_schedule_time_is_documented_as_the_local_time_the_server_reads() {
    let doc: serde_json::Value =
        serde_json::from_str(&server::api::openapi::json()).expect("printed document is JSON");
    let schemas = &doc["components"]["schemas"];
    let enforced = &schemas["Assignment"]["properties"]["enforced_after"];
    assert_eq!(enforced["$ref"], "#/components/schemas/LocalDateTime");
    let local = &schemas["LocalDateTime"];
    assert_eq!(local["type"], "string");
    assert!(local.get("format").is_none(), "{local}");
    let pattern = local["pattern"].as_str().expect("a pattern");
    assert!(
        pattern.ends_with(r"(\.\d{1,9})?$"),
        "no offset after the time: {pattern}"
    );
    let example = local["examples"][0].as_str().expect("an example");
    let read: chrono::NaiveDateTime =
        serde_json::from_value(serde_json::json!(example)).expect("the example is read");
    assert_eq!(
        serde_json::to_value(read).expect("written"),
        serde_json::json!(example)
    );
}
