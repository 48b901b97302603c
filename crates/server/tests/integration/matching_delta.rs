//! Matching after small imports re-matches only what they touched, and leaves the translation
//! table and the matching messages exactly as a full match would, on the backend under test.

use model::clock::Clock;
use model::directory::{DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::directory::profile::{Expr, MatchProfile, MatchRule};

use crate::directory::{directory, import};
use crate::support::TestApp;

/// Few distinct names, so keys collide: conflicts, several candidates, shared candidates.
fn random_object(rng: &mut StdRng, domain: u32, rid: &mut u32) -> DirectoryObject {
    *rid += 1;
    let kind = if rng.gen_range(0..8) == 0 {
        ObjectKind::Group
    } else {
        ObjectKind::User
    };
    let sam = format!("person{}", rng.gen_range(0..30));
    let mut o = DirectoryObject::new(ObjectGuid::new(), kind, format!("Person {}", *rid));
    if rng.gen_range(0..10) > 0 {
        o.sid = Some(secdesc::Sid::new(5, &[21, domain, domain, domain, *rid]).expect("valid SID"));
    }
    if rng.gen_range(0..5) > 0 {
        o.upn = Some(format!("{}.{}@example.test", sam, rng.gen_range(0..2)));
    }
    if rng.gen_range(0..6) > 0 {
        o.sam_account_name = Some(sam);
    }
    // A target may carry the SID of an earlier source object in its history.
    if domain == 2 && *rid > 1001 && rng.gen_range(0..5) == 0 {
        let old = rng.gen_range(1001..*rid);
        o.sid_history = vec![secdesc::Sid::new(5, &[21, 1, 1, 1, old]).expect("valid SID")];
    }
    o
}

/// Adds, renames (some onto another object's name), and removes a few of `objects`.
fn change(rng: &mut StdRng, objects: &mut Vec<DirectoryObject>, domain: u32, rid: &mut u32) {
    for _ in 0..rng.gen_range(1..6) {
        match rng.gen_range(0..4) {
            0 => objects.push(random_object(rng, domain, rid)),
            1 if !objects.is_empty() => {
                let i = rng.gen_range(0..objects.len());
                objects.swap_remove(i);
            }
            _ if !objects.is_empty() => {
                let i = rng.gen_range(0..objects.len());
                let o = &mut objects[i];
                match rng.gen_range(0..3) {
                    0 => o.sam_account_name = Some(format!("person{}", rng.gen_range(0..30))),
                    1 => o.name = format!("Renamed {}", rng.gen_range(0..1000)),
                    _ => o.upn = None,
                }
            }
            _ => {}
        }
    }
}

async fn table(
    t: &TestApp,
    source: DirectoryId,
    target: DirectoryId,
) -> (
    Vec<(model::directory::TranslationEntry, String)>,
    Vec<server::store::translations::ObjectMessage>,
) {
    let mut rows = t
        .app
        .store
        .pair_translations(source, target)
        .await
        .expect("rows");
    rows.sort_by_key(|(e, _)| e.source.guid);
    let mut messages = t
        .app
        .store
        .stage_messages(source, &server::directory::matching::stage(target))
        .await
        .expect("messages");
    messages.sort_by_key(|m| m.guid);
    (rows, messages)
}

#[tokio::test]
async fn matching_after_random_deltas_equals_a_full_match() {
    let t = TestApp::new().await;
    let (sd, td) = ("source.test", "target.test");
    let src = directory(&t, "SOURCE", sd, DirectoryKind::ActiveDirectory).await;
    let dst = directory(&t, "TARGET", td, DirectoryKind::ActiveDirectory).await;
    let expr = |text: &str| Expr::parse(text).expect("expression");
    let profile = MatchProfile {
        name: "sam then upn".into(),
        rules: vec![
            MatchRule::new(expr("sAMAccountName"), expr("sAMAccountName")),
            MatchRule::new(
                expr("localpart(userPrincipalName)"),
                expr("localpart(userPrincipalName)"),
            ),
        ],
        sid_history: true,
    };
    let mut rng = StdRng::seed_from_u64(42);
    let (mut source_rid, mut target_rid) = (1000, 1000);
    let mut sources: Vec<DirectoryObject> = (0..80)
        .map(|_| random_object(&mut rng, 1, &mut source_rid))
        .collect();
    let mut targets: Vec<DirectoryObject> = (0..80)
        .map(|_| random_object(&mut rng, 2, &mut target_rid))
        .collect();
    import(&t, src, sd, sources.clone()).await;
    import(&t, dst, td, targets.clone()).await;
    server::directory::match_pair(&t.app, src, dst, Some(profile))
        .await
        .expect("first match");
    for round in 0..10 {
        change(&mut rng, &mut sources, 1, &mut source_rid);
        import(&t, src, sd, sources.clone()).await;
        if round % 2 == 0 {
            change(&mut rng, &mut targets, 2, &mut target_rid);
            import(&t, dst, td, targets.clone()).await;
        }
        let summary = server::directory::match_pair(&t.app, src, dst, None)
            .await
            .expect("match");
        // A full run over the same directories would change no row.
        let what = server::directory::what_if(&t.app, src, dst, None)
            .await
            .expect("what if");
        assert_eq!(
            (what.added, what.changed, what.removed),
            (0, 0, 0),
            "round {round}: {:?}",
            what.examples
        );
        assert_eq!(
            (
                what.summary.matched,
                what.summary.unmatched,
                what.summary.ambiguous
            ),
            (summary.matched, summary.unmatched, summary.ambiguous),
            "round {round}"
        );
    }
    let before = table(&t, src, dst).await;
    assert!(!before.0.is_empty() && !before.1.is_empty());
    // Another server over the same store reads both directories afresh and matches in full.
    let fresh = server::App::new(
        t.app.store.clone(),
        std::sync::Arc::new(t.clock.clone()),
        server::Settings::default(),
    );
    let full = server::directory::match_pair(&fresh, src, dst, None)
        .await
        .expect("full match");
    assert_eq!(full.rows_changed, 0);
    assert_eq!(table(&t, src, dst).await, before);
}

/// A user of `domain` (`n` a number apart between source and target) called `name`.
fn user(domain_number: u32, domain: &str, n: u32, name: &str) -> DirectoryObject {
    let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, name.to_string());
    o.sid = Some(
        secdesc::Sid::new(
            5,
            &[21, domain_number, domain_number, domain_number, 1000 + n],
        )
        .expect("valid SID"),
    );
    o.sam_account_name = Some(format!("user{n}"));
    o.upn = Some(format!("user{n}@{domain}"));
    o
}

