//! DirSync export into Entra ID, against `FakeGraph` extended with Graph's writes: users and
//! groups created and updated in only what changed, membership through `$ref` (nested groups and
//! a member matched rather than created), throttling waited out, the deletion policy, a second
//! cycle that writes nothing, a run that fails half way and resumes without duplicates, and an
//! Entra → Entra profile scoped by a Graph filter.

use std::sync::Arc;

use model::directory::{DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::DirectoryId;
use serde_json::{json, Value};
use server::directory::connection::{self, Connection};
use server::directory::export::plan::Change;
use server::directory::export::profile::{
    DeletionPolicy, ExportKind, ProfileBody, Scope, SyncMode,
};
use server::directory::export::{self, graph::USER_ANCHOR};
use server::directory::file::DirectoryDocument;
use server::directory::graph::testing::{FakeGraph, FakeTenant};
use server::directory::graph::GraphKind;
use server::store::testing::TestDir;

use crate::directory::{directory, object};
use crate::graph::RecordingSleeper;
use crate::support::TestApp;

const CLIENT: &str = "5d2b7c11-9a0e-4c55-8f7b-2e4a1d6c3b08";
const SECRET: &str = "Xq8~fake.Secret_value-0123456789abcdef";

async fn tenant(id: &str, domain: &str) -> FakeGraph {
    FakeGraph::start(FakeTenant {
        tenant_id: id.to_string(),
        domain: domain.to_string(),
        client_id: CLIENT.to_string(),
        client_secret: SECRET.to_string(),
    })
    .await
    .expect("start the fake Graph")
}

fn profile(source: DirectoryId, target: DirectoryId, kind: ExportKind) -> ProfileBody {
    ProfileBody {
        name: format!("to Entra {}", kind.as_str()),
        source,
        target,
        kind,
        mode: SyncMode::CreateOrUpdate,
        scope: Scope::default(),
        flow: Vec::new(),
        containers: Vec::new(),
        default_container: None,
        deletion: DeletionPolicy::Leave,
    }
}

/// Writes `objects` as the source document the source directory reads.
fn write_source(files: &TestDir, objects: &[DirectoryObject]) -> std::path::PathBuf {
    let path = files.path().join("contoso.json");
    let doc = DirectoryDocument {
        domain: "contoso.test".into(),
        domain_sid: Some("S-1-5-21-1-2-3".into()),
        objects: objects.to_vec(),
    };
    std::fs::write(&path, serde_json::to_vec(&doc).expect("json")).expect("write");
    path
}

/// An app whose waits are recorded, with CONTOSO (a document) and FABRIKAM (the fake tenant).
async fn pair(
    graph: &FakeGraph,
    files: &TestDir,
) -> (TestApp, RecordingSleeper, DirectoryId, DirectoryId) {
    let mut t = TestApp::new().await;
    let sleeper = RecordingSleeper::default();
    t.app.sleeper = Arc::new(sleeper.clone());
    let s = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let d = directory(&t, "FABRIKAM", "fabrikam.test", DirectoryKind::EntraId).await;
    let path = files.path().join("contoso.json");
    connection::set_connection(&t.app, s, Connection::File { path })
        .await
        .expect("source connection");
    connection::set_connection(&t.app, d, Connection::Graph(graph.config()))
        .await
        .expect("target connection");
    (t, sleeper, s, d)
}

/// A full import of the source document as it is now.
async fn import_source(t: &TestApp, s: DirectoryId) {
    let source = connection::source_for(&t.app, s).await.expect("source");
    server::directory::import_with(
        &t.app,
        s,
        source.as_ref(),
        server::directory::ImportMode::Full,
    )
    .await
    .expect("import");
}

async fn cycle(t: &TestApp) -> server::directory::schedule::Cycle {
    match server::directory::schedule::run_now(&t.app)
        .await
        .expect("cycle")
    {
        server::directory::schedule::CycleOutcome::Ran(c) => c,
        other => panic!("no cycle ran: {other:?}"),
    }
}

/// The writes Graph received, as `METHOD /path`.
fn writes(graph: &FakeGraph) -> Vec<String> {
    graph
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST ") || r.starts_with("PATCH ") || r.starts_with("DELETE "))
        .collect()
}

fn by_upn(graph: &FakeGraph, upn: &str) -> Value {
    graph
        .objects(GraphKind::Users)
        .into_iter()
        .find(|u| u["userPrincipalName"] == upn)
        .unwrap_or_else(|| panic!("no user {upn} in the tenant"))
}

fn by_name(graph: &FakeGraph, kind: GraphKind, name: &str) -> Value {
    graph
        .objects(kind)
        .into_iter()
        .find(|u| u["displayName"] == name)
        .unwrap_or_else(|| panic!("no {name} in the tenant"))
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn ad_users_and_groups_are_created_in_entra_then_nothing_is_written_and_a_departure_is_disabled(
) {
    let graph = tenant("8f1c0e52-3f0a-4d8e-9b44-6f3d7c1a2b90", "fabrikam.test").await;
    // Cleo is in the tenant already (synchronised there once): she is matched, not created.
    graph.put(
        GraphKind::Users,
        json!({"id": "0e3d8a5c-6f41-4b2e-9c1d-7a8b9c0d1e2f", "displayName": "Cleo Old",
            "userPrincipalName": "cleo@fabrikam.test", "mailNickname": "cleo",
            "onPremisesSamAccountName": "cleo", "accountEnabled": true}),
    );
    let files = TestDir::new();
    let ada = object(
        ObjectKind::User,
        "Ada Lovelace",
        "ada",
        Some("S-1-5-21-1-2-3-1101"),
    );
    let mut bob = object(
        ObjectKind::User,
        "Bob Byte",
        "bob",
        Some("S-1-5-21-1-2-3-1102"),
    );
    bob.given_name = Some("Bob".into());
    let cleo = object(
        ObjectKind::User,
        "Cleo Cloud",
        "cleo",
        Some("S-1-5-21-1-2-3-1103"),
    );
    let mut crew = object(
        ObjectKind::Group,
        "Crew",
        "crew",
        Some("S-1-5-21-1-2-3-2101"),
    );
    crew.members = vec![bob.guid];
    let mut pilots = object(
        ObjectKind::Group,
        "Pilots",
        "pilots",
        Some("S-1-5-21-1-2-3-2102"),
    );
    pilots.members = vec![ada.guid, crew.guid, cleo.guid];
    write_source(
        &files,
        &[
            ada.clone(),
            bob.clone(),
            cleo.clone(),
            crew.clone(),
            pilots.clone(),
        ],
    );
    let (t, sleeper, s, d) = pair(&graph, &files).await;
    let mut users = profile(s, d, ExportKind::Users);
    users.deletion = DeletionPolicy::Disable;
    export::put_profile(&t.app, None, users)
        .await
        .expect("users profile");
    export::put_profile(&t.app, None, profile(s, d, ExportKind::Groups))
        .await
        .expect("groups profile");
    let first = cycle(&t).await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(first.exported.len(), 1, "{first:?}");
    let run = &export::runs(&t.app, s, d).await.expect("runs")[0];
    assert_eq!(
        (run.created, run.updated, run.memberships, run.refused),
        (4, 1, 2, 0),
        "{run:?}"
    );
    let a = by_upn(&graph, "ada@fabrikam.test");
    assert_eq!(a["displayName"], "Ada Lovelace");
    assert_eq!(a["mailNickname"], "ada");
    assert_eq!(
        a["accountEnabled"], false,
        "created disabled until someone enables it"
    );
    assert!(a.get("passwordProfile").is_none());
    assert_eq!(
        a["onPremisesExtensionAttributes"][USER_ANCHOR],
        export::anchor_value(ada.guid)
    );
    let c = by_upn(&graph, "cleo@fabrikam.test");
    assert_eq!(
        c["displayName"], "Cleo Cloud",
        "the matched user is updated"
    );
    assert_eq!(
        c["accountEnabled"], true,
        "an update leaves the account state alone"
    );
    assert!(
        writes(&graph).contains(&format!("PATCH /users/{}", id(&c))),
        "{:?}",
        writes(&graph)
    );
    let crew_t = by_name(&graph, GraphKind::Groups, "Crew");
    let pilots_t = by_name(&graph, GraphKind::Groups, "Pilots");
    assert_eq!(pilots_t["securityEnabled"], true);
    assert_eq!(
        graph.members_of(&id(&pilots_t)),
        sorted(vec![id(&a), id(&crew_t), id(&c)]),
        "members are the translations of the source members, nested groups as groups"
    );
    assert_eq!(
        graph.members_of(&id(&crew_t)),
        vec![id(&by_upn(&graph, "bob@fabrikam.test"))]
    );
    let msgs = t
        .app
        .store
        .object_messages(s, ada.guid)
        .await
        .expect("messages");
    assert!(
        msgs.iter()
            .any(|(stage, m)| stage.starts_with("export:") && m.message.contains("created")),
        "{msgs:?}"
    );

    // A second cycle without a source change writes nothing.
    let before = writes(&graph).len();
    let second = cycle(&t).await;
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    let run = &export::runs(&t.app, s, d).await.expect("runs")[0];
    assert_eq!(
        (
            run.created,
            run.updated,
            run.memberships,
            run.disabled,
            run.refused,
            run.unchanged
        ),
        (0, 0, 0, 0, 0, 5),
        "{run:?}"
    );
    assert_eq!(
        writes(&graph).len(),
        before,
        "{:?}",
        &writes(&graph)[before..]
    );
    assert!(throttle_waits(&sleeper).is_empty(), "{:?}", sleeper.waits());

    // An administrator enables Bob; then Bob leaves the source and Crew.
    let b = by_upn(&graph, "bob@fabrikam.test");
    graph.update(GraphKind::Users, &id(&b), json!({"accountEnabled": true}));
    crew.members.clear();
    write_source(
        &files,
        &[ada.clone(), cleo.clone(), crew.clone(), pilots.clone()],
    );
    import_source(&t, s).await;
    let preview = export::what_if(&t.app, s, d).await.expect("what if");
    let changes: Vec<&Change> = preview.profiles.iter().flat_map(|p| &p.changes).collect();
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Disable { name, .. } if name == "Bob Byte")),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Members { remove, .. } if remove.len() == 1)),
        "{changes:?}"
    );
    assert_eq!(
        by_upn(&graph, "bob@fabrikam.test")["accountEnabled"],
        true,
        "What If writes nothing"
    );
    // Graph throttles the first write; it is sent again after the wait Graph asks for.
    graph.throttle_writes(1, 7);
    let third = cycle(&t).await;
    assert!(third.errors.is_empty(), "{:?}", third.errors);
    assert_eq!(throttle_waits(&sleeper), vec![7]);
    let gone = by_upn(&graph, "bob@fabrikam.test");
    assert_eq!(gone["accountEnabled"], false, "disabled, never deleted");
    assert!(graph.members_of(&id(&crew_t)).is_empty());
}

