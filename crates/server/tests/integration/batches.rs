//! Batches over HTTP: which runbooks fit, schedule and overlap warnings, type-ahead, the computer
//! list as CSV, and who may schedule.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use server::auth::Role;

use crate::agent_api::world;
use crate::support::{TestApp, TestResponse};

/// Logs a new user with `roles` in through the login route and returns their token.
async fn logged_in(t: &TestApp, roles: &[Role]) -> String {
    let (name, password) = t.user_with_roles(roles).await;
    let r = t
        .post_json(
            "/api/v1/auth/login",
            "",
            json!({"name": name, "password": password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["token"].as_str().expect("token").to_string()
}

async fn put_csv(t: &TestApp, path: &str, token: &str, csv: &str) -> TestResponse {
    let request = Request::builder()
        .method(Method::PUT)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(csv.to_string()))
        .expect("request");
    t.request(request).await
}

fn created_id(r: &TestResponse) -> String {
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["id"].as_str().expect("id").to_string()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn compatible_runbooks_are_those_from_the_source_to_the_target() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let admin = logged_in(&t, &[Role::AgentAdmin]).await;
    let back = t
        .post_json(
            "/api/v1/runbooks",
            &admin,
            json!({"name": "Back", "source_directories": [w.dst], "target_directory": w.src}),
        )
        .await;
    created_id(&back);
    let path = format!(
        "/api/v1/batches/compatible-runbooks?source={}&target={}",
        w.src, w.dst
    );
    let viewer = logged_in(&t, &[Role::AgentViewer]).await;
    let listed = t.get(&path, &viewer).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(names(&listed.json()), vec!["Move to Fabrikam"]);
    let reverse = t
        .get(
            &format!(
                "/api/v1/batches/compatible-runbooks?source={}&target={}",
                w.dst, w.src
            ),
            &viewer,
        )
        .await;
    assert_eq!(names(&reverse.json()), vec!["Back"]);
    let missing = t
        .get(
            &format!("/api/v1/batches/compatible-runbooks?source={}", w.src),
            &viewer,
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.json()["fields"][0]["field"], "target");
    // A misfit is still refused when saved.
    let misfit = t
        .post_json("/api/v1/batches", &admin, json!({"name": "Wrong", "source_directory": w.src, "target_directory": w.dst,
            "assignments": [{"runbook": back.json()["id"], "enforced_after": "2025-02-01T09:00:00", "timezone": "Utc"}],
            "computers": {"mode": "NoneExcept", "computers": []}}))
        .await;
    assert_eq!(misfit.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        misfit.json()["fields"][0]["field"],
        "assignments[0].runbook"
    );
}

#[tokio::test]
async fn a_prerequisite_scheduled_after_its_dependant_is_saved_with_a_warning() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let admin = logged_in(&t, &[Role::AgentAdmin]).await;
    let operator = logged_in(&t, &[Role::AgentOperator]).await;
    let prep = created_id(
        &t.post_json(
            "/api/v1/runbooks",
            &admin,
            json!({"name": "Prep", "source_directories": [w.src], "target_directory": w.dst}),
        )
        .await,
    );
    let main = created_id(
        &t.post_json("/api/v1/runbooks", &admin, json!({"name": "Main", "source_directories": [w.src], "target_directory": w.dst, "prerequisites": [prep]}))
            .await,
    );
    let batch = |prep_at: &str, prep_tz: &str| {
        json!({"name": "Wave 2", "source_directory": w.src, "target_directory": w.dst,
            "assignments": [
                {"runbook": main, "enforced_after": "2025-03-02T12:00:00", "timezone": "Utc"},
                {"runbook": prep, "enforced_after": prep_at, "timezone": prep_tz}],
            "computers": {"mode": "NoneExcept", "computers": []}})
    };
    let created = t
        .post_json(
            "/api/v1/batches",
            &operator,
            batch("2025-03-03T09:00:00", "Utc"),
        )
        .await;
    let id = created_id(&created);
    let warnings = created.json()["warnings"].clone();
    // The audit trail shows the new runbooks and batch as their GETs do, ids included (entries
    // of one instant come in no set order).
    let tenant = t.token_with_roles(&[Role::TenantAdmin]).await;
    let trail = t.get("/api/v1/audit?action=POST", &tenant).await.json();
    let created_ids = |action: &str| {
        let mut ids: Vec<String> = trail
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["action"] == action && e["status"] == 201)
            .map(|e| e["after"]["id"].as_str().unwrap_or_default().to_string())
            .collect();
        ids.sort();
        ids
    };
    let mut runbooks = vec![prep.clone(), main.clone()];
    runbooks.sort();
    assert_eq!(created_ids("POST /api/v1/runbooks"), runbooks);
    assert_eq!(created_ids("POST /api/v1/batches"), vec![id.clone()]);
    assert_eq!(warnings[0]["field"], "assignments[1].enforced_after");
    let message = warnings[0]["message"].as_str().expect("message");
    assert!(
        message.contains("Prep") && message.contains("Main"),
        "{message}"
    );
    // Saved all the same.
    assert_eq!(
        t.get(&format!("/api/v1/batches/{id}"), &operator)
            .await
            .json()["assignments"][1]["enforced_after"],
        "2025-03-03T09:00:00"
    );
    // Local 09:00 can be 21:00 UTC somewhere: still after a UTC 12:00 dependant.
    let path = format!("/api/v1/batches/{id}");
    let local = t
        .put_json(&path, &operator, batch("2025-03-02T09:00:00", "Local"))
        .await;
    assert_eq!(local.status, StatusCode::OK, "{}", local.text());
    assert_eq!(
        local.json()["warnings"][0]["field"],
        "assignments[1].enforced_after"
    );
    // A day earlier is before it on every device.
    let fixed = t
        .put_json(&path, &operator, batch("2025-03-01T09:00:00", "Local"))
        .await;
    assert_eq!(fixed.json()["warnings"], json!([]), "{}", fixed.text());
}