/// The GUIDs of the sources of the pair's rows a console search for `text` (no `*`) finds: a
/// name or UPN starting with it, ignoring case, or a SID starting with it.
async fn expected_translations(
    t: &TestApp,
    source: DirectoryId,
    target: DirectoryId,
    text: &str,
) -> Vec<ObjectGuid> {
    let lower = text.to_ascii_lowercase();
    let starts = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|v| v.to_ascii_lowercase().starts_with(&lower))
    };
    let mut found: Vec<ObjectGuid> = t
        .app
        .store
        .pair_translations(source, target)
        .await
        .expect("rows")
        .into_iter()
        .map(|(e, _)| e)
        .filter(|e| {
            [&e.source, &e.target].iter().any(|side| {
                starts(&Some(side.name.clone()))
                    || starts(&side.upn)
                    || side.sid.to_string().starts_with(&text.to_uppercase())
            })
        })
        .map(|e| e.source.guid)
        .collect();
    found.sort();
    found
}

/// What the console's translation search for `text` finds, as source GUIDs.
async fn searched_translations(t: &TestApp, text: &str) -> Vec<ObjectGuid> {
    let filter = server::store::translation_pages::TranslationFilter {
        search: Some(text.to_string()),
        directory: None,
    };
    let mut found: Vec<ObjectGuid> = t
        .app
        .store
        .translation_page(&filter, 0, 10_000)
        .await
        .expect("search")
        .into_iter()
        .map(|e| e.source.guid)
        .collect();
    found.sort();
    found
}

