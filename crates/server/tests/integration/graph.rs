//! Entra ID import over Microsoft Graph, against `FakeGraph`: a local server speaking Graph's
//! protocol (Graph itself is not reachable from here). Waits for throttling go through a
//! recording sleeper, so these tests never wait for real.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use model::clock::ManualClock;
use model::directory::{DirectoryKind, ObjectKind};
use model::ids::ObjectGuid;
use serde_json::json;
use server::directory::graph::testing::{FakeGraph, FakeTenant};
use server::directory::graph::{GraphConfig, GraphCursor, GraphKind, GraphSource, Sleeper};
use server::directory::BoxFuture;

use crate::support::TestApp;

const TENANT: &str = "8f1c0e52-3f0a-4d8e-9b44-6f3d7c1a2b90";
const CLIENT: &str = "5d2b7c11-9a0e-4c55-8f7b-2e4a1d6c3b08";
const SECRET: &str = "Xq8~fake.Secret_value-0123456789abcdef";
const CLOUD_USER: &str = "73d664e4-0886-4a73-b745-c694da45ddb4";
const CLOUD_SID: &str = "S-1-12-1-1943430372-1249052806-2496021943-3034400218";
const HYBRID_USER: &str = "0e3d8a5c-6f41-4b2e-9c1d-7a8b9c0d1e2f";
const HYBRID_SID: &str = "S-1-5-21-1004336348-1177238915-682003330-1104";
const GROUP: &str = "4c1f2a3b-5d6e-4f70-8192-a3b4c5d6e7f8";
const GROUP_SID: &str = "S-1-12-1-1277110843-1332764014-3030618753-4175943365";
const HYBRID_GROUP: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const DEVICE: &str = "1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a8b";

/// Records the waits asked for instead of waiting.
#[derive(Clone, Default)]
pub(crate) struct RecordingSleeper(Arc<Mutex<Vec<Duration>>>);

impl RecordingSleeper {
    /// The waits asked for so far, in seconds.
    pub(crate) fn waits(&self) -> Vec<u64> {
        self.0
            .lock()
            .expect("sleeper lock")
            .iter()
            .map(Duration::as_secs)
            .collect()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        self.0.lock().expect("sleeper lock").push(duration);
        Box::pin(async {})
    }
}

/// A fake tenant with two users (one hybrid, one cloud-only), two groups and a device.
async fn tenant() -> FakeGraph {
    let graph = FakeGraph::start(FakeTenant {
        tenant_id: TENANT.to_string(),
        domain: "fabrikam.test".to_string(),
        client_id: CLIENT.to_string(),
        client_secret: SECRET.to_string(),
    })
    .await
    .expect("start the fake Graph");
    graph.put(
        GraphKind::Users,
        json!({"id": HYBRID_USER, "displayName": "Hana Hybrid",
            "userPrincipalName": "hana@fabrikam.test", "mail": "hana@fabrikam.test",
            "employeeId": "E100", "onPremisesSecurityIdentifier": HYBRID_SID,
            "onPremisesSamAccountName": "hana", "accountEnabled": true, "jobTitle": "Pilot"}),
    );
    graph.put(
        GraphKind::Users,
        json!({"id": CLOUD_USER, "displayName": "Cleo Cloud",
            "userPrincipalName": "cleo@fabrikam.test", "mail": null, "employeeId": "E200",
            "onPremisesSecurityIdentifier": null, "accountEnabled": true}),
    );
    graph.put(
        GraphKind::Groups,
        json!({"id": GROUP, "displayName": "Pilots", "securityEnabled": true,
            "securityIdentifier": GROUP_SID, "onPremisesSecurityIdentifier": null}),
    );
    graph.put(
        GraphKind::Groups,
        json!({"id": HYBRID_GROUP, "displayName": "Sales", "securityEnabled": true,
            "securityIdentifier": "S-1-12-1-1", "onPremisesSecurityIdentifier": "S-1-5-21-1004336348-1177238915-682003330-2201",
            "onPremisesSamAccountName": "Sales"}),
    );
    graph.put(
        GraphKind::Devices,
        json!({"id": DEVICE, "deviceId": "d0d0d0d0-1111-4222-8333-444455556666",
            "displayName": "PC-0042", "operatingSystem": "Windows", "trustType": "AzureAd"}),
    );
    graph
}

fn source(graph: &FakeGraph, page_size: u32) -> (GraphSource, RecordingSleeper) {
    source_with(graph.config(), page_size)
}