#[tokio::test]
async fn a_computer_in_two_batches_is_flagged_with_the_other_batch() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let operator = logged_in(&t, &[Role::AgentOperator]).await;
    // Wave 1 takes PC1 and PC2; this one takes PC2 and PC3.
    let created = t
        .post_json("/api/v1/batches", &operator, json!({"name": "Wave 2", "source_directory": w.src, "target_directory": w.dst,
            "assignments": [], "computers": {"mode": "NoneExcept", "computers": [w.pcs[1], w.pcs[2]]}}))
        .await;
    let id = created_id(&created);
    let warning = &created.json()["warnings"][0];
    assert_eq!(warning["field"], "computers");
    let message = warning["message"].as_str().expect("message");
    assert!(
        message.contains("PC2") && message.contains("Wave 1") && !message.contains("PC3"),
        "{message}"
    );
    let got = t.get(&format!("/api/v1/batches/{id}"), &operator).await;
    assert_eq!(
        got.json()["overlaps"],
        json!([{"computer": w.pcs[1], "name": "PC2", "other_batch": w.batch.id, "other_batch_name": "Wave 1"}])
    );
    // The list flags both sides.
    let list = t.get("/api/v1/batches", &operator).await.json();
    let wave1 = list
        .as_array()
        .expect("list")
        .iter()
        .find(|b| b["name"] == "Wave 1")
        .expect("Wave 1");
    assert_eq!(wave1["overlaps"][0]["other_batch_name"], "Wave 2");
    // All-except takes every imported computer not listed: PC1 overlaps too.
    let all = t
        .put_json(
            &format!("/api/v1/batches/{id}"),
            &operator,
            json!({"name": "Wave 2", "source_directory": w.src, "target_directory": w.dst,
            "assignments": [], "computers": {"mode": "AllExcept", "computers": [w.pcs[1]]}}),
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    let flagged: Vec<_> = all.json()["overlaps"]
        .as_array()
        .expect("overlaps")
        .iter()
        .map(|o| o["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(flagged, vec!["PC1"]);
}

#[tokio::test]
async fn type_ahead_lists_imported_computers_by_prefix() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let viewer = logged_in(&t, &[Role::AgentViewer]).await;
    let names_of = |r: TestResponse| {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        names(&r.json())
    };
    let base = format!("/api/v1/computers?directory={}", w.src);
    // Users Alice and Bob are imported too, but only computers are listed.
    assert_eq!(
        names_of(t.get(&base, &viewer).await),
        vec!["PC1", "PC2", "PC3"]
    );
    assert_eq!(
        names_of(t.get(&format!("{base}&search=pc2"), &viewer).await),
        vec!["PC2"]
    );
    assert_eq!(
        names_of(t.get(&format!("{base}&search=P&limit=2"), &viewer).await),
        vec!["PC1", "PC2"]
    );
    assert!(names_of(t.get(&format!("{base}&search=%25"), &viewer).await).is_empty());
    assert!(names_of(
        t.get(&format!("/api/v1/computers?directory={}", w.dst), &viewer)
            .await
    )
    .is_empty());
    let too_many = t.get(&format!("{base}&limit=101"), &viewer).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_many.json()["fields"][0]["field"], "limit");
    assert_eq!(
        t.get(&format!("{base}&limit=100"), &viewer).await.status,
        StatusCode::OK
    );
    // 20 unless asked: import 25 more and count.
    let many: Vec<_> = (0..25)
        .map(|i| json!({"guid": model::ids::ObjectGuid::new(), "kind": "Computer", "name": format!("LAPTOP{i:02}")}))
        .collect();
    let admin = logged_in(&t, &[Role::SyncAdmin]).await;
    let imported = t
        .post_json(
            &format!("/api/v1/directories/{}/import", w.dst),
            &admin,
            json!({"domain": "fabrikam.test", "objects": many}),
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
    let laptops = names_of(
        t.get(
            &format!("/api/v1/computers?directory={}&search=laptop", w.dst),
            &viewer,
        )
        .await,
    );
    assert_eq!(laptops.len(), 20);
    assert_eq!(laptops[0], "LAPTOP00");
}

#[tokio::test]
async fn the_computer_list_goes_in_and_out_as_csv_and_a_bad_row_changes_nothing() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let operator = logged_in(&t, &[Role::AgentOperator]).await;
    let path = format!("/api/v1/batches/{}/computers.csv", w.batch.id);
    let exported = t.get(&path, &operator).await;
    assert_eq!(exported.status, StatusCode::OK);
    assert_eq!(
        exported.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let text = exported.text();
    assert!(
        text.starts_with("\"name\",\"objectGuid\"")
            && text.contains("\"PC1\"")
            && text.contains("\"PC2\""),
        "{text}"
    );

    // A bad GUID on line 3: an error naming the line, and the list stays as it was.
    let bad = format!("name,objectGuid\nPC3,{}\nPC9,not-a-guid\n", w.pcs[2]);
    let refused = put_csv(&t, &path, &operator, &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json()["fields"][0]["field"], "line 3");
    // A computer that was never imported into CONTOSO, on line 2.
    let stranger = model::ids::ObjectGuid::new();
    let unknown = put_csv(
        &t,
        &path,
        &operator,
        &format!(
            "\"Name\",\"ObjectGUID\"\r\n\"GHOST\",\"{stranger}\"\r\n\"PC3\",\"{}\"\r\n",
            w.pcs[2]
        ),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.json()["fields"][0]["field"], "line 2");
    assert!(unknown.json()["fields"][0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("GHOST"));
    assert_eq!(t.get(&path, &operator).await.text(), text);
    // PC3's GUID under PC1's name, on line 3: the GUID was copied from the wrong line.
    let swapped = put_csv(
        &t,
        &path,
        &operator,
        &format!("name,objectGuid\nPC2,{}\nPC1,{}\n", w.pcs[1], w.pcs[2]),
    )
    .await;
    assert_eq!(swapped.status, StatusCode::UNPROCESSABLE_ENTITY);
    let field = &swapped.json()["fields"][0];
    assert_eq!(field["field"], "line 3");
    let message = field["message"].as_str().unwrap_or("");
    assert!(
        message.contains("PC1") && message.contains("is PC3"),
        "{message}"
    );
    assert_eq!(t.get(&path, &operator).await.text(), text);
    // Its account name or a DNS name under it names it too, in any case.
    let other_names = put_csv(
        &t,
        &path,
        &operator,
        &format!(
            "name,objectGuid\npc2$,{}\nPc3.Contoso.Test,{}\n",
            w.pcs[1], w.pcs[2]
        ),
    )
    .await;
    assert_eq!(other_names.status, StatusCode::OK, "{}", other_names.text());
    assert_eq!(
        other_names.json()["computers"]["computers"],
        json!([w.pcs[1], w.pcs[2]])
    );

    let replaced = put_csv(
        &t,
        &path,
        &operator,
        &format!("name,objectGuid\nPC3,{}\n", w.pcs[2]),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text());
    assert_eq!(replaced.json()["computers"]["computers"], json!([w.pcs[2]]));
    let again = t.get(&path, &operator).await.text();
    assert!(
        again.contains("\"PC3\"") && !again.contains("\"PC1\""),
        "{again}"
    );
    // What the export writes, the import reads back unchanged.
    assert_eq!(
        put_csv(&t, &path, &operator, &again).await.status,
        StatusCode::OK
    );
    assert_eq!(t.get(&path, &operator).await.text(), again);

    let viewer = logged_in(&t, &[Role::AgentViewer]).await;
    assert_eq!(t.get(&path, &viewer).await.status, StatusCode::OK);
    assert_eq!(
        put_csv(&t, &path, &viewer, &again).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_agent_operator_schedules_batches_but_edits_no_configuration() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let admin = logged_in(&t, &[Role::AgentAdmin]).await;
    let operator = logged_in(&t, &[Role::AgentOperator]).await;
    let viewer = logged_in(&t, &[Role::AgentViewer]).await;
    let batch = |name: &str| {
        json!({"name": name, "source_directory": w.src, "target_directory": w.dst,
            "assignments": [{"runbook": w.runbook.id, "available_from": "2025-04-01T08:00:00", "enforced_after": "2025-04-02T09:00:00", "timezone": "Local"}],
            "computers": {"mode": "NoneExcept", "computers": [w.pcs[2]]}})
    };
    let runbook =
        json!({"name": "Another", "source_directories": [w.src], "target_directory": w.dst});

    // The operator creates, reschedules, renames, lists computers and deletes a batch.
    let id = created_id(
        &t.post_json("/api/v1/batches", &operator, batch("Wave 3"))
            .await,
    );
    let path = format!("/api/v1/batches/{id}");
    // A wrong value is named by where it is, on a new batch and on an update alike.
    let mut wrong = batch("Wave 4");
    wrong["computers"]["mode"] = json!("Sometimes");
    for refused in [
        t.post_json("/api/v1/batches", &operator, wrong.clone())
            .await,
        t.put_json(&path, &operator, wrong).await,
    ] {
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.json()["fields"][0]["field"], "computers.mode");
    }
    let mut changed = batch("Wave 3b");
    changed["assignments"][0]["enforced_after"] = json!("2025-04-09T09:00:00");
    let updated = t.put_json(&path, &operator, changed).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert_eq!(updated.json()["name"], "Wave 3b");
    let csv = format!("name,objectGuid\nPC3,{}\n", w.pcs[2]);
    assert_eq!(
        put_csv(&t, &format!("{path}/computers.csv"), &operator, &csv)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.delete(&path, &operator).await.status,
        StatusCode::NO_CONTENT
    );

    // … but cannot touch runbooks, PSKs or certificates.
    let rb_path = format!("/api/v1/runbooks/{}", w.runbook.id);
    let rb_body = serde_json::to_value(&w.runbook).expect("json");
    let refused = [
        t.post_json("/api/v1/runbooks", &operator, runbook.clone())
            .await,
        t.put_json(&rb_path, &operator, rb_body.clone()).await,
        t.delete(&rb_path, &operator).await,
        t.post_json("/api/v1/psks", &operator, json!({})).await,
        t.post_json("/api/v1/agent-certificates", &operator, json!({}))
            .await,
    ];
    for r in &refused {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    }
    let psks = t.get("/api/v1/psks", &admin).await.json();
    let psk_id = psks[0]["id"].as_str().expect("psk id").to_string();
    assert_eq!(
        t.delete(&format!("/api/v1/psks/{psk_id}"), &operator)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Nothing changed: the runbook list is as the admin left it.
    assert_eq!(
        names(&t.get("/api/v1/runbooks", &operator).await.json()),
        vec!["Move to Fabrikam"]
    );

    // The viewer reads everything and changes nothing.
    for read in [
        "/api/v1/batches".to_string(),
        format!("/api/v1/batches/{}", w.batch.id),
        format!("/api/v1/batches/{}/computers.csv", w.batch.id),
        "/api/v1/runbooks".to_string(),
        format!("/api/v1/computers?directory={}", w.src),
    ] {
        assert_eq!(t.get(&read, &viewer).await.status, StatusCode::OK, "{read}");
    }
    let wave1 = format!("/api/v1/batches/{}", w.batch.id);
    let wave1_body = serde_json::to_value(&w.batch).expect("json");
    for r in [
        t.post_json("/api/v1/batches", &viewer, batch("Nope")).await,
        t.put_json(&wave1, &viewer, wave1_body.clone()).await,
        t.delete(&wave1, &viewer).await,
        t.post_json("/api/v1/runbooks", &viewer, runbook.clone())
            .await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    }

    // The admin does all of it.
    assert_eq!(
        t.post_json("/api/v1/runbooks", &admin, runbook)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        t.put_json(&wave1, &admin, wave1_body).await.status,
        StatusCode::OK
    );
}