/// What the Single Object Report's search for `text*` finds, and which objects of `objects`
/// have a name, UPN or sAMAccountName starting with `text`, as GUIDs.
async fn object_search(
    t: &TestApp,
    objects: &[&DirectoryObject],
    text: &str,
) -> (Vec<ObjectGuid>, Vec<ObjectGuid>) {
    let mut found: Vec<ObjectGuid> =
        server::directory::report::search(&t.app, &format!("{text}*"), None)
            .await
            .expect("object search")
            .into_iter()
            .map(|h| h.guid)
            .collect();
    found.sort();
    let starts = |v: Option<&str>| v.is_some_and(|v| v.to_ascii_lowercase().starts_with(text));
    let mut expected: Vec<ObjectGuid> = objects
        .iter()
        .filter(|o| {
            starts(Some(&o.name))
                || starts(o.upn.as_deref())
                || starts(o.sam_account_name.as_deref())
        })
        .map(|o| o.guid)
        .collect();
    expected.sort();
    (found, expected)
}

/// The console's search indexes present on the translation and object tables.
async fn console_indexes(t: &TestApp) -> i64 {
    let sql = match t.app.store.backend() {
        server::store::Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND (name LIKE '%\\_lower' \
             ESCAPE '\\' OR name = 'translations_target_sid') AND tbl_name IN \
             ('translations', 'directory_objects')"
        }
        server::store::Backend::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes WHERE (indexname LIKE '%\\_lower' \
             OR indexname = 'translations_target_sid') AND tablename IN \
             ('translations', 'directory_objects')"
        }
    };
    sqlx::query_scalar(sql)
        .fetch_one(t.app.store.pool())
        .await
        .expect("indexes")
}

/// After large writes (the first import and match, a rename of every source) and small ones, the
/// console's search indexes are all there and its searches find exactly the rows and objects
/// they should.
#[tokio::test]
async fn console_searches_find_the_same_rows_after_large_and_small_writes() {
    let t = TestApp::new().await;
    let indexes = console_indexes(&t).await;
    assert!(indexes >= 9, "{indexes} console indexes at start");
    let (src, dst, mut sources, targets) = users_imported(&t, 0..300, 0..300).await;
    let sd = "source.test";
    matched_by_sam(&t, src, dst).await;
    let check = |sources: Vec<DirectoryObject>, searches: &'static [&'static str]| {
        let (t, targets) = (&t, &targets);
        async move {
            assert_eq!(console_indexes(t).await, indexes);
            for text in searches {
                let expected = expected_translations(t, src, dst, text).await;
                assert!(!expected.is_empty(), "{text} finds nothing");
                assert_eq!(searched_translations(t, text).await, expected, "{text}");
            }
            let objects: Vec<&DirectoryObject> = sources.iter().chain(targets).collect();
            for text in ["user12", "source user 2", "target user 29", "renamed 1"] {
                let (found, expected) = object_search(t, &objects, text).await;
                assert_eq!(found, expected, "{text}");
            }
        }
    };
    check(
        sources.clone(),
        &[
            "source user 1",
            "TARGET USER 25",
            "user7",
            "S-1-5-21-2-2-2-105",
        ],
    )
    .await;

    // A few renamed, removed and added.
    for o in sources.iter_mut().take(5) {
        o.name = format!("Renamed {}", o.name);
    }
    sources.retain(|o| o.sam_account_name.as_deref() != Some("user250"));
    sources.retain(|o| o.sam_account_name.as_deref() != Some("user251"));
    sources.push(user(1, sd, 299, "Renamed newcomer"));
    sources.pop();
    sources.push(user(1, sd, 250, "Renamed returner"));
    import(&t, src, sd, sources.clone()).await;
    server::directory::match_pair(&t.app, src, dst, None)
        .await
        .expect("small match");
    check(
        sources.clone(),
        &["renamed", "source user 25", "user25", "S-1-5-21-1-1-1-125"],
    )
    .await;
    assert!(
        searched_translations(&t, "renamed source user 0")
            .await
            .len()
            == 1
    );

    // Every source renamed.
    for o in &mut sources {
        o.name = format!("Renamed {}", o.name);
    }
    import(&t, src, sd, sources.clone()).await;
    server::directory::match_pair(&t.app, src, dst, None)
        .await
        .expect("large match");
    check(
        sources.clone(),
        &["renamed source user 1", "renamed renamed returner", "user2"],
    )
    .await;
    assert!(searched_translations(&t, "source user").await.is_empty());
}