fn source_with(mut config: GraphConfig, page_size: u32) -> (GraphSource, RecordingSleeper) {
    config.page_size = page_size;
    let sleeper = RecordingSleeper::default();
    let source = GraphSource::new(config)
        .expect("valid config")
        .with_sleeper(Arc::new(sleeper.clone()));
    (source, sleeper)
}

fn add_users(graph: &FakeGraph, count: usize) {
    for i in 0..count {
        graph.put(
            GraphKind::Users,
            json!({"id": format!("00000000-0000-4000-8000-{:012}", i),
                "displayName": format!("User {i}"), "userPrincipalName": format!("user{i}@fabrikam.test")}),
        );
    }
}

fn count(requests: &[String], prefix: &str) -> usize {
    requests.iter().filter(|r| r.starts_with(prefix)).count()
}

#[tokio::test]
async fn a_full_import_stores_users_groups_and_devices_with_their_sids() {
    let t = TestApp::new().await;
    let graph = tenant().await;
    let dir =
        crate::directory::directory(&t, "FABRIKAM", "fabrikam.test", DirectoryKind::EntraId).await;
    let (source, sleeper) = source(&graph, 999);
    let summary = server::directory::import(&t.app, dir, &source)
        .await
        .expect("import");
    assert_eq!(
        (
            summary.total,
            summary.users,
            summary.groups,
            summary.computers
        ),
        (5, 2, 2, 1)
    );
    assert_eq!(summary.added, 5);
    let stored = t.app.store.objects(dir, None).await.expect("objects");
    let object_of = |id: &str| {
        let guid: ObjectGuid = id.parse().expect("guid");
        stored.iter().find(|o| o.guid == guid).expect("stored")
    };
    let sid_of = |id: &str| object_of(id).sid.as_ref().map(ToString::to_string);
    let on_premises_of = |id: &str| {
        object_of(id)
            .on_premises_sid
            .as_ref()
            .map(ToString::to_string)
    };
    let hybrid_guid: ObjectGuid = HYBRID_USER.parse().expect("guid");
    assert_eq!(
        sid_of(HYBRID_USER),
        Some(server::directory::graph::entra_sid(hybrid_guid).to_string()),
        "a synchronised user has the Entra SID an Entra-joined device signs it in with"
    );
    assert_eq!(on_premises_of(HYBRID_USER).as_deref(), Some(HYBRID_SID));
    assert_eq!(sid_of(CLOUD_USER).as_deref(), Some(CLOUD_SID));
    assert_eq!(on_premises_of(CLOUD_USER), None);
    assert_eq!(sid_of(GROUP).as_deref(), Some(GROUP_SID));
    assert_eq!(sid_of(HYBRID_GROUP).as_deref(), Some("S-1-12-1-1"));
    assert_eq!(
        on_premises_of(HYBRID_GROUP).as_deref(),
        Some("S-1-5-21-1004336348-1177238915-682003330-2201"),
        "a synchronised group keeps its AD SID too"
    );
    assert_eq!(sid_of(DEVICE), None);
    let hana = stored
        .iter()
        .find(|o| o.upn.as_deref() == Some("hana@fabrikam.test"))
        .expect("hana");
    assert_eq!(hana.sam_account_name.as_deref(), Some("hana"));
    assert_eq!(hana.employee_id.as_deref(), Some("E100"));
    let pc = stored
        .iter()
        .find(|o| o.kind == ObjectKind::Computer)
        .expect("device");
    assert_eq!(
        (pc.name.as_str(), pc.operating_system.as_deref()),
        ("PC-0042", Some("Windows"))
    );
    let dir_row = t
        .app
        .store
        .directory(dir)
        .await
        .expect("read")
        .expect("dir");
    assert_eq!(dir_row.domain_id.as_deref(), Some(TENANT));
    assert!(sleeper.waits().is_empty());
    // $select keeps what rehome does not store (jobTitle) off the wire.
    let requests = graph.requests();
    assert!(requests
        .iter()
        .any(|r| r.starts_with("/users?") && r.contains("$select=id,displayName")));

    // The same tenant again: nothing added or changed, one token for both reads.
    let again = server::directory::import(&t.app, dir, &source)
        .await
        .expect("import");
    assert_eq!((again.added, again.changed, again.deleted), (0, 0, 0));
    assert_eq!(graph.token_requests(), 1);
}