#[tokio::test]
async fn an_entra_export_that_fails_half_way_resumes_without_duplicates() {
    let graph = tenant("8f1c0e52-3f0a-4d8e-9b44-6f3d7c1a2b91", "fabrikam.test").await;
    let files = TestDir::new();
    let users: Vec<DirectoryObject> = (0..4)
        .map(|i| {
            object(
                ObjectKind::User,
                &format!("User {i}"),
                &format!("u{i}"),
                None,
            )
        })
        .collect();
    write_source(&files, &users);
    let (t, _sleeper, s, d) = pair(&graph, &files).await;
    export::put_profile(&t.app, None, profile(s, d, ExportKind::Users))
        .await
        .expect("profile");
    import_source(&t, s).await;
    graph.fail_writes_after(Some(2));
    let err = export::run(&t.app, s, d).await.expect_err("the run stops");
    assert!(err.to_string().contains("Microsoft Graph"), "{err}");
    let stopped = &export::runs(&t.app, s, d).await.expect("runs")[0];
    assert_eq!(stopped.created, 2, "{stopped:?}");
    assert!(stopped.error.is_some());
    graph.fail_writes_after(None);
    // The target was not imported again: the two made are found by their anchors.
    let resumed = export::run(&t.app, s, d).await.expect("resumed");
    assert_eq!((resumed.created, resumed.unchanged), (2, 2), "{resumed:?}");
    assert_eq!(graph.objects(GraphKind::Users).len(), 4);
}

