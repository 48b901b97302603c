//! The admin API over HTTP: roles, validation that names fields, secrets shown once, reports.

use axum::http::StatusCode;
use model::ids::{DirectoryId, ObjectGuid};
use server::auth::Role;

use crate::agent_api::{world, TestAgent};
use crate::support::TestApp;

#[tokio::test]
async fn every_mutating_route_refuses_each_viewer_role() {
    let t = TestApp::new().await;
    for role in [Role::SyncViewer, Role::AgentViewer] {
        let token = t.token_with_roles(&[role]).await;
        let routes = server::api::mutating_routes();
        assert!(routes.len() > 20, "only {} mutating routes", routes.len());
        for (method, path) in routes {
            let path = format!(
                "/api/v1{}",
                path.split('/')
                    .map(|segment| if segment.starts_with('{') {
                        uuid::Uuid::new_v4().to_string()
                    } else {
                        segment.to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            );
            let body = serde_json::json!({});
            let response = match method.as_str() {
                "POST" => t.post_json(&path, &token, body).await,
                "PUT" => t.put_json(&path, &token, body).await,
                "DELETE" => t.delete(&path, &token).await,
                other => panic!("add {other} to this test"),
            };
            assert_eq!(
                response.status,
                StatusCode::FORBIDDEN,
                "{role:?} {method} {path}: {}",
                response.text()
            );
        }
    }
    // And nobody without a token gets anywhere.
    let response = t.post_json("/api/v1/psks", "", serde_json::json!({})).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn directories_import_match_and_translation_table_over_http() {
    let t = TestApp::new().await;
    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let operator = t.token_with_roles(&[Role::SyncOperator]).await;
    let created = t
        .post_json("/api/v1/directories", &admin, serde_json::json!({"name": "CONTOSO", "kind": "ActiveDirectory", "domain": "contoso.test"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let src = created.json()["id"].as_str().expect("id").to_string();
    let bad = t
        .post_json(
            "/api/v1/directories",
            &admin,
            serde_json::json!({"name": "X", "kind": "ActiveDirectory", "domain": "not a domain"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["fields"][0]["field"], "domain");
    let forbidden = t
        .post_json(
            "/api/v1/directories",
            &operator,
            serde_json::json!({"name": "F", "kind": "ActiveDirectory", "domain": "f.test"}),
        )
        .await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "operators run imports, they do not configure directories"
    );
    let dst = t
        .post_json("/api/v1/directories", &admin, serde_json::json!({"name": "FABRIKAM", "kind": "ActiveDirectory", "domain": "fabrikam.test"}))
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_string();

    let user = |name: &str, sam: &str, sid: &str| serde_json::json!({"guid": ObjectGuid::new(), "kind": "User", "name": name, "sid": sid, "sam_account_name": sam, "upn": format!("{sam}@x.test")});
    let doc = serde_json::json!({"domain": "contoso.test", "domain_sid": "S-1-5-21-1-2-3", "objects": [user("=Alice", "alice", "S-1-5-21-1-2-3-1001")]});
    let imported = t
        .post_json(&format!("/api/v1/directories/{src}/import"), &operator, doc)
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
    assert_eq!(imported.json()["added"], 1);
    let doc = serde_json::json!({"domain": "fabrikam.test", "objects": [user("Alice F", "ALICE", "S-1-5-21-7-8-9-5001")]});
    assert_eq!(
        t.post_json(&format!("/api/v1/directories/{dst}/import"), &operator, doc)
            .await
            .status,
        StatusCode::OK
    );
    let runs = t
        .get(&format!("/api/v1/directories/{src}/imports"), &operator)
        .await;
    assert_eq!(runs.json().as_array().map(Vec::len), Some(1));

    let bad = t
        .post_json(
            "/api/v1/match",
            &operator,
            serde_json::json!({"source": src, "target": dst, "attribute": "shoe size"}),
        )
        .await;
    assert_eq!(bad.json()["fields"][0]["field"], "attribute");
    let matched = t
        .post_json(
            "/api/v1/match",
            &operator,
            serde_json::json!({"source": src, "target": dst, "attribute": "sAMAccountName"}),
        )
        .await;
    assert_eq!(matched.json()["matched"], 1, "{}", matched.text());

    let table = t
        .get("/api/v1/translations?search=alice%20f", &operator)
        .await;
    assert_eq!(table.json().as_array().map(Vec::len), Some(1));
    let by_sid = t
        .get("/api/v1/translations?search=s-1-5-21-7-8-9", &operator)
        .await;
    assert_eq!(
        by_sid.json().as_array().map(Vec::len),
        Some(1),
        "the start of the target's SID finds its row"
    );
    let none = t.get("/api/v1/translations?search=nobody", &operator).await;
    assert_eq!(none.json().as_array().map(Vec::len), Some(0));
    let csv = t.get("/api/v1/translations.csv", &operator).await;
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let text = csv.text();
    assert!(text.starts_with("kind,source_name"), "{text}");
    assert!(
        text.contains("'=Alice") && text.contains("S-1-5-21-7-8-9-5001"),
        "formula-safe and complete: {text}"
    );
    assert_eq!(
        t.get(
            "/api/v1/translations",
            &t.token_with_roles(&[Role::AgentViewer]).await
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn psks_are_shown_once_and_certificates_have_defaults_and_limits() {
    let t = TestApp::new().await;
    let admin = t.token_with_roles(&[Role::AgentAdmin]).await;
    let first = t
        .post_json("/api/v1/psks", &admin, serde_json::json!({}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let key = first.json()["key"]
        .as_str()
        .expect("key shown at creation")
        .to_string();
    assert_eq!(key.len(), 64);
    assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));
    t.clock.advance(chrono::Duration::seconds(1));
    let second = t
        .post_json("/api/v1/psks", &admin, serde_json::json!({}))
        .await
        .json();
    let list = t.get("/api/v1/psks", &admin).await;
    assert!(!list.text().contains(&key), "a PSK is never listed");
    let list = list.json();
    assert_eq!(list[0]["id"], second["id"]);
    assert_eq!(
        (list[0]["latest"].as_bool(), list[1]["latest"].as_bool()),
        (Some(true), Some(false))
    );
    let id = first.json()["id"].as_str().expect("id").to_string();
    assert_eq!(
        t.delete(&format!("/api/v1/psks/{id}"), &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.delete(&format!("/api/v1/psks/{id}"), &admin).await.status,
        StatusCode::NOT_FOUND
    );

    let cert = t
        .post_json("/api/v1/agent-certificates", &admin, serde_json::json!({}))
        .await;
    assert_eq!(cert.status, StatusCode::CREATED, "{}", cert.text());
    let cert = cert.json();
    assert_eq!(cert["name"], "Agent Certificate 2025-01-06");
    assert!(cert["not_after"]
        .as_str()
        .expect("expiry")
        .starts_with("2026-01-06"));
    assert!(cert.get("secret").is_none());
    for months in [0, 121] {
        let bad = t
            .post_json(
                "/api/v1/agent-certificates",
                &admin,
                serde_json::json!({"months_valid": months}),
            )
            .await;
        assert_eq!(bad.json()["fields"][0]["field"], "months_valid");
    }
    let named = t
        .post_json(
            "/api/v1/agent-certificates",
            &admin,
            serde_json::json!({"name": "Spring", "months_valid": 120}),
        )
        .await
        .json();
    assert!(named["not_after"]
        .as_str()
        .expect("expiry")
        .starts_with("2035-01-06"));
    let listed = t.get("/api/v1/agent-certificates", &admin).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert_eq!(
        listed
            .as_array()
            .expect("list")
            .iter()
            .filter(|c| c["latest"] == true)
            .count(),
        1
    );
}

#[tokio::test]
async fn runbooks_and_batches_are_validated_with_field_names() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let admin = t.token_with_roles(&[Role::AgentAdmin]).await;
    let operator = t.token_with_roles(&[Role::AgentOperator]).await;

    let bad = t
        .post_json(
            "/api/v1/runbooks",
            &admin,
            serde_json::json!({"name": " ", "source_directories": [], "target_directory": w.dst}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = bad.json()["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        fields.contains(&"name".to_string()) && fields.contains(&"source_directories".to_string()),
        "{fields:?}"
    );
    let dup = t.post_json("/api/v1/runbooks", &admin, serde_json::json!({"name": "move to FABRIKAM", "source_directories": [w.src], "target_directory": w.dst})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let reverse = t
        .post_json("/api/v1/runbooks", &admin, serde_json::json!({"name": "Back", "source_directories": [w.dst], "target_directory": w.src}))
        .await;
    assert_eq!(reverse.status, StatusCode::CREATED, "{}", reverse.text());
    let reverse = reverse.json();
    assert_eq!(
        t.post_json("/api/v1/runbooks", &operator, serde_json::json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let batch = |runbook: &serde_json::Value, name: &str| {
        serde_json::json!({"name": name, "source_directory": w.src, "target_directory": w.dst,
            "assignments": [{"runbook": runbook, "enforced_after": "2025-02-01T09:00:00", "timezone": "Utc"}],
            "computers": {"mode": "AllExcept", "computers": []}})
    };
    let misfit = t
        .post_json("/api/v1/batches", &admin, batch(&reverse["id"], "Wrong"))
        .await;
    assert_eq!(
        misfit.json()["fields"][0]["field"],
        "assignments[0].runbook",
        "{}",
        misfit.text()
    );
    let missing = t
        .post_json(
            "/api/v1/batches",
            &admin,
            batch(&serde_json::json!(DirectoryId::new()), "Missing"),
        )
        .await;
    assert_eq!(missing.json()["fields"][0]["message"], "no such runbook");

    // Operators schedule batches: reschedule and rename alike.
    let path = format!("/api/v1/batches/{}", w.batch.id);
    let mut body = serde_json::to_value(&w.batch).expect("json");
    body["assignments"][0]["enforced_after"] = serde_json::json!("2025-01-07T18:00:00");
    assert_eq!(
        t.put_json(&path, &operator, body.clone()).await.status,
        StatusCode::OK
    );
    body["name"] = serde_json::json!("Renamed");
    assert_eq!(t.put_json(&path, &admin, body).await.status, StatusCode::OK);
    assert_eq!(t.get(&path, &operator).await.json()["name"], "Renamed");

    let in_use = t
        .delete(&format!("/api/v1/runbooks/{}", w.runbook.id), &admin)
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn reports_show_agents_runs_logs_failures_and_progress() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let viewer = t.token_with_roles(&[Role::AgentViewer]).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");
    pc1.check_in(&t, false, vec![]).await;
    let _ = TestAgent::new("NOPE").register(&t, &w.psk).await;
    assert_eq!(w.pcs.len(), 3);

    let agents = t.get("/api/v1/agents", &viewer).await.json();
    assert_eq!(agents[0]["name"], "PC1");
    assert_eq!(agents[0]["directory_name"], "CONTOSO");
    let details = t
        .get(&format!("/api/v1/agents/{}", pc1.id()), &viewer)
        .await
        .json();
    assert_eq!(details["runs"][0]["status"], "NotAvailable");
    assert_eq!(details["runs"][0]["runbook_name"], "Move to Fabrikam");
    let events = t
        .get(
            &format!("/api/v1/agents/{}/events?limit=10", pc1.id()),
            &viewer,
        )
        .await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.json()["total"], 0);
    let bad = t
        .get(
            &format!("/api/v1/agents/{}/events?limit=0", pc1.id()),
            &viewer,
        )
        .await;
    assert_eq!(bad.json()["fields"][0]["field"], "limit");
    let failed = t.get("/api/v1/failed-communications", &viewer).await.json();
    assert_eq!(failed[0]["code"], "not_imported");
    let progress = t.get("/api/v1/progress", &viewer).await.json();
    assert_eq!(progress["overall"]["not_available"], 1);
    assert_eq!(progress["overall"]["no_agent"], 1);
    assert_eq!(progress["batches"][0]["name"], "Wave 1");
    assert_eq!(
        t.get(
            "/api/v1/progress",
            &t.token_with_roles(&[Role::SyncViewer]).await
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // The agents answer is read in parts and streamed: every agent, by name, as the report
    // lists them.
    for name in ["PC3", "PC2"] {
        TestAgent::new(name)
            .register(&t, &w.psk)
            .await
            .expect("registered");
    }
    let listed = server::migration::agents::list(&t.app)
        .await
        .expect("the agents");
    let streamed = t.get("/api/v1/agents", &viewer).await;
    assert_eq!(
        streamed.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        streamed.json(),
        serde_json::to_value(&listed).expect("JSON")
    );
    let names: Vec<&str> = listed.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["PC1", "PC2", "PC3"]);
}

#[tokio::test]
async fn a_runbook_whose_sources_include_its_target_is_refused_and_left_as_it_was() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let admin = t.token_with_roles(&[Role::AgentAdmin]).await;
    // A runbook no batch uses, so only the runbook's own rules can refuse the edit.
    let made = t
        .post_json("/api/v1/runbooks", &admin, serde_json::json!({"name": "Back", "source_directories": [w.dst], "target_directory": w.src}))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let path = format!(
        "/api/v1/runbooks/{}",
        made.json()["id"].as_str().expect("id")
    );
    let before = t.get(&path, &admin).await.json();
    let mut body = before.clone();
    body["target_directory"] = serde_json::json!(w.dst);
    // Joining nothing: the rule about leaving and joining one directory did not apply.
    body["device_state"]["domain_join"] = serde_json::json!("None");
    let refused = t.put_json(&path, &admin, body).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text()
    );
    assert_eq!(refused.json()["fields"][0]["field"], "source_directories");
    assert!(refused.text().contains("must differ"), "{}", refused.text());
    assert_eq!(t.get(&path, &admin).await.json(), before, "nothing changed");
}

/// The field each refusal in `response` names.
fn field_names(response: &crate::support::TestResponse) -> Vec<String> {
    response.json()["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["field"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn names_with_control_or_invisible_characters_are_refused_and_nothing_is_stored() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let sync = t.token_with_roles(&[Role::SyncAdmin]).await;
    let agents = t.token_with_roles(&[Role::AgentAdmin]).await;

    let directories = t.get("/api/v1/directories", &sync).await.json();
    for name in [
        "NUL\u{0}X",
        "TAB\tX",
        "RTL\u{202E}XYZ",
        "CONTOSO\u{200B}",
        "\u{FEFF}BOM",
    ] {
        let r = t
            .post_json(
                "/api/v1/directories",
                &sync,
                serde_json::json!({"name": name, "kind": "ActiveDirectory", "domain": "x.test"}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?}: {}",
            r.text()
        );
        assert_eq!(field_names(&r), ["name"], "{name:?}");
    }
    assert_eq!(
        t.get("/api/v1/directories", &sync).await.json(),
        directories
    );
    let accented = t
        .post_json(
            "/api/v1/directories",
            &sync,
            serde_json::json!({"name": "Zürich Büro", "kind": "ActiveDirectory", "domain": "zh.test"}),
        )
        .await;
    assert_eq!(accented.status, StatusCode::CREATED, "{}", accented.text());

    let runbooks = t.get("/api/v1/runbooks", &agents).await.json();
    let r = t
        .post_json(
            "/api/v1/runbooks",
            &agents,
            serde_json::json!({"name": "RB\u{0}x", "source_directories": [w.dst], "target_directory": w.src}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field_names(&r), ["name"]);
    assert_eq!(t.get("/api/v1/runbooks", &agents).await.json(), runbooks);

    // A legal notice keeps its lines, but not a NUL: Windows would end the notice there.
    let path = format!("/api/v1/runbooks/{}", w.runbook.id);
    let before = t.get(&path, &agents).await.json();
    let mut body = before.clone();
    body["user_experience"]["cultures"][0]["legal_notice"] =
        serde_json::json!("Moving today.\u{0}Hidden");
    let r = t.put_json(&path, &agents, body.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(
        field_names(&r),
        ["user_experience.cultures[0].legal_notice"]
    );
    assert_eq!(t.get(&path, &agents).await.json(), before);
    body["user_experience"]["cultures"][0]["legal_notice"] =
        serde_json::json!("Moving today.\nPlease wait.");
    let r = t.put_json(&path, &agents, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let certificates = t.get("/api/v1/agent-certificates", &agents).await.json();
    let r = t
        .post_json(
            "/api/v1/agent-certificates",
            &agents,
            serde_json::json!({"name": "nul\u{0}cert"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field_names(&r), ["name"]);
    assert_eq!(
        t.get("/api/v1/agent-certificates", &agents).await.json(),
        certificates
    );
}