/// An import and a match run commit before what they wrote is copied from SQLite's write-ahead
/// log into the database file, which a thread of its own does afterwards: a server started again
/// on the same store at once finds every row, message and search result they wrote, and so does
/// one started after the copy.
#[tokio::test]
async fn a_store_opened_again_at_once_finds_what_imports_and_matches_wrote() {
    let t = TestApp::new().await;
    // Ten sources without a target: ten messages.
    let (src, dst, mut sources, _) = users_imported(&t, 0..200, 10..200).await;
    let sd = "source.test";
    let attribute = model::directory::MatchAttribute::SamAccountName;
    server::directory::match_users(&t.app, src, dst, attribute)
        .await
        .expect("first match");
    // A delta: renamed, removed, added.
    for o in sources.iter_mut().skip(20).take(5) {
        o.name = format!("Renamed {}", o.name);
    }
    sources.retain(|o| o.sam_account_name.as_deref() != Some("user30"));
    sources.push(user(1, sd, 500, "Newcomer"));
    import(&t, src, sd, sources.clone()).await;
    server::directory::match_users(&t.app, src, dst, attribute)
        .await
        .expect("delta match");
    let (rows, messages) = table(&t, src, dst).await;
    assert_eq!((rows.len(), messages.len()), (189, 11));
    let renamed = searched_translations(&t, "renamed source user 2").await;
    assert_eq!(renamed.len(), 5);

    for settled in [false, true] {
        if settled {
            server::store::bulk::settle();
        }
        let app = reopened(&t).await;
        let mut rows_again = app.store.pair_translations(src, dst).await.expect("rows");
        rows_again.sort_by_key(|(e, _)| e.source.guid);
        assert_eq!(rows_again, rows, "settled: {settled}");
        let mut messages_again = app
            .store
            .stage_messages(src, &server::directory::matching::stage(dst))
            .await
            .expect("messages");
        messages_again.sort_by_key(|m| m.guid);
        assert_eq!(messages_again, messages, "settled: {settled}");
        let summary = server::directory::match_users(&app, src, dst, attribute)
            .await
            .expect("full match on the reopened store");
        assert_eq!(summary.rows_changed, 0, "settled: {settled}");
        assert_eq!(summary.matched, 189, "settled: {settled}");
    }
}

/// The app of a server started again on `t`'s store: on SQLite a store of its own on the same
/// file, with nothing in memory.
async fn reopened(t: &TestApp) -> server::App {
    let store = match t.app.store.sqlite_file() {
        Some(path) => server::store::Store::connect(
            &format!("sqlite://{}?mode=rwc", path.display()),
            t.app.store.secrets().clone(),
        )
        .await
        .expect("open the store again"),
        None => t.app.store.clone(),
    };
    server::App::new(
        store,
        std::sync::Arc::new(t.clock.clone()),
        server::Settings::default(),
    )
}

/// A source directory of users numbered `sources` and a target one of users numbered `targets`
/// (`source.test` and `target.test`), each imported in full; their ids and users.
async fn users_imported(
    t: &TestApp,
    sources: std::ops::Range<u32>,
    targets: std::ops::Range<u32>,
) -> (
    DirectoryId,
    DirectoryId,
    Vec<DirectoryObject>,
    Vec<DirectoryObject>,
) {
    let (sd, td) = ("source.test", "target.test");
    let src = directory(t, "SOURCE", sd, DirectoryKind::ActiveDirectory).await;
    let dst = directory(t, "TARGET", td, DirectoryKind::ActiveDirectory).await;
    let sources: Vec<DirectoryObject> = sources
        .map(|n| user(1, sd, n, &format!("Source User {n}")))
        .collect();
    let targets: Vec<DirectoryObject> = targets
        .map(|n| user(2, td, n, &format!("Target User {n}")))
        .collect();
    import(t, src, sd, sources.clone()).await;
    import(t, dst, td, targets.clone()).await;
    (src, dst, sources, targets)
}

/// Matches `src` into `dst` by sAMAccountName.
async fn matched_by_sam(t: &TestApp, src: DirectoryId, dst: DirectoryId) {
    server::directory::match_users(
        &t.app,
        src,
        dst,
        model::directory::MatchAttribute::SamAccountName,
    )
    .await
    .expect("match");
}