#[tokio::test]
async fn a_tenant_for_another_domain_changes_nothing() {
    let t = TestApp::new().await;
    let graph = tenant().await;
    let dir =
        crate::directory::directory(&t, "CONTOSO", "contoso.test", DirectoryKind::EntraId).await;
    let (source, _) = source(&graph, 999);
    let err = server::directory::import(&t.app, dir, &source)
        .await
        .expect_err("another tenant's domain");
    assert!(err.to_string().contains("fabrikam.test"), "{err}");
    assert!(t
        .app
        .store
        .objects(dir, None)
        .await
        .expect("objects")
        .is_empty());
}

#[tokio::test]
async fn paging_follows_every_next_link() {
    let graph = tenant().await;
    add_users(&graph, 23);
    let (source, _) = source(&graph, 4);
    let snapshot = source.read_full().await.expect("read");
    let users: Vec<_> = snapshot
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::User)
        .collect();
    assert_eq!(users.len(), 25);
    let mut guids: Vec<_> = users.iter().map(|o| o.guid).collect();
    guids.sort();
    guids.dedup();
    assert_eq!(guids.len(), 25, "no user twice");
    let requests = graph.requests();
    // 25 users in pages of 4: the first page and six more through opaque skip tokens.
    assert_eq!(count(&requests, "/users?"), 7, "{requests:#?}");
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.starts_with("/users?") && r.contains("$skiptoken="))
            .count(),
        6
    );
    assert!(requests
        .iter()
        .any(|r| r.starts_with("/users?") && r.contains("$top=4")));
}

#[tokio::test]
async fn throttled_answers_are_waited_out_and_retried() {
    let graph = tenant().await;
    add_users(&graph, 5);
    let (source, sleeper) = source(&graph, 3);
    graph.throttle(2, 7);
    graph.unavailable(3);
    let snapshot = source.read_full().await.expect("read despite throttling");
    assert_eq!(snapshot.objects.len(), 10);
    assert_eq!(sleeper.waits(), vec![7, 7, 3], "Retry-After honoured");
}

