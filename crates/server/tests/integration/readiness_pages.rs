//! A batch's readiness in pages, and the devices that have not reported: asked devices are listed
//! and counted until their checks arrive, their final check-in is held back until then (and
//! again once the checks are older than the runbook allows), and a batch larger than one page is
//! counted, grouped and paged in the store, its CSV holding every filtered row.

use chrono::Duration;
use model::ids::{AgentId, RunbookId};
use model::protocol::{kinds, Ack};
use model::readiness::{checks, CheckResult, ReadinessReport, Verdict};
use server::auth::Role;

use crate::agent_api::{now, world, TestAgent};
use crate::console::{console_cookie, page};
use crate::support::TestApp;

fn passing(t: &TestApp, w: &crate::agent_api::device::World) -> ReadinessReport {
    ReadinessReport {
        batch: w.batch.id,
        runbook: w.runbook.id,
        checks: vec![CheckResult::new(
            checks::OS_EDITION,
            Verdict::Pass,
            "the edition can take the runbook's join",
            "Windows 11 Enterprise",
            now(t),
        )],
    }
}

#[tokio::test]
async fn a_device_that_never_reported_is_listed_counted_and_held_until_its_checks_arrive() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let asked_at = now(&t);
    assert!(pc1.check_in_raw(&t, false, vec![]).await.readiness_due);
    t.clock.advance(Duration::hours(5));

    // The batch lists it as not reported, with when it was asked, and counts it.
    let viewer = t.token_with_roles(&[Role::AgentViewer]).await;
    let path = format!("/api/v1/batches/{}/readiness", w.batch.id);
    let view = t.get(&path, &viewer).await.json();
    assert_eq!(view["reported"], 0);
    assert_eq!(view["not_reported"], 1);
    let device = &view["devices"][0];
    assert_eq!(device["device"], "pc1");
    assert_eq!(device["verdict"], "not_reported");
    assert_eq!(
        device["asked_at"]
            .as_str()
            .map(|s| s.parse::<chrono::DateTime<chrono::Utc>>()),
        Some(Ok(asked_at))
    );
    assert!(device["held_back"]
        .as_str()
        .expect("held back")
        .contains("has not sent its readiness checks"));
    let only = t
        .get(&format!("{path}?verdict=not_reported"), &viewer)
        .await
        .json();
    assert_eq!(only["matching"], 1);
    let blocked_only = t
        .get(&format!("{path}?verdict=block"), &viewer)
        .await
        .json();
    assert_eq!(blocked_only["matching"], 0);
    let csv = t.get(&format!("{path}.csv"), &viewer).await.text();
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|l| l.contains("not_reported")),
        "{csv}"
    );
    let cookie = console_cookie(&t, &[Role::AgentViewer]).await;
    let html = page(&t, &format!("/batches/{}/readiness", w.batch.id), &cookie)
        .await
        .text();
    assert!(html.contains("Not reported; asked"), "{html}");

    // Its final check-in is held back, in words, until the checks arrive.
    let held = pc1.check_in_raw(&t, true, vec![]).await;
    assert!(held.assignment.is_none());
    let blocked = held.blocked.expect("held back");
    assert_eq!(blocked.code, "readiness_not_reported");
    assert!(blocked
        .message
        .contains("has not sent its readiness checks"));
    let _: Ack = pc1
        .call(&t, kinds::READINESS, &passing(&t, &w))
        .await
        .expect("accepted");
    let go = pc1.check_in_raw(&t, true, vec![]).await;
    assert!(go.blocked.is_none(), "{:?}", go.blocked);
    assert_eq!(go.assignment.map(|a| a.runbook.id), Some(w.runbook.id));
    let view = t.get(&path, &viewer).await.json();
    assert_eq!(
        (view["reported"].clone(), view["not_reported"].clone()),
        (1.into(), 0.into())
    );
}