#[tokio::test]
async fn entra_to_entra_takes_only_what_the_graph_filter_names_and_moves_the_domain() {
    let source = tenant("11111111-3f0a-4d8e-9b44-6f3d7c1a2b90", "contoso.test").await;
    let target = tenant("22222222-3f0a-4d8e-9b44-6f3d7c1a2b90", "fabrikam.test").await;
    for (i, department) in ["Sales", "Sales", "Research"].iter().enumerate() {
        source.put(
            GraphKind::Users,
            json!({"id": format!("00000000-0000-4000-8000-00000000000{i}"),
                "displayName": format!("Person {i}"), "givenName": "Person",
                "userPrincipalName": format!("p{i}@contoso.test"), "department": department,
                "accountEnabled": true}),
        );
    }
    let t = TestApp::new().await;
    let s = directory(&t, "CONTOSO", "contoso.test", DirectoryKind::EntraId).await;
    let d = directory(&t, "FABRIKAM", "fabrikam.test", DirectoryKind::EntraId).await;
    for (dir, graph) in [(s, &source), (d, &target)] {
        connection::set_connection(&t.app, dir, Connection::Graph(graph.config()))
            .await
            .expect("connection");
    }
    let mut users = profile(s, d, ExportKind::Users);
    users.scope.graph_filter = Some("department eq 'Sales'".into());
    export::put_profile(&t.app, None, users)
        .await
        .expect("profile");
    let c = cycle(&t).await;
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let made: Vec<String> = sorted(
        target
            .objects(GraphKind::Users)
            .iter()
            .map(|u| {
                u["userPrincipalName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect(),
    );
    assert_eq!(made, ["p0@fabrikam.test", "p1@fabrikam.test"]);
    let p0 = by_upn(&target, "p0@fabrikam.test");
    assert_eq!(
        (p0["mailNickname"].as_str(), p0["givenName"].as_str()),
        (Some("p0"), Some("Person"))
    );
    assert!(
        source
            .requests()
            .iter()
            .any(|r| r.contains("$filter=department eq 'Sales'")),
        "the filter is asked of the source tenant"
    );

    // A filter Graph could not parse is refused by name before anything is stored.
    let mut bad = profile(d, s, ExportKind::Users);
    bad.scope.graph_filter = Some("department eq 'Sales".into());
    let err = export::put_profile(&t.app, None, bad)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("scope.graph_filter"), "{err}");
}

/// The waits asked for by throttling, without the cycle's lease renewals (which wait through the
/// same sleeper every `RENEW_SECONDS`).
fn throttle_waits(sleeper: &RecordingSleeper) -> Vec<u64> {
    let renewal = server::directory::schedule::RENEW_SECONDS;
    sleeper
        .waits()
        .into_iter()
        .filter(|w| *w != renewal)
        .collect()
}
