//! Broad filters over more rows than a count goes to: the count stops and says so, the pages
//! still walk every row in order by key, the CSV still holds every row; narrow filters of the
//! same tables keep exactly their rows.

use model::clock::Clock;
use model::directory::{DirectoryKind, MatchAttribute, ObjectKind};
use model::protocol::UserProfile;
use server::auth::Role;

use crate::agent_api::{world, TestAgent};
use crate::console_areas::{page, session};
use crate::directory::{directory, import, object};
use crate::support::TestApp;

/// Past the count's cap.
const MANY: usize = 10_050;

/// The target of the link on `html` whose tag holds `marker`.
fn link_on(html: &str, marker: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag = html[..at].rfind("<a ")?;
    let href = html[tag..].split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&"))
}

/// The texts that follow `prefix` on `html` up to the next tag or quote, in order.
fn after(html: &str, prefix: &str) -> Vec<String> {
    html.split(prefix)
        .skip(1)
        .filter_map(|rest| rest.split(['<', '"']).next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_search_every_translation_matches_is_capped_walked_by_key_and_exported_whole() {
    let t = TestApp::new().await;
    let src = directory(&t, "SRC", "src.test", DirectoryKind::ActiveDirectory).await;
    let dst = directory(&t, "DST", "dst.test", DirectoryKind::ActiveDirectory).await;
    // MANY users on each side, matched by sAMAccountName; three of them Ada's.
    let name = |n: usize| {
        if n % 4000 == 7 {
            format!("Ada {n:05}")
        } else {
            format!("User {n:05}")
        }
    };
    let users = |sub: &str| {
        (0..MANY)
            .map(|n| {
                object(
                    ObjectKind::User,
                    &name(n),
                    &format!("u{n:05}"),
                    Some(&format!("S-1-5-21-{sub}-{}", 1000 + n)),
                )
            })
            .collect()
    };
    import(&t, src, "src.test", users("1-2-3")).await;
    import(&t, dst, "dst.test", users("4-5-6")).await;
    server::directory::match_users(&t.app, src, dst, MatchAttribute::SamAccountName)
        .await
        .expect("match");
    let (viewer, _) = session(&t, &[Role::SyncViewer]).await;

    // Every SID starts so: the count stops and says so.
    let first = page(&t, "/translations?search=S-1-5-21", &viewer)
        .await
        .text();
    assert!(
        first.contains("Rows 1–100 of more than 10,000") && first.contains("refine the filter"),
        "{first}"
    );
    // The table's order: by source name, the Ada's first; each row shows its source SID once.
    let order: Vec<String> = (0..MANY)
        .filter(|n| n % 4000 == 7)
        .chain((0..MANY).filter(|n| n % 4000 != 7))
        .map(|n| (1000 + n).to_string())
        .collect();
    let source_sids = |html: &str| after(html, "<code>S-1-5-21-1-2-3-");
    let mut walked = source_sids(&first);
    // Next goes on by key past the counted rows, in order, none twice.
    let mut at = first;
    for _ in 0..3 {
        let next = link_on(&at, "rel=\"next\"").expect("a next page");
        at = page(&t, &next, &viewer).await.text();
        walked.extend(source_sids(&at));
    }
    assert_eq!(walked, order[..400]);
    assert!(at.contains("Rows 301–400 of more than 10,000"), "{at}");
    // The last page: the last rows, and nothing after them; the page before it.
    let last = page(
        &t,
        &link_on(&at, ">Last page<").expect("a last page"),
        &viewer,
    )
    .await
    .text();
    assert_eq!(source_sids(&last), order[MANY - 100..]);
    assert!(link_on(&last, "rel=\"next\"").is_none());
    let back = page(
        &t,
        &link_on(&last, "rel=\"prev\"").expect("a previous page"),
        &viewer,
    )
    .await
    .text();
    assert_eq!(source_sids(&back), order[MANY - 200..MANY - 100]);
    // A page number typed past the count reads no deeper than it.
    let typed = page(&t, "/translations?search=S-1-5-21&page=5000", &viewer)
        .await
        .text();
    assert!(
        typed.contains("Rows 9,901–10,000 of more than 10,000"),
        "{typed}"
    );

    // The CSV holds every row the search keeps, past the cap.
    let csv = page(&t, "/translations.csv?search=S-1-5-21", &viewer)
        .await
        .text();
    assert_eq!(csv.lines().count(), 1 + MANY);
    // A directory the rows are not in keeps none of them, broad or not.
    let other = directory(&t, "OTHER", "other.test", DirectoryKind::ActiveDirectory).await;
    let none = page(
        &t,
        &format!("/translations?search=S-1-5-21&directory={other}"),
        &viewer,
    )
    .await
    .text();
    assert!(none.contains("Rows 0–0 of 0"), "{none}");

    // A narrow search counts exactly: the start of a name, of a target SID, with a wildcard.
    let ada = page(&t, "/translations?search=ada", &viewer).await.text();
    assert!(ada.contains("Rows 1–3 of 3"), "{ada}");
    assert_eq!(after(&ada, "\">Ada ").len(), 6, "source and target names");
    let sid = page(&t, "/translations?search=S-1-5-21-4-5-6-1007", &viewer)
        .await
        .text();
    // 1007 and 10070 to 10079: users 7 and 9070 to 9079, by their target SIDs.
    assert!(sid.contains("Rows 1–11 of 11"), "{sid}");
    let wild = page(&t, "/translations?search=ada*4007", &viewer)
        .await
        .text();
    assert!(
        wild.contains("Rows 1–1 of 1") && wild.contains(">Ada 04007<"),
        "{wild}"
    );
    assert!(!wild.contains("more than"));
}

#[tokio::test]
async fn a_user_start_most_profiles_share_is_capped_and_a_rare_one_exact() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc = TestAgent::new("PC1");
    pc.register(&t, &w.psk).await.expect("register");
    let mut other = TestAgent::new("PC2");
    other.register(&t, &w.psk).await.expect("register");
    let profiles: Vec<UserProfile> = (0..MANY)
        .map(|n| UserProfile {
            sid: format!("S-1-5-21-7-7-7-{}", 1000 + n).parse().expect("sid"),
            path: format!(r"C:\Users\user{n:05}"),
            last_used: None,
        })
        .collect();
    let now = t.clock.now();
    t.app
        .store
        .replace_profiles(pc.id(), &profiles, now)
        .await
        .expect("profiles");
    let admin = UserProfile {
        sid: "S-1-5-21-9-9-9-500".parse().expect("sid"),
        path: r"C:\Users\Administrator".to_string(),
        last_used: None,
    };
    t.app
        .store
        .replace_profiles(other.id(), &[admin], now)
        .await
        .expect("profiles");
    let (viewer, _) = session(&t, &[Role::AgentViewer]).await;

    let broad = page(&t, "/reports/profiles?user=S-1-5-21-7%25", &viewer)
        .await
        .text();
    assert!(
        broad.contains("Rows 1–100 of more than 10,000") && broad.contains("refine the filter"),
        "{broad}"
    );
    let folders = after(&broad, r"C:\Users\user");
    let expected: Vec<String> = (0..100).map(|n| format!("{n:05}")).collect();
    assert_eq!(folders, expected);
    let next = page(
        &t,
        &link_on(&broad, "rel=\"next\"").expect("a next page"),
        &viewer,
    )
    .await
    .text();
    assert_eq!(after(&next, r"C:\Users\user")[0], "00100");
    // The CSV holds every profile the filter keeps.
    let csv = page(&t, "/reports/profiles.csv?user=S-1-5-21-7%25", &viewer)
        .await
        .text();
    assert_eq!(csv.lines().count(), 1 + MANY);

    // Narrow: a rare folder start, and a wildcard inside a name.
    let rare = page(&t, "/reports/profiles?user=user0001%25", &viewer)
        .await
        .text();
    assert!(rare.contains("Rows 1–10 of 10"), "{rare}");
    let inside = page(&t, "/reports/profiles?user=%25min%25", &viewer)
        .await
        .text();
    assert!(
        inside.contains("Rows 1–1 of 1") && inside.contains("Administrator"),
        "{inside}"
    );
}