#[tokio::test]
async fn endless_throttling_ends_in_an_error_naming_the_request() {
    let graph = tenant().await;
    let mut config = graph.config();
    config.max_retries = 3;
    let (source, sleeper) = source_with(config, 10);
    graph.throttle(10, 30);
    let err = source.read_full().await.expect_err("gives up");
    let text = err.to_string();
    assert!(text.contains("GET http://"), "{text}");
    assert!(text.contains("/v1.0/organization"), "{text}");
    assert!(text.contains("429 TooManyRequests"), "{text}");
    assert!(text.contains("after 3 retries"), "{text}");
    assert_eq!(sleeper.waits(), vec![30, 30, 30]);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_mid_import() {
    let graph = tenant().await;
    add_users(&graph, 20);
    let (source, _) = source(&graph, 5);
    // The token dies after the organization, three delta links and two pages of users.
    graph.expire_tokens_after(6);
    let snapshot = source.read_full().await.expect("read across the expiry");
    assert_eq!(snapshot.objects.len(), 25);
    assert_eq!(graph.token_requests(), 2);
    assert_eq!(graph.expired_answers(), 1, "one refusal, then a new token");
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires_by_the_clock() {
    let graph = tenant().await;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("instant"),
    );
    let (source, _) = source(&graph, 999);
    let source = source.with_clock(Arc::new(clock.clone()));
    source.read_full().await.expect("read");
    clock.advance(chrono::Duration::minutes(50));
    source.read_full().await.expect("read");
    assert_eq!(graph.token_requests(), 1, "the token is still good");
    // The fake's tokens live 3599 s: at 58 minutes it is renewed rather than used to the end.
    clock.advance(chrono::Duration::minutes(8));
    source.read_full().await.expect("read");
    assert_eq!(graph.token_requests(), 2);
    assert_eq!(
        graph.expired_answers(),
        0,
        "renewed before Graph refused it"
    );
}

#[tokio::test]
async fn a_wrong_secret_names_the_token_request_and_never_the_secret() {
    let graph = tenant().await;
    let wrong = "Wr0ng~Secret.value_that-must-not-leak";
    let mut config = graph.config();
    config.client_secret = wrong.to_string();
    let (source, _) = source_with(config.clone(), 999);
    let err = source.read_full().await.expect_err("refused");
    let text = format!("{err} {err:?}");
    assert!(text.contains("token request"), "{text}");
    assert!(text.contains("/oauth2/v2.0/token"), "{text}");
    assert!(text.contains("invalid_client"), "{text}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(text.contains("client_secret"), "names the field: {text}");
    assert!(!text.contains(wrong) && !text.contains(SECRET), "{text}");
    let debug = format!("{config:?} {source:?}");
    assert!(!debug.contains(wrong), "{debug}");
    assert!(debug.contains("<hidden>"));
    assert_eq!(graph.token_requests(), 0);
}

#[tokio::test]
async fn a_plain_http_url_to_another_machine_is_refused() {
    let mut config = GraphConfig::new(TENANT, CLIENT, SECRET);
    config.graph_url = "http://graph.example.com/v1.0".to_string();
    config.page_size = 1000;
    let err = GraphSource::new(config).expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("graph_url") && text.contains("page_size"),
        "{text}"
    );
    assert!(!text.contains(SECRET));
}

#[tokio::test]
async fn delta_returns_only_what_changed_since_the_link() {
    let graph = tenant().await;
    add_users(&graph, 6);
    let (source, _) = source(&graph, 3);
    let snapshot = source.read_full().await.expect("read");
    let quiet = source
        .changes_since(&snapshot.cursor)
        .await
        .expect("changes");
    assert!(quiet.objects.is_empty() && quiet.deleted.is_empty());

    graph.update(
        GraphKind::Users,
        HYBRID_USER,
        json!({"displayName": "Hana Hybrid-Ito"}),
    );
    graph.put(
        GraphKind::Users,
        json!({"id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d", "displayName": "Nia New",
            "userPrincipalName": "nia@fabrikam.test"}),
    );
    graph.remove(GraphKind::Groups, GROUP);
    graph.remove(GraphKind::Users, "00000000-0000-4000-8000-000000000002");
    let changes = source.changes_since(&quiet.cursor).await.expect("changes");
    let mut names: Vec<_> = changes.objects.iter().map(|o| o.name.as_str()).collect();
    names.sort();
    assert_eq!(names, vec!["Hana Hybrid-Ito", "Nia New"]);
    // Graph sent only the changed displayName; the object was read again whole.
    let hana = changes
        .objects
        .iter()
        .find(|o| o.name == "Hana Hybrid-Ito")
        .expect("hana");
    assert_eq!(
        hana.on_premises_sid
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some(HYBRID_SID)
    );
    assert_eq!(hana.upn.as_deref(), Some("hana@fabrikam.test"));
    let mut deleted = changes.deleted.clone();
    deleted.sort();
    let mut expected: Vec<ObjectGuid> = vec![
        GROUP.parse().expect("guid"),
        "00000000-0000-4000-8000-000000000002"
            .parse()
            .expect("guid"),
    ];
    expected.sort();
    assert_eq!(deleted, expected);

    let after = source
        .changes_since(&changes.cursor)
        .await
        .expect("changes");
    assert!(after.objects.is_empty() && after.deleted.is_empty());
    assert!(graph
        .requests()
        .iter()
        .any(|r| r.starts_with("/users/delta?") && r.contains("$deltatoken=")));
}

#[tokio::test]
async fn a_delta_from_the_start_returns_everything_across_pages() {
    let graph = tenant().await;
    add_users(&graph, 9);
    let (source, _) = source(&graph, 4);
    let all = source
        .changes_since(&GraphCursor::start())
        .await
        .expect("changes");
    assert_eq!(all.objects.len(), 14);
    assert!(all.deleted.is_empty());
    let cloud = all
        .objects
        .iter()
        .find(|o| o.guid == CLOUD_USER.parse().expect("guid"))
        .expect("cleo");
    assert_eq!(
        cloud.sid.as_ref().map(ToString::to_string).as_deref(),
        Some(CLOUD_SID)
    );
    // 11 users in pages of 4: three delta pages.
    assert_eq!(count(&graph.requests(), "/users/delta?"), 3);
    let cursor: GraphCursor =
        serde_json::from_str(&serde_json::to_string(&all.cursor).expect("json")).expect("json");
    let after = source.changes_since(&cursor).await.expect("changes");
    assert!(after.objects.is_empty() && after.deleted.is_empty());
}

#[tokio::test]
async fn a_missing_permission_names_the_request_and_the_permissions_to_grant() {
    let graph = tenant().await;
    graph.deny(GraphKind::Devices);
    let (source, _) = source(&graph, 999);
    let err = source.read_full().await.expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("GET http://") && text.contains("/v1.0/devices "),
        "{text}"
    );
    assert!(text.contains("403 Authorization_RequestDenied"), "{text}");
    assert!(text.contains("Device.Read.All"), "{text}");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_sent_the_token() {
    let graph = tenant().await;
    add_users(&graph, 5);
    graph.link_base("http://graph.attacker.invalid");
    let (source, _) = source(&graph, 2);
    let err = source.read_full().await.expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("graph.attacker.invalid"), "{text}");
    assert!(text.contains("refusing to send the token"), "{text}");
}

