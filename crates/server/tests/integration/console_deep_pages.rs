//! The console's tables at depth: Failed Communications filtered over every row kept (not only
//! the newest), the User Profile Report walked by key, page numbers typed deep into a table, and
//! the Agents and Failed Communications CSVs holding exactly the filtered rows.

use chrono::Duration;
use model::clock::Clock;
use model::protocol::{kinds, Ack, EventsAck, EventsUpload, ProfilesUpload, UserProfile};
use model::status::{EventLevel, Phase};
use server::auth::Role;
use server::store::communications::FailedCommunication;

use crate::agent_api::{event, world, TestAgent};
use crate::console_areas::{page, session};
use crate::support::TestApp;

/// The target of the link on `html` whose tag holds `marker`.
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

/// The texts that follow `prefix` on `html` up to the next tag, in order.
fn after(html: &str, prefix: &str) -> Vec<String> {
    html.split(prefix)
        .skip(1)
        .filter_map(|rest| rest.split(['<', '"', ',', '\n']).next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn failed_communications_are_filtered_over_every_row_and_downloaded_alike() {
    let t = TestApp::new().await;
    // 650 refused sources, the oldest of them the one looked for, far past the newest 500.
    for n in 0..650 {
        let name = if n == 0 {
            "OLD-LAPTOP".to_string()
        } else {
            format!("WS-{n:04}")
        };
        t.app
            .store
            .insert_failed_communication(&FailedCommunication {
                at: t.clock.now(),
                computer_name: Some(name),
                remote_address: Some(format!("10.0.{}.{}", n / 250, n % 250)),
                code: if n % 2 == 0 {
                    "not_imported"
                } else {
                    "bad_psk"
                }
                .to_string(),
                message: "refused".to_string(),
            })
            .await
            .expect("record");
        t.clock.advance(Duration::seconds(1));
    }
    let (viewer, _) = session(&t, &[Role::AgentViewer]).await;
    let html = page(&t, "/communications?computer=old-*", &viewer)
        .await
        .text();
    assert!(
        html.contains("OLD-LAPTOP") && html.contains("Rows 1–1 of 1"),
        "{html}"
    );
    let by_address = page(&t, "/communications?address=10.0.2.*&code=bad_psk", &viewer)
        .await
        .text();
    // 10.0.2.0 to 10.0.2.149 are sources 500 to 649; half of them bad_psk.
    assert!(by_address.contains("Rows 1–75 of 75"), "{by_address}");
    assert!(!by_address.contains("not_imported</code>"));

    // Every row once, newest first, page after page by key; then a typed page number.
    let first = page(&t, "/communications", &viewer).await.text();
    assert!(first.contains("Rows 1–100 of 650"), "{first}");
    let mut names = after(&first, "<td>WS-");
    let mut at = first;
    for _ in 0..6 {
        at = page(&t, &link_on(&at, "rel=\"next\""), &viewer)
            .await
            .text();
        names.extend(after(&at, "<td>WS-"));
    }
    assert!(at.contains("Rows 601–650 of 650") && at.contains("OLD-LAPTOP"));
    let expected: Vec<String> = (1..650).rev().map(|n| format!("{n:04}")).collect();
    assert_eq!(names, expected);
    let typed = page(&t, "/communications?page=3", &viewer).await.text();
    assert_eq!(after(&typed, "<td>WS-")[0], "0449");

    // The CSV holds exactly the filtered rows, every one of them.
    let csv = page(&t, "/communications.csv?code=not_imported", &viewer)
        .await
        .text();
    assert_eq!(csv.lines().count(), 1 + 325, "header and 325 rows");
    assert!(csv.contains("OLD-LAPTOP") && !csv.contains("bad_psk"));
    let none = page(&t, "/communications.csv?computer=nobody", &viewer)
        .await
        .text();
    assert_eq!(none.lines().count(), 1, "{none}");
}

fn profile(n: usize) -> UserProfile {
    UserProfile {
        sid: format!("S-1-5-21-7-7-7-{}", 1000 + n).parse().expect("sid"),
        path: format!(r"C:\Users\user{n:03}"),
        last_used: None,
    }
}

#[tokio::test]
async fn the_profile_report_and_the_agents_are_walked_by_key_and_found_by_the_start_of_a_name() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("pc1");
    let mut pc2 = TestAgent::new("PC2");
    pc2.register(&t, &w.psk).await.expect("pc2");
    for (agent, range) in [(&pc1, 0..150), (&pc2, 150..160)] {
        let profiles = range.map(profile).collect();
        let _: Ack = agent
            .call(&t, kinds::PROFILES, &ProfilesUpload { profiles })
            .await
            .expect("profiles");
    }
    let (viewer, _) = session(&t, &[Role::AgentViewer]).await;
    let first = page(&t, "/reports/profiles", &viewer).await.text();
    assert!(first.contains("Rows 1–100 of 160"), "{first}");
    let second = page(&t, &link_on(&first, "rel=\"next\""), &viewer)
        .await
        .text();
    assert!(second.contains("Rows 101–160 of 160"), "{second}");
    let mut folders = after(&first, r"C:\Users\user");
    folders.extend(after(&second, r"C:\Users\user"));
    // By computer, then folder: every profile once.
    let expected: Vec<String> = (0..160).map(|n| format!("{n:03}")).collect();
    assert_eq!(folders, expected);
    let back = page(&t, &link_on(&second, "rel=\"prev\""), &viewer)
        .await
        .text();
    assert_eq!(
        after(&back, r"C:\Users\user"),
        after(&first, r"C:\Users\user")
    );

    // The start of a folder's name or of a SID, with or without a wildcard after it, any case.
    let started = page(&t, "/reports/profiles?user=USER14%25", &viewer)
        .await
        .text();
    assert!(started.contains("Rows 1–10 of 10"), "{started}");
    let by_sid = page(&t, "/reports/profiles?user=s-1-5-21-7-7-7-115*", &viewer)
        .await
        .text();
    assert_eq!(
        after(&by_sid, r"C:\Users\user"),
        ["150", "151", "152", "153", "154", "155", "156", "157", "158", "159"]
    );
    let inner = page(&t, "/reports/profiles?user=*er15%25&computer=pc2", &viewer)
        .await
        .text();
    assert!(inner.contains("Rows 1–10 of 10"), "{inner}");
    let csv = page(&t, "/reports/profiles.csv?user=user00*", &viewer)
        .await
        .text();
    assert_eq!(csv.lines().count(), 1 + 10, "{csv}");

    // Agents: the CSV streams exactly the agents the filter keeps.
    let csv = page(&t, "/agents.csv?computer=pc2", &viewer).await.text();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("PC2") && !csv.contains("PC1"));
}