/// On PostgreSQL, a first import and match of more than 10,000 objects leave their tables
/// analyzed, so a delta's deletes by GUID right after them are planned through the primary key
/// instead of reading every row of a table the planner still took for empty.
#[tokio::test]
async fn a_large_first_match_leaves_its_tables_sized_for_the_next_delta() {
    let t = TestApp::new().await;
    if t.app.store.backend() != server::store::Backend::Postgres {
        return;
    }
    let (src, dst, _, _) = users_imported(&t, 0..10_500, 0..10_500).await;
    let attribute = model::directory::MatchAttribute::SamAccountName;
    server::directory::match_users(&t.app, src, dst, attribute)
        .await
        .expect("first match");
    // Users of one SID each leave `translation_sids` empty: it holds only sources' other SIDs.
    for table in ["directory_objects", "translations"] {
        let rows: f64 = sqlx::query_scalar(&format!(
            "SELECT reltuples::float8 FROM pg_class WHERE relname = '{table}'"
        ))
        .fetch_one(t.app.store.pool())
        .await
        .expect("table size");
        assert!(rows >= 10_000.0, "{table}: the planner counts {rows} rows");
    }
    let guids: Vec<String> = (0..50)
        .map(|_| format!("'{}'", ObjectGuid::new()))
        .collect();
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "EXPLAIN DELETE FROM translations WHERE source_directory = '{src}' \
         AND target_directory = '{dst}' AND source_guid IN ({})",
        guids.join(", ")
    ))
    .fetch_all(t.app.store.pool())
    .await
    .expect("plan");
    assert!(
        !plan.iter().any(|line| line.contains("Seq Scan")),
        "{plan:#?}"
    );
}

/// The indexes of the translation tables, as (name, definition), in name order.
async fn translation_indexes(t: &TestApp) -> Vec<(String, String)> {
    indexes_of(t, "'translations', 'translation_sids'").await
}

/// The indexes of `directory_objects`, as (name, definition), in name order.
async fn object_indexes(t: &TestApp) -> Vec<(String, String)> {
    indexes_of(t, "'directory_objects'").await
}

/// The indexes of the tables in `tables` (quoted names, comma-separated), as (name,
/// definition), in name order.
async fn indexes_of(t: &TestApp, tables: &str) -> Vec<(String, String)> {
    let sql = match t.app.store.backend() {
        server::store::Backend::Sqlite => format!(
            "SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' \
             AND tbl_name IN ({tables}) ORDER BY name"
        ),
        server::store::Backend::Postgres => format!(
            "SELECT indexname::text, indexdef::text FROM pg_indexes \
             WHERE tablename IN ({tables}) ORDER BY indexname"
        ),
    };
    sqlx::query_as(&sql)
        .fetch_all(t.app.store.pool())
        .await
        .expect("indexes")
}

/// A first match run fills empty tables, which on SQLite and PostgreSQL drops their secondary
/// indexes at its start and builds them before its commit: one that fails leaves the tables empty and every
/// index as it was, and one that succeeds leaves every index as it was, each finding its rows.
#[tokio::test]
async fn a_first_match_that_fails_or_succeeds_leaves_the_translation_indexes_as_they_were() {
    let t = TestApp::new().await;
    let (src, dst, sources, targets) = users_imported(&t, 0..300, 0..300).await;
    let before = translation_indexes(&t).await;
    assert!(
        before.iter().any(|(name, _)| name == "translations_seek"),
        "{before:?}"
    );

    // The same source object twice: the run fails on its primary key.
    let side = |o: &DirectoryObject, directory| model::directory::TranslationSide {
        guid: o.guid,
        sid: o.sid.clone().expect("a SID"),
        on_premises_sid: None,
        sid_history: Vec::new(),
        upn: o.upn.clone(),
        name: o.name.clone(),
        directory,
    };
    let entry = model::directory::TranslationEntry {
        kind: ObjectKind::User,
        source: side(&sources[0], src),
        target: side(&targets[0], dst),
    };
    let now = t.clock.now();
    let mut writer = t
        .app
        .store
        .begin_match(src, dst, &server::directory::matching::stage(dst), now)
        .await
        .expect("begin");
    let write = server::store::translations::MatchWrite {
        insert_rows: vec![
            (entry.clone(), "rules[0]".into()),
            (entry, "rules[0]".into()),
        ],
        ..Default::default()
    };
    let failed = match writer.write(write).await {
        Ok(()) => writer.finish("{}").await.err(),
        Err(e) => Some(e),
    };
    assert!(failed.is_some(), "a duplicate row was written");
    assert!(table(&t, src, dst).await.0.is_empty());
    assert_eq!(translation_indexes(&t).await, before);

    matched_by_sam(&t, src, dst).await;
    assert_eq!(translation_indexes(&t).await, before);
    assert_eq!(table(&t, src, dst).await.0.len(), 300);
    let found = searched_translations(&t, "source user 12").await;
    assert_eq!(found.len(), 11, "{found:?}");
}