#[tokio::test]
async fn checks_older_than_the_runbook_allows_hold_the_start_until_they_are_taken_again() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    pc1.check_in_raw(&t, false, vec![]).await;
    let _: Ack = pc1
        .call(&t, kinds::READINESS, &passing(&t, &w))
        .await
        .expect("accepted");

    // The runbook allows 72 hours unless it says otherwise.
    t.clock.advance(Duration::hours(71));
    assert!(pc1.check_in_raw(&t, true, vec![]).await.blocked.is_none());
    t.clock.advance(Duration::hours(2));
    let held = pc1.check_in_raw(&t, true, vec![]).await;
    let blocked = held.blocked.expect("held back");
    assert_eq!(blocked.code, "readiness_stale");
    assert!(
        blocked.message.contains("73 hours old") && blocked.message.contains("at most 72"),
        "{}",
        blocked.message
    );
    let _: Ack = pc1
        .call(&t, kinds::READINESS, &passing(&t, &w))
        .await
        .expect("accepted");
    assert!(pc1.check_in_raw(&t, true, vec![]).await.blocked.is_none());

    // A runbook that allows 200 hours lets the same checks start 100 hours later.
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let mut runbook = serde_json::to_value(&w.runbook).expect("json");
    runbook["startup"]["readiness_max_age_hours"] = 200.into();
    let saved = t
        .put_json(
            &format!("/api/v1/runbooks/{}", w.runbook.id),
            &admin,
            runbook.clone(),
        )
        .await;
    assert_eq!(saved.status, axum::http::StatusCode::OK, "{}", saved.text());
    t.clock.advance(Duration::hours(100));
    assert!(pc1.check_in_raw(&t, true, vec![]).await.blocked.is_none());
    runbook["startup"]["readiness_max_age_hours"] = 0.into();
    let refused = t
        .put_json(
            &format!("/api/v1/runbooks/{}", w.runbook.id),
            &admin,
            runbook,
        )
        .await;
    assert!(
        refused.text().contains("startup.readiness_max_age_hours"),
        "{}",
        refused.text()
    );
}

/// `n` devices of the batch without agents, each with `checks` for the batch's runbook.
async fn seed(
    t: &TestApp,
    w: &crate::agent_api::device::World,
    n: usize,
    checks: impl Fn(usize) -> Option<Vec<CheckResult>>,
) {
    for i in 0..n {
        let agent = AgentId::new();
        t.app
            .store
            .record_readiness_asked(agent, w.batch.id, w.runbook.id, now(t))
            .await
            .expect("asked");
        if let Some(checks) = checks(i) {
            t.app
                .store
                .replace_readiness(agent, w.batch.id, w.runbook.id, &checks, now(t))
                .await
                .expect("stored");
        }
    }
}

