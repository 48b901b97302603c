//! Readiness end to end through the agent API, the admin API and the console: a device sends its
//! checks, a blocking one holds its runbook back at the final check-in with the check's words,
//! the batch's readiness shows it (JSON, CSV of the filtered rows, the console page), and an Agent
//! Admin's waiver, recorded with who and why, lets it start.

use axum::http::StatusCode;
use model::protocol::{kinds, Ack};
use model::readiness::{checks, CheckResult, ReadinessReport, Verdict};
use server::auth::Role;

use crate::agent_api::{now, world, TestAgent};
use crate::console::{console_cookie, csrf_of, form, page};
use crate::support::TestApp;

fn report(t: &TestApp, w: &crate::agent_api::device::World) -> ReadinessReport {
    let at = now(t);
    ReadinessReport {
        batch: w.batch.id,
        runbook: w.runbook.id,
        checks: vec![
            CheckResult::new(
                checks::OS_EDITION,
                Verdict::Pass,
                "the edition can take the runbook's join",
                "Windows 11 Enterprise",
                at,
            ),
            CheckResult::new(
                checks::FREE_SPACE,
                Verdict::Block,
                "the system volume has less free space than the run needs (2.0 GB): free some space",
                "1.0 GB free of 256.0 GB",
                at,
            ),
            CheckResult::new(
                checks::BATTERY,
                Verdict::Warn,
                "the device runs on battery: plug it in",
                "battery 37%",
                at,
            ),
        ],
    }
}