#[tokio::test]
async fn a_page_number_typed_deep_into_a_table_opens_that_page() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("pc1");
    pc1.check_in(&t, true, vec![]).await;
    for chunk in 0..3 {
        let events = (1..=500)
            .map(|n| {
                let seq = chunk * 500 + n;
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
    }
    let (viewer, _) = session(&t, &[Role::AgentViewer]).await;
    // Page 12 of 1,500 events, newest first: rows 1,101 to 1,200, events 400 down to 301.
    let typed = page(&t, "/logs?page=12", &viewer).await.text();
    assert!(typed.contains("Rows 1,101–1,200 of 1,500"), "{typed}");
    let expected: Vec<String> = (301..=400).rev().map(|n| n.to_string()).collect();
    assert_eq!(after(&typed, "numbered event "), expected);
    // Its next page by key follows on.
    let next = page(&t, &link_on(&typed, "rel=\"next\""), &viewer)
        .await
        .text();
    assert_eq!(after(&next, "numbered event ")[0], "300");
    // A typed page past the end is the last one.
    let past = page(&t, "/logs?page=99", &viewer).await.text();
    assert!(past.contains("Rows 1,401–1,500 of 1,500"), "{past}");
    assert_eq!(
        after(&past, "numbered event ").last().map(String::as_str),
        Some("1")
    );
}
