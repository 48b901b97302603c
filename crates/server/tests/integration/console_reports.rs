//! The console's reports paged and filtered in SQL, each CSV holding exactly the rows its
//! filters keep: the User Profile Report (`%` wildcard), Agent Details across the fleet, the
//! sync message log, the Single Object Report's search, the translation table's directory filter,
//! and a device's plan preview.

use axum::http::StatusCode;
use chrono::Duration;
use model::directory::{DirectoryKind, MatchAttribute, ObjectKind};
use model::protocol::{kinds, Ack, EventsAck, EventsUpload, ProfilesUpload, UserProfile};
use model::status::{AgentStatus, EventLevel, Phase};
use server::auth::Role;

use crate::agent_api::{event, world, TestAgent};
use crate::console_areas::{page, session};
use crate::directory::{directory, import, object};
use crate::support::TestApp;

fn profile(sid: &str, path: &str) -> UserProfile {
    UserProfile {
        sid: sid.parse().expect("sid"),
        path: path.to_string(),
        last_used: None,
    }
}

#[tokio::test]
async fn profiles_and_runs_of_the_fleet_are_filtered_and_downloaded_alike() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("pc1");
    let mut pc2 = TestAgent::new("PC2");
    pc2.register(&t, &w.psk).await.expect("pc2");
    t.clock.advance(Duration::hours(4));
    pc1.check_in(&t, true, vec![]).await;
    pc2.check_in(&t, true, vec![]).await;
    let uploads = [
        (
            &pc1,
            vec![
                profile("S-1-5-21-1-2-3-1001", r"C:\Users\alice"),
                profile("S-1-5-21-9-9-9-500", r"C:\Users\adm.local"),
            ],
        ),
        (&pc2, vec![profile("S-1-5-21-1-2-3-1002", r"C:\Users\bob")]),
    ];
    for (agent, profiles) in uploads {
        let _: Ack = agent
            .call(&t, kinds::PROFILES, &ProfilesUpload { profiles })
            .await
            .expect("profiles");
    }
    let failed = EventsUpload {
        events: vec![event(
            1,
            &t,
            w.runbook.id,
            Some(AgentStatus::Error),
            Phase::Permissions,
            EventLevel::Error,
        )],
    };
    let _: EventsAck = pc1.call(&t, kinds::EVENTS, &failed).await.expect("events");
    let (viewer, _) = session(&t, &[Role::AgentViewer]).await;

    // `%` stands for any run of characters; without it the folder's name must match whole.
    let html = page(&t, "/reports/profiles?user=al%25", &viewer)
        .await
        .text();
    assert!(
        html.contains(r"C:\Users\alice") && html.contains("Rows 1–1 of 1"),
        "{html}"
    );
    assert!(html.contains("Alice"), "the matched user's name: {html}");
    assert!(!html.contains("adm.local") && !html.contains(r"C:\Users\bob"));
    let exact = page(&t, "/reports/profiles?user=alic", &viewer)
        .await
        .text();
    assert!(exact.contains("Rows 0–0 of 0"), "{exact}");
    let by_sid = page(&t, "/reports/profiles?user=S-1-5-21-9-9-9-%25", &viewer)
        .await
        .text();
    assert!(by_sid.contains("adm.local") && by_sid.contains("Rows 1–1 of 1"));
    let all = page(&t, "/reports/profiles", &viewer).await.text();
    assert!(all.contains("Rows 1–3 of 3"), "{all}");
    let csv = page(&t, "/reports/profiles.csv?computer=PC1", &viewer)
        .await
        .text();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("adm.local") && !csv.contains("bob"));

    // Agent Details: each device's run, by status and computer.
    let errors = page(&t, "/reports/agent-details?status=Error", &viewer)
        .await
        .text();
    assert!(
        errors.contains(">PC1<") && !errors.contains(">PC2<"),
        "{errors}"
    );
    assert!(errors.contains("Rows 1–1 of 1"));
    let pc2_only = page(&t, "/reports/agent-details?computer=pc2", &viewer)
        .await
        .text();
    assert!(
        pc2_only.contains("Not Started") && !pc2_only.contains(">PC1<"),
        "{pc2_only}"
    );
    let csv = page(
        &t,
        &format!("/reports/agent-details.csv?runbook={}", w.runbook.id),
        &viewer,
    )
    .await
    .text();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("Move to Fabrikam") && csv.contains("Error"));

    // A Sync-only viewer sees neither report.
    let (sync_only, _) = session(&t, &[Role::SyncViewer]).await;
    let refused = page(&t, "/reports/profiles", &sync_only).await;
    assert!(!refused.text().contains("alice"), "{}", refused.text());
    assert_eq!(
        page(&t, "/reports/profiles.csv", &sync_only).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_message_log_and_the_object_search_download_what_they_show() {
    let t = TestApp::new().await;
    let src = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let dst = directory(
        &t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    import(
        &t,
        src,
        "contoso.test",
        vec![
            object(
                ObjectKind::User,
                "Alice",
                "alice",
                Some("S-1-5-21-1-2-3-1001"),
            ),
            object(
                ObjectKind::User,
                "Carol",
                "carol",
                Some("S-1-5-21-1-2-3-1003"),
            ),
            object(
                ObjectKind::User,
                "Carl",
                "carl",
                Some("S-1-5-21-1-2-3-1004"),
            ),
        ],
    )
    .await;
    import(
        &t,
        dst,
        "fabrikam.test",
        vec![object(
            ObjectKind::User,
            "Alice F",
            "alice",
            Some("S-1-5-21-7-8-9-5001"),
        )],
    )
    .await;
    server::directory::match_users(&t.app, src, dst, MatchAttribute::SamAccountName)
        .await
        .expect("match");
    let (viewer, _) = session(&t, &[Role::SyncViewer]).await;
    let html = page(&t, "/sync-messages", &viewer).await.text();
    assert!(html.contains("Carol") && html.contains("Carl"), "{html}");
    assert!(html.contains("Matching into FABRIKAM") && html.contains("Rows 1–2 of 2"));
    let carol = page(
        &t,
        &format!("/sync-messages?name=car*l&target={dst}"),
        &viewer,
    )
    .await
    .text();
    assert!(carol.contains("Carol") && carol.contains("Carl"), "{carol}");
    let one = page(&t, "/sync-messages?name=carol", &viewer).await.text();
    assert!(
        one.contains("Rows 1–1 of 1") && !one.contains(">Carl<"),
        "{one}"
    );
    let none = page(&t, &format!("/sync-messages?directory={dst}"), &viewer)
        .await
        .text();
    assert!(none.contains("No message matches."), "{none}");
    let csv = page(&t, "/sync-messages.csv?name=carol", &viewer)
        .await
        .text();
    assert_eq!(csv.lines().count(), 2, "{csv}");

    // The Single Object Report of Carol as one CSV: every tab, matching's message among them.
    let carol = t
        .app
        .store
        .search_objects("carol", Some(src), 1)
        .await
        .expect("search")
        .remove(0);
    let report = page(&t, &format!("/objects/{src}/{}", carol.guid), &viewer)
        .await
        .text();
    let csv_link = format!("/objects/{src}/{}/report.csv", carol.guid);
    assert!(report.contains(&csv_link), "{report}");
    let csv = page(&t, &csv_link, &viewer).await.text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "tab,item,value,detail");
    assert!(lines.contains(&"overview,Name,Carol,"), "{csv}");
    assert!(
        lines.contains(&"attributes,sam_account_name,carol,"),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("errors,match:{dst},"))),
        "{csv}"
    );
    let (agent_only, _) = session(&t, &[Role::AgentViewer]).await;
    assert_eq!(
        page(&t, &csv_link, &agent_only).await.status,
        StatusCode::FORBIDDEN
    );

    let csv = page(&t, &format!("/objects.csv?q=ca*&directory={src}"), &viewer)
        .await
        .text();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("Carol") && csv.contains("Carl") && !csv.contains("Alice"));
    assert_eq!(
        page(&t, "/objects.csv?q=*", &viewer).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The translation table: a directory filter of a directory with no row keeps none.
    let html = page(&t, &format!("/translations?directory={dst}"), &viewer)
        .await
        .text();
    assert!(
        html.contains("Rows 1–1 of 1") && html.contains("Alice F"),
        "{html}"
    );
    let other = directory(&t, "OTHER", "other.test", DirectoryKind::ActiveDirectory).await;
    let html = page(
        &t,
        &format!("/translations?directory={other}&page=3"),
        &viewer,
    )
    .await
    .text();
    assert!(html.contains("Rows 0–0 of 0"), "{html}");
}