#[tokio::test]
async fn a_blocking_check_holds_the_runbook_back_until_an_agent_admin_waives_it() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");

    // New in the batch: the answer asks for the checks, until they arrive.
    let first = pc1.check_in(&t, false, vec![]).await;
    assert!(first.assignment.is_some());
    assert!(first.readiness_due);
    let ack: Ack = pc1
        .call(&t, kinds::READINESS, &report(&t, &w))
        .await
        .expect("accepted");
    assert_eq!(ack.accepted, 4, "three checks and the server's own");
    assert!(!pc1.check_in(&t, false, vec![]).await.readiness_due);

    // The final check-in holds the runbook back, in the check's words.
    let held = pc1.check_in(&t, true, vec![]).await;
    assert!(held.assignment.is_none());
    let blocked = held.blocked.expect("held back");
    assert_eq!(blocked.code, "not_ready");
    assert!(
        blocked
            .message
            .contains("less free space than the run needs"),
        "{}",
        blocked.message
    );

    // The batch's readiness: one device, blocked, the reason grouped; the server's own check.
    let viewer = t.token_with_roles(&[Role::AgentViewer]).await;
    let path = format!("/api/v1/batches/{}/readiness", w.batch.id);
    let view = t.get(&path, &viewer).await.json();
    assert_eq!(view["reported"], 1);
    assert_eq!(view["counts"]["block"], 1);
    assert_eq!(view["blocking"][0]["check"], checks::FREE_SPACE);
    assert_eq!(view["blocking"][0]["devices"], 1);
    let device = &view["devices"][0];
    assert_eq!(device["device"], "pc1");
    assert!(device["held_back"]
        .as_str()
        .expect("held back")
        .contains("1.0 GB free"));
    assert!(device["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .any(|c| c["check"] == checks::SERVER_REACHABLE && c["verdict"] == "pass"));

    // The filter and its CSV: exactly the warning row.
    let csv = t
        .get(&format!("{path}.csv?verdict=warn"), &viewer)
        .await
        .text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("battery 37%"));
    let filtered = t.get(&format!("{path}?verdict=warn"), &viewer).await.json();
    assert_eq!(
        filtered["devices"][0]["checks"].as_array().map(Vec::len),
        Some(1)
    );
    let bad = t.get(&format!("{path}?verdict=maybe"), &viewer).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Only an Agent Admin waives, with a reason, and only a blocking check.
    let waivers = format!(
        "/api/v1/agents/{}/readiness/{}/waivers",
        pc1.id(),
        w.runbook.id
    );
    let body = |check: &str, reason: &str| serde_json::json!({"check": check, "reason": reason});
    let operator = t.token_with_roles(&[Role::AgentOperator]).await;
    let refused = t
        .post_json(
            &waivers,
            &operator,
            body(checks::FREE_SPACE, "cleaned up by hand"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let admin = t.token_with_roles(&[Role::AgentAdmin]).await;
    let blank = t
        .post_json(&waivers, &admin, body(checks::FREE_SPACE, " "))
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    let warn = t
        .post_json(&waivers, &admin, body(checks::BATTERY, "fine"))
        .await;
    assert_eq!(warn.status, StatusCode::CONFLICT);
    assert!(pc1.check_in(&t, true, vec![]).await.assignment.is_none());
    let waived = t
        .post_json(
            &waivers,
            &admin,
            body(
                checks::FREE_SPACE,
                "the OneDrive move is off for this device",
            ),
        )
        .await;
    assert_eq!(waived.status, StatusCode::OK, "{}", waived.text());
    assert!(waived.json()["waived_by"]
        .as_str()
        .expect("who")
        .starts_with("user-"));

    // Recorded in the audit trail with who and why.
    let tenant = t.token_with_roles(&[Role::TenantAdmin]).await;
    let trail = t.get("/api/v1/audit", &tenant).await.text();
    assert!(trail.contains("readiness"), "{trail}");
    assert!(trail.contains("the OneDrive move is off for this device"));

    // Now it starts; the page shows the waiver.
    let go = pc1.check_in(&t, true, vec![]).await;
    assert!(go.blocked.is_none());
    assert_eq!(go.assignment.map(|a| a.runbook.id), Some(w.runbook.id));
    let view = t.get(&path, &viewer).await.json();
    assert_eq!(view["counts"]["block"], 0);
    assert_eq!(view["counts"]["warn"], 1);
    assert!(view["blocking"].as_array().expect("list").is_empty());
}

#[tokio::test]
async fn the_console_asks_a_device_again_and_a_report_outside_its_batch_is_refused() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    pc1.check_in(&t, false, vec![]).await;
    let _: Ack = pc1
        .call(&t, kinds::READINESS, &report(&t, &w))
        .await
        .expect("accepted");

    // A runbook the batch does not assign, or one check sent twice: refused, nothing stored.
    let mut other = report(&t, &w);
    other.runbook = model::ids::RunbookId::new();
    let refused = pc1.call::<_, Ack>(&t, kinds::READINESS, &other).await;
    assert_eq!(
        refused.err().map(|e| e.0),
        Some(StatusCode::UNPROCESSABLE_ENTITY)
    );
    let mut twice = report(&t, &w);
    twice.checks.push(twice.checks[0].clone());
    assert!(pc1
        .call::<_, Ack>(&t, kinds::READINESS, &twice)
        .await
        .is_err());

    // The batch page for a viewer: counts, the reason, no forms.
    let viewer = console_cookie(&t, &[Role::AgentViewer]).await;
    let readiness = format!("/batches/{}/readiness", w.batch.id);
    let html = page(&t, &readiness, &viewer).await.text();
    assert!(
        html.contains("less free space than the run needs"),
        "{html}"
    );
    assert!(!html.contains(">Waive</button>"));
    assert!(!html.contains(">Check again</button>"));
    let batch_page = page(&t, &format!("/batches/{}", w.batch.id), &viewer)
        .await
        .text();
    assert!(batch_page.contains(&readiness));

    // An operator asks the device again: its next check-in answer asks for the checks.
    assert!(!pc1.check_in(&t, false, vec![]).await.readiness_due);
    let operator = console_cookie(&t, &[Role::AgentOperator]).await;
    let html = page(&t, &readiness, &operator).await.text();
    assert!(html.contains(">Check again</button>") && !html.contains(">Waive</button>"));
    let asked = form(
        &t,
        &format!("/agents/{}/readiness/request", pc1.id()),
        Some(&operator),
        &[("csrf", &csrf_of(&html)), ("back", &readiness)],
    )
    .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.text());
    assert!(pc1.check_in(&t, false, vec![]).await.readiness_due);

    // An Agent Admin waives from the page; the agent's own page shows who and why.
    let admin = console_cookie(&t, &[Role::AgentAdmin]).await;
    let html = page(&t, &readiness, &admin).await.text();
    assert!(html.contains(">Waive</button>"));
    let waived = form(
        &t,
        &format!("/agents/{}/readiness/{}/waive", pc1.id(), w.runbook.id),
        Some(&admin),
        &[
            ("csrf", &csrf_of(&html)),
            ("check", checks::FREE_SPACE),
            ("reason", "disk replaced on site"),
            ("back", &readiness),
        ],
    )
    .await;
    assert_eq!(waived.status, StatusCode::SEE_OTHER, "{}", waived.text());
    let agent_page = page(&t, &format!("/agents/{}/readiness", pc1.id()), &viewer)
        .await
        .text();
    assert!(agent_page.contains("disk replaced on site"), "{agent_page}");
    assert!(pc1.check_in(&t, true, vec![]).await.assignment.is_some());
}