#[tokio::test]
async fn an_unknown_delta_link_asks_for_a_full_import() {
    let graph = tenant().await;
    let (source, _) = source(&graph, 999);
    let snapshot = source.read_full().await.expect("read");
    let mut cursor = snapshot.cursor.clone();
    let base = cursor.users.split("$deltatoken=").next().expect("link");
    cursor.users = format!("{base}$deltatoken=forgotten");
    let err = source.changes_since(&cursor).await.expect_err("gone");
    let text = err.to_string();
    assert!(text.contains("410 syncStateNotFound"), "{text}");
    assert!(text.contains("run a full import"), "{text}");
}

#[tokio::test]
async fn a_later_delta_round_is_paged_and_names_each_object_once() {
    let graph = tenant().await;
    add_users(&graph, 20);
    let (source, _) = source(&graph, 3);
    let snapshot = source.read_full().await.expect("read");
    let user = |i: usize| format!("00000000-0000-4000-8000-{:012}", i);
    for i in 0..17 {
        graph.update(
            GraphKind::Users,
            &user(i),
            json!({"displayName": format!("Renamed {i}")}),
        );
    }
    graph.update(
        GraphKind::Users,
        &user(1),
        json!({"mail": "one@fabrikam.test"}),
    );
    graph.update(
        GraphKind::Users,
        &user(18),
        json!({"displayName": "Gone soon"}),
    );
    graph.remove(GraphKind::Users, &user(18));
    let before = graph.requests().len();
    let changes = source
        .changes_since(&snapshot.cursor)
        .await
        .expect("changes");
    assert_eq!(changes.objects.len(), 17, "each changed user once");
    let one: ObjectGuid = user(1).parse().expect("guid");
    let one = changes
        .objects
        .iter()
        .find(|o| o.guid == one)
        .expect("user 1");
    assert_eq!(
        (one.name.as_str(), one.mail.as_deref()),
        ("Renamed 1", Some("one@fabrikam.test"))
    );
    assert_eq!(
        changes.deleted,
        vec![user(18).parse::<ObjectGuid>().expect("guid")],
        "changed, then deleted: only deleted"
    );
    let requests = &graph.requests()[before..];
    // 18 entries in pages of 3; the 17 changed users read again in two `id in` filters of ≤ 15.
    assert_eq!(count(requests, "/users/delta?"), 6, "{requests:#?}");
    assert_eq!(
        count(requests, "/users?$filter=id in ("),
        2,
        "{requests:#?}"
    );
}

#[tokio::test]
async fn a_wrong_tenant_names_the_tenant_field() {
    let graph = tenant().await;
    let mut config = graph.config();
    config.tenant_id = "00000000-0000-4000-8000-00000000beef".to_string();
    let (source, _) = source_with(config, 999);
    let err = source.read_full().await.expect_err("refused");
    let text = format!("{err:?}");
    assert!(text.contains("tenant_id"), "{text}");
    assert!(text.contains("AADSTS90002"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test]
async fn a_graph_refusal_answers_bad_gateway_naming_graph_and_the_setting_to_check() {
    let graph = tenant().await;
    let t = TestApp::new().await;
    let dir =
        crate::directory::directory(&t, "FABRIKAM", "fabrikam.test", DirectoryKind::EntraId).await;
    let admin = t.token_with_roles(&[server::auth::Role::SyncAdmin]).await;
    let c = graph.config();
    let wrong = "Wr0ng~Secret.for-the-gateway-test";
    let put = t
        .put_json(
            &format!("/api/v1/directories/{dir}/connection"),
            &admin,
            json!({"kind": "graph", "tenant_id": c.tenant_id, "client_id": c.client_id,
                "authority_url": c.authority_url, "graph_url": c.graph_url, "scope": c.scope,
                "client_secret": wrong}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());

    let r = t
        .post_json(
            &format!("/api/v1/directories/{dir}/sync"),
            &admin,
            json!({"mode": "full"}),
        )
        .await;
    // Graph refused the server: not the caller's invalid input.
    assert_eq!(r.status, 502, "{}", r.text());
    let body = r.json();
    assert_eq!(body["code"], "upstream");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("Microsoft Graph failed"), "{message}");
    assert!(message.contains("invalid_client"), "{message}");
    assert_eq!(body["fields"][0]["field"], "client_secret");
    assert!(!r.text().contains(wrong), "{}", r.text());
}