#[tokio::test]
async fn a_batch_larger_than_a_page_is_counted_grouped_and_paged_and_its_csv_holds_every_row() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let at = now(&t);
    // 150 devices: 100 pass, 30 without enough space, 12 Home, 8 not reported.
    seed(&t, &w, 150, |i| {
        let mut checks = vec![CheckResult::new(
            checks::BATTERY,
            Verdict::Pass,
            "on mains power",
            "AC",
            at,
        )];
        match i {
            0..=99 => {}
            100..=129 => checks.push(CheckResult::new(
                checks::FREE_SPACE,
                Verdict::Block,
                "too little free space",
                "1.0 GB free",
                at,
            )),
            130..=141 => checks.push(CheckResult::new(
                checks::OS_EDITION,
                Verdict::Block,
                "Home cannot join",
                "Windows 11 Home",
                at,
            )),
            _ => return None,
        }
        Some(checks)
    })
    .await;

    let viewer = t.token_with_roles(&[Role::AgentViewer]).await;
    let path = format!("/api/v1/batches/{}/readiness", w.batch.id);
    let view = t.get(&path, &viewer).await.json();
    assert_eq!(view["reported"], 142);
    assert_eq!(view["not_reported"], 8);
    assert_eq!(view["counts"]["pass"], 100);
    assert_eq!(view["counts"]["block"], 42);
    assert_eq!(view["blocking"][0]["check"], checks::FREE_SPACE);
    assert_eq!(view["blocking"][0]["devices"], 30);
    assert_eq!(view["blocking"][1]["check"], checks::OS_EDITION);
    assert_eq!(view["blocking"][1]["devices"], 12);
    assert_eq!(view["matching"], 150);
    assert_eq!(view["devices"].as_array().map(Vec::len), Some(100));
    let second = t.get(&format!("{path}?page=2"), &viewer).await.json();
    assert_eq!(second["page"], 2);
    assert_eq!(second["devices"].as_array().map(Vec::len), Some(50));
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["devices"]
            .as_array()
            .expect("devices")
            .iter()
            .map(|d| d["device"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (first, rest) = (names(&view), names(&second));
    assert!(first.iter().all(|n| !rest.contains(n)), "pages overlap");
    assert!(first.windows(2).all(|p| p[0] <= p[1]), "by name");

    // Filtered: only the blocking rows, every device on one page and every row in CSV.
    let blocked = t
        .get(&format!("{path}?verdict=block"), &viewer)
        .await
        .json();
    assert_eq!(blocked["matching"], 42);
    assert!(blocked["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .all(|d| d["checks"].as_array().map(Vec::len) == Some(1)));
    let home = t
        .get(&format!("{path}?check=os.&verdict=block"), &viewer)
        .await
        .json();
    assert_eq!(home["matching"], 12);
    let csv = t
        .get(&format!("{path}.csv?verdict=block"), &viewer)
        .await
        .text();
    assert_eq!(csv.lines().count(), 43, "{csv}");
    let all = t.get(&format!("{path}.csv"), &viewer).await.text();
    assert_eq!(all.lines().count(), 1 + 100 + 42 * 2 + 8);

    // A waiver moves a device from block to warn in the counts and out of the reasons.
    let home_device: AgentId = home["devices"][0]["agent"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("agent id");
    let runbook: RunbookId = w.runbook.id;
    t.app
        .store
        .insert_waiver(
            home_device,
            runbook,
            &server::store::readiness::Waiver {
                check: checks::OS_EDITION.to_string(),
                waived_by: "admin".into(),
                reason: "upgraded to Pro on site".into(),
                waived_at: at,
            },
        )
        .await
        .expect("waived");
    let view = t.get(&path, &viewer).await.json();
    assert_eq!(view["counts"]["block"], 41);
    assert_eq!(view["counts"]["warn"], 1);
    assert_eq!(view["blocking"][1]["devices"], 11);
}

#[tokio::test]
async fn a_deleted_agent_takes_its_readiness_with_it() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    assert!(pc1.check_in_raw(&t, false, vec![]).await.readiness_due);
    let report = passing(&t, &w);
    t.app
        .store
        .replace_readiness(pc1.id(), w.batch.id, w.runbook.id, &report.checks, now(&t))
        .await
        .expect("stored");
    t.app
        .store
        .insert_waiver(
            pc1.id(),
            w.runbook.id,
            &server::store::readiness::Waiver {
                check: checks::OS_EDITION.to_string(),
                waived_by: "admin".into(),
                reason: "checked on site".into(),
                waived_at: now(&t),
            },
        )
        .await
        .expect("waived");
    t.app
        .store
        .request_readiness(pc1.id(), now(&t))
        .await
        .expect("requested");
    let viewer = t.token_with_roles(&[Role::AgentViewer]).await;
    let path = format!("/api/v1/batches/{}/readiness", w.batch.id);
    assert_eq!(t.get(&path, &viewer).await.json()["reported"], 1);

    server::migration::removal::delete_agent(&t.app, pc1.id())
        .await
        .expect("deleted");

    // The batch no longer lists or counts the device, and nothing of its readiness is left.
    let view = t.get(&path, &viewer).await.json();
    assert_eq!(view["reported"], 0, "{view}");
    assert_eq!(view["not_reported"], 0, "{view}");
    assert_eq!(view["devices"].as_array().map(Vec::len), Some(0), "{view}");
    let store = &t.app.store;
    assert!(store
        .readiness_state(pc1.id(), w.runbook.id)
        .await
        .expect("state")
        .is_none());
    assert!(store
        .readiness_of_agent(pc1.id())
        .await
        .expect("checks")
        .is_empty());
    assert!(store
        .waivers_of_agent(pc1.id())
        .await
        .expect("waivers")
        .is_empty());
}