#[tokio::test]
async fn a_devices_plan_is_previewed_in_the_console() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("pc1");
    pc1.check_in(&t, false, vec![]).await;
    let _: Ack = pc1
        .call(
            &t,
            kinds::PROFILES,
            &ProfilesUpload {
                profiles: vec![profile("S-1-5-21-1-2-3-1001", r"C:\Users\alice")],
            },
        )
        .await
        .expect("profiles");
    let (viewer, _) = session(&t, &[Role::AgentViewer]).await;
    let html = page(&t, &format!("/agents/{}/plan", pc1.id()), &viewer)
        .await
        .text();
    assert!(html.contains("Move to Fabrikam"), "{html}");
    assert!(html.contains(r"C:\Users\alice"), "{html}");
    assert!(html.contains("startup/"), "the steps: {html}");
}

/// The target of the link on `html` that holds `marker` (`rel="next"`) or reads `marker`.
fn link_on(html: &str, marker: &str) -> String {
    let at = html.find(marker).expect(marker);
    let tag = html[..at].rfind("<a ").expect("a link");
    let href = html[tag..]
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("href");
    href.replace("&amp;", "&")
}

/// The messages of Agent Logs' rows on `html`, in order.
fn messages(html: &str) -> Vec<String> {
    html.split("numbered event ")
        .skip(1)
        .filter_map(|rest| rest.split('<').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn agent_logs_are_walked_by_key_without_a_row_lost_or_shown_twice() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("pc1");
    pc1.check_in(&t, true, vec![]).await;
    let events = (1..=250)
        .map(|seq| {
            let mut e = event(
                seq,
                &t,
                w.runbook.id,
                None,
                Phase::Permissions,
                EventLevel::Info,
            );
            e.message = format!("numbered event {seq}");
            e
        })
        .collect();
    let _: EventsAck = pc1
        .call(&t, kinds::EVENTS, &EventsUpload { events })
        .await
        .expect("events");
    let (viewer, _) = session(&t, &[Role::AgentViewer]).await;
    let first = page(&t, "/logs", &viewer).await.text();
    assert!(first.contains("Rows 1–100 of 250"), "{first}");
    let mut seen = messages(&first);
    let second = page(&t, &link_on(&first, "rel=\"next\""), &viewer)
        .await
        .text();
    assert!(second.contains("Rows 101–200 of 250"), "{second}");
    seen.extend(messages(&second));
    let third = page(&t, &link_on(&second, "rel=\"next\""), &viewer)
        .await
        .text();
    assert!(third.contains("Rows 201–250 of 250"), "{third}");
    assert!(!third.contains("rel=\"next\""));
    seen.extend(messages(&third));
    // Newest first: every event once, in order.
    let expected: Vec<String> = (1..=250).rev().map(|n| n.to_string()).collect();
    assert_eq!(seen, expected);
    // Previous from the second page is the first; Last is the third; a typed page number
    // still opens its page.
    let back = page(&t, &link_on(&second, "rel=\"prev\""), &viewer)
        .await
        .text();
    assert_eq!(messages(&back), messages(&first));
    let last = page(&t, &link_on(&first, ">Last page<"), &viewer)
        .await
        .text();
    assert_eq!(messages(&last), messages(&third));
    let typed = page(&t, "/logs?page=2", &viewer).await.text();
    assert_eq!(messages(&typed), messages(&second));
    // The CSV, read a chunk at a time, has every event once.
    let csv = page(&t, "/logs.csv", &viewer).await.text();
    assert_eq!(csv.matches("numbered event").count(), 250, "{csv}");
}