/// A directory's first import on SQLite drops the indexes of `directory_objects` once it has
/// added a large share of the table (at once into an empty table, after 10,000 objects beside
/// a small directory; on PostgreSQL only into an empty table) and builds them before its commit: one that stops before it finishes
/// leaves the table and every index as they were, and one that finishes leaves every index as
/// it was, the Single Object Report finding the objects of both directories through them.
#[tokio::test]
async fn a_first_import_that_fails_or_succeeds_leaves_the_object_indexes_as_they_were() {
    let t = TestApp::new().await;
    let before = object_indexes(&t).await;
    assert!(
        before
            .iter()
            .any(|(name, _)| name == "directory_objects_name_lower"),
        "{before:?}"
    );
    let (src, dst, _, _) = users_imported(&t, 0..50, 0..0).await;
    assert_eq!(object_indexes(&t).await, before);

    let targets: Vec<DirectoryObject> = (0..10_050)
        .map(|n| user(2, "target.test", n, &format!("Target User {n}")))
        .collect();
    let mut writer = t.app.store.begin_import(dst).await.expect("begin");
    for page in targets.chunks(1_000) {
        writer.upsert(page.to_vec()).await.expect("a page");
    }
    drop(writer);
    assert!(t
        .app
        .store
        .search_objects("target user*", Some(dst), 10)
        .await
        .expect("search")
        .is_empty());
    assert_eq!(object_indexes(&t).await, before);

    let summary = import(&t, dst, "target.test", targets).await;
    assert_eq!(summary.added, 10_050);
    assert_eq!(object_indexes(&t).await, before);
    let hits = |text: &'static str, directory| {
        let t = &t;
        async move {
            t.app
                .store
                .search_objects(text, Some(directory), 100)
                .await
                .expect("search")
                .into_iter()
                .map(|hit| hit.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(hits("target user 1004*", dst).await.len(), 11);
    assert_eq!(hits("user1004@*", dst).await, vec!["Target User 1004"]);
    assert_eq!(hits("source user 4*", src).await.len(), 11);
}

/// The API's translation table, streamed a chunk at a time, answers the rows the store holds, in
/// the same order, as JSON and as CSV, with or without a search.
#[tokio::test]
async fn the_api_streams_the_whole_translation_table_in_order() {
    let t = TestApp::new().await;
    let (src, dst, _, _) = users_imported(&t, 0..300, 0..300).await;
    matched_by_sam(&t, src, dst).await;
    let token = t.token_with_roles(&[server::auth::Role::SyncViewer]).await;
    for (query, search) in [
        ("", None),
        ("?search=source%20user%2012", Some("source user 12")),
    ] {
        let stored = t.app.store.translations(search).await.expect("table");
        assert_eq!(stored.len(), if search.is_some() { 11 } else { 300 });
        let answer = t.get(&format!("/api/v1/translations{query}"), &token).await;
        assert_eq!(
            answer.header("content-type").as_deref(),
            Some("application/json")
        );
        let rows: Vec<model::directory::TranslationEntry> =
            serde_json::from_str(&answer.text()).expect("a JSON array of rows");
        assert_eq!(rows, stored, "{query}");
        let csv = t
            .get(&format!("/api/v1/translations.csv{query}"), &token)
            .await
            .text();
        assert_eq!(csv.lines().count(), stored.len() + 1, "{query}");
    }
}

/// Two directories' first imports started together into an empty table both land, with every
/// index as it was: on PostgreSQL one of them drops and builds the indexes while the other
/// writes into them once it may; neither waits for the other's lock for ever (which the
/// database would end by failing one of them).
#[tokio::test]
async fn two_first_imports_started_together_both_land_with_every_index() {
    let t = TestApp::new().await;
    let before = object_indexes(&t).await;
    let (ad, bd) = ("a.test", "b.test");
    let a = directory(&t, "A", ad, DirectoryKind::ActiveDirectory).await;
    let b = directory(&t, "B", bd, DirectoryKind::ActiveDirectory).await;
    let users = |n: u8, domain: &str| -> Vec<DirectoryObject> {
        (0..3_000)
            .map(|i| user(n.into(), domain, i, &format!("User {n}-{i}")))
            .collect()
    };
    let (first, second) = tokio::join!(
        import(&t, a, ad, users(1, ad)),
        import(&t, b, bd, users(2, bd))
    );
    assert_eq!((first.added, second.added), (3_000, 3_000));
    assert_eq!(object_indexes(&t).await, before);
    for (directory, text) in [(a, "user 1-123*"), (b, "user 2-123*")] {
        let hits = t
            .app
            .store
            .search_objects(text, Some(directory), 100)
            .await
            .expect("search");
        assert_eq!(hits.len(), 11, "{text}: {hits:?}");
    }
}

/// A source matched again keeps its row with the new values, and devices find it by the SIDs it
/// has now: a SID added to its history finds it, one taken out of it no longer does.
#[tokio::test]
async fn a_source_matched_again_is_found_by_the_sids_it_has_now() {
    let t = TestApp::new().await;
    let (sd, td) = ("source.test", "target.test");
    let history = |rid: u32| secdesc::Sid::new(5, &[21, 9, 9, 9, rid]).expect("valid SID");
    let (src, dst, mut sources, mut targets) = users_imported(&t, 0..6, 0..6).await;
    sources[2].sid_history = vec![history(2)];
    import(&t, src, sd, sources.clone()).await;
    let attribute = model::directory::MatchAttribute::SamAccountName;
    server::directory::match_users(&t.app, src, dst, attribute)
        .await
        .expect("first match");

    sources[0].name = "Renamed Zero".into();
    sources[1].name = "Renamed One".into();
    sources[1].sid_history = vec![history(1)];
    sources[2].sid_history = vec![history(3)];
    sources[4].upn = None;
    targets[3].name = "Renamed Target Three".into();
    import(&t, src, sd, sources.clone()).await;
    import(&t, dst, td, targets.clone()).await;
    let summary = server::directory::match_users(&t.app, src, dst, attribute)
        .await
        .expect("delta match");
    assert_eq!(summary.matched, 6);

    let own = |n: usize| sources[n].sid.clone().expect("a SID");
    let wanted = [own(0), history(1), history(2), history(3), own(5)];
    let found: Vec<(secdesc::Sid, String, String)> = t
        .app
        .store
        .translations_for_device(dst, &wanted)
        .await
        .expect("lookup")
        .into_iter()
        .map(|r| {
            assert!(r.target_stored, "{:?}", r);
            (r.found, r.entry.source.name, r.entry.target.name)
        })
        .collect();
    let found_by = |sid: secdesc::Sid, source: &str, target: &str| {
        (sid, source.to_string(), target.to_string())
    };
    let mut expected = vec![
        found_by(own(0), "Renamed Zero", "Target User 0"),
        found_by(history(1), "Renamed One", "Target User 1"),
        found_by(history(3), "Source User 2", "Target User 2"),
        found_by(own(5), "Source User 5", "Target User 5"),
    ];
    expected.sort_by_key(|(sid, _, _)| sid.to_string());
    assert_eq!(found, expected);
    assert_eq!(
        t.app.store.translation_counts().await.expect("counts"),
        (6, 8),
        "six rows; six own SIDs and two in histories"
    );

    let (rows, _) = table(&t, src, dst).await;
    let row = |n: usize| {
        rows.iter()
            .find(|(e, _)| e.source.guid == sources[n].guid)
            .map(|(e, _)| e.clone())
            .expect("a row")
    };
    assert_eq!(row(4).source.upn, None);
    assert_eq!(row(3).target.name, "Renamed Target Three");
    assert_eq!(row(1).source.sid_history, vec![history(1)]);
    // Another server over the same store matches in full and finds nothing to change.
    let app = reopened(&t).await;
    let full = server::directory::match_users(&app, src, dst, attribute)
        .await
        .expect("full match");
    assert_eq!(full.rows_changed, 0);
    assert_eq!(table(&t, src, dst).await.0, rows);
}
