//! DirSync export into the live Samba target DC (FABRIKAM) from the source DC (CONTOSO), both
//! started by `scripts/samba-dcs up`: create, update, rename, leaving the scope, nested group
//! membership, contacts, a second cycle that writes nothing, and a run that fails half way and
//! resumes without duplicates. Each test works in OUs of its own and removes them afterwards.

use std::collections::{HashMap, HashSet};

use ldap3::{Ldap, LdapConnAsync, Mod, Scope, SearchEntry};
use model::directory::{Directory, DirectoryKind};
use model::ids::{DirectoryId, ObjectGuid};
use server::directory::connection::{self, Connection};
use server::directory::export::plan::{Change, TargetEntry};
use server::directory::export::profile::{
    DeletionPolicy, ExportKind, ProfileBody, Scope as ProfileScope, SyncMode,
};
use server::directory::export::{self, Applied, TargetWriter};
use server::directory::ldap::LdapConfig;
use server::directory::BoxFuture;

use crate::support::TestApp;

struct Dc {
    url: String,
    ldaps_url: String,
    domain: String,
    base_dn: String,
    bind_dn: String,
    password: String,
}

fn dcs() -> Option<(Dc, Dc)> {
    match std::env::var("REHOME_TEST_LDAP").as_deref() {
        Ok("skip") => {
            eprintln!("REHOME_TEST_LDAP=skip: the export tests against Samba did not run");
            return None;
        }
        Ok(_) => {}
        Err(_) => panic!(
            "the export tests need the Samba domain controllers: run `eval \"$(scripts/samba-dcs up)\"` \
             first (as root), or set REHOME_TEST_LDAP=skip to skip them"
        ),
    }
    let var = |name: String| {
        std::env::var(&name)
            .unwrap_or_else(|_| panic!("{name} is not set: run scripts/samba-dcs up"))
    };
    let dc = |role: &str| Dc {
        url: var(format!("REHOME_TEST_LDAP_{role}_URL")),
        ldaps_url: var(format!("REHOME_TEST_LDAP_{role}_LDAPS_URL")),
        domain: var(format!("REHOME_TEST_LDAP_{role}_DOMAIN")),
        base_dn: var(format!("REHOME_TEST_LDAP_{role}_BASE_DN")),
        bind_dn: var(format!("REHOME_TEST_LDAP_{role}_BIND_DN")),
        password: var("REHOME_TEST_LDAP_PASSWORD".to_string()),
    };
    Some((dc("SOURCE"), dc("TARGET")))
}

async fn admin(dc: &Dc) -> Ldap {
    let (conn, mut ldap) = LdapConnAsync::new(&dc.url).await.expect("connect");
    ldap3::drive!(conn);
    ldap.simple_bind(&dc.bind_dn, &dc.password)
        .await
        .expect("bind")
        .success()
        .expect("bind accepted");
    ldap
}

async fn add(ldap: &mut Ldap, dn: &str, attrs: &[(&str, &str)]) {
    let mut map: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (k, v) in attrs {
        map.entry(*k).or_default().insert(*v);
    }
    ldap.add(dn, map.into_iter().collect())
        .await
        .expect("add")
        .success()
        .unwrap_or_else(|e| panic!("add {dn}: {e}"));
}

async fn ou(ldap: &mut Ldap, dn: &str) {
    add(ldap, dn, &[("objectClass", "organizationalUnit")]).await;
}

/// Removes `base` and everything under it, deepest first.
async fn remove_tree(ldap: &mut Ldap, base: &str) {
    let Ok(found) = ldap
        .search(base, Scope::Subtree, "(objectClass=*)", vec!["1.1"])
        .await
    else {
        return;
    };
    let Ok((entries, _)) = found.success() else {
        return;
    };
    let mut dns: Vec<String> = entries
        .into_iter()
        .map(|e| SearchEntry::construct(e).dn)
        .collect();
    dns.sort_by_key(|d| std::cmp::Reverse(d.len()));
    for dn in dns {
        let _ = ldap.delete(&dn).await;
    }
}

/// Entries under `base` matching `filter`, by cn, with their attributes.
async fn read(ldap: &mut Ldap, base: &str, filter: &str) -> HashMap<String, SearchEntry> {
    let (entries, _) = ldap
        .search(base, Scope::Subtree, filter, vec!["*"])
        .await
        .expect("search")
        .success()
        .expect("search done");
    entries
        .into_iter()
        .map(SearchEntry::construct)
        .map(|e| {
            let cn = e
                .attrs
                .get("cn")
                .and_then(|v| v.first())
                .cloned()
                .unwrap_or_default();
            (cn, e)
        })
        .collect()
}

fn value_of<'a>(e: &'a SearchEntry, name: &str) -> Option<&'a str> {
    e.attrs
        .get(name)
        .and_then(|v| v.first())
        .map(String::as_str)
}

/// Both directories with their connections (the target over LDAPS), scoped to the test's OUs.
async fn directories(
    t: &TestApp,
    source: &Dc,
    target: &Dc,
    source_ou: &str,
    target_ou: &str,
) -> (DirectoryId, DirectoryId) {
    let mut ids = Vec::new();
    for (name, dc, base, ldaps) in [
        ("CONTOSO", source, source_ou, false),
        ("FABRIKAM", target, target_ou, true),
    ] {
        let d = server::directory::create(
            &t.app,
            Directory {
                id: DirectoryId::new(),
                name: name.into(),
                kind: DirectoryKind::ActiveDirectory,
                domain: dc.domain.clone(),
                domain_id: None,
            },
        )
        .await
        .expect("directory");
        let mut c = LdapConfig::new(
            if ldaps { &dc.ldaps_url } else { &dc.url },
            &dc.bind_dn,
            &dc.password,
        );
        c.accept_invalid_certs = ldaps;
        c.base_dns = vec![base.to_string()];
        connection::set_connection(&t.app, d.id, Connection::Ldap(c))
            .await
            .expect("connection");
        ids.push(d.id);
    }
    (ids[0], ids[1])
}

fn body(
    name: &str,
    source: DirectoryId,
    target: DirectoryId,
    kind: ExportKind,
    container: &str,
) -> ProfileBody {
    ProfileBody {
        name: name.into(),
        source,
        target,
        kind,
        mode: SyncMode::CreateOrUpdate,
        scope: ProfileScope::default(),
        flow: Vec::new(),
        containers: Vec::new(),
        default_container: Some(container.to_string()),
        deletion: DeletionPolicy::Leave,
    }
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

fn tag() -> String {
    format!("x{}", &ObjectGuid::new().to_string()[..8])
}

#[tokio::test]
async fn create_update_rename_leave_scope_and_nested_membership_then_nothing_to_write() {
    let Some((contoso, fabrikam)) = dcs() else {
        return;
    };
    let tag = tag();
    let mut src = admin(&contoso).await;
    let mut dst = admin(&fabrikam).await;
    let s_root = format!("OU={tag},{}", contoso.base_dn);
    let s_in = format!("OU=In,{s_root}");
    let s_out = format!("OU=Out,{s_root}");
    let d_root = format!("OU={tag},{}", fabrikam.base_dn);
    let d_gone = format!("OU=Departed,{d_root}");
    for dn in [&s_root, &s_in, &s_out] {
        ou(&mut src, dn).await;
    }
    ou(&mut dst, &d_root).await;
    ou(&mut dst, &d_gone).await;
    let ada = format!("{tag}ada");
    let bob = format!("{tag}bob");
    let user = |name: &str| {
        vec![
            ("objectClass".to_string(), "user".to_string()),
            ("sAMAccountName".to_string(), name.to_string()),
            (
                "userPrincipalName".to_string(),
                format!("{name}@{}", contoso.domain),
            ),
            ("givenName".to_string(), "Ada".to_string()),
            ("sn".to_string(), "Lovelace".to_string()),
            ("mail".to_string(), format!("{name}@contoso.example")),
        ]
    };
    for name in [&ada, &bob] {
        let attrs = user(name);
        let attrs: Vec<(&str, &str)> = attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        add(&mut src, &format!("CN={name},{s_in}"), &attrs).await;
    }
    let inner = format!("{tag}inner");
    let outer = format!("{tag}outer");
    let bob_dn = format!("CN={bob},{s_in}");
    let ada_dn = format!("CN={ada},{s_in}");
    let inner_dn = format!("CN={inner},{s_in}");
    add(
        &mut src,
        &inner_dn,
        &[
            ("objectClass", "group"),
            ("sAMAccountName", &inner),
            ("member", &bob_dn),
        ],
    )
    .await;
    add(
        &mut src,
        &format!("CN={outer},{s_in}"),
        &[
            ("objectClass", "group"),
            ("sAMAccountName", &outer),
            ("member", &inner_dn),
            ("member", &ada_dn),
        ],
    )
    .await;
    let contact = format!("{tag}contact");
    add(
        &mut src,
        &format!("CN={contact},{s_in}"),
        &[
            ("objectClass", "contact"),
            ("mail", "partner@elsewhere.example"),
            ("givenName", "Pat"),
        ],
    )
    .await;

    let t = TestApp::new().await;
    let (s, d) = directories(&t, &contoso, &fabrikam, &s_root, &d_root).await;
    let mut users = body("Users", s, d, ExportKind::Users, &d_root);
    users.scope.ous = vec![s_in.clone()];
    users.deletion = DeletionPolicy::Disable;
    export::put_profile(&t.app, None, users)
        .await
        .expect("users profile");
    export::put_profile(
        &t.app,
        None,
        body("Contacts", s, d, ExportKind::Contacts, &d_root),
    )
    .await
    .expect("contacts profile");
    export::put_profile(
        &t.app,
        None,
        body("Groups", s, d, ExportKind::Groups, &d_root),
    )
    .await
    .expect("groups profile");

    let cleanup = (src.clone(), dst.clone(), s_root.clone(), d_root.clone());
    let result = tokio::spawn(async move {
        // First cycle: import both, match (nothing yet), create everything.
        let first = cycle(&t).await;
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        assert_eq!(first.exported.len(), 1);
        let runs = export::runs(&t.app, s, d).await.expect("runs");
        let run = &runs[0];
        assert_eq!(
            (run.created, run.updated, run.refused),
            (5, 0, 0),
            "{run:?}"
        );
        assert_eq!(run.memberships, 2, "both groups get their members");
        let made = read(&mut dst, &d_root, "(objectClass=*)").await;
        let a = &made[&ada];
        assert_eq!(
            value_of(a, "userPrincipalName"),
            Some(format!("{ada}@{}", fabrikam.domain).as_str())
        );
        assert_eq!(value_of(a, "givenName"), Some("Ada"));
        let control: u64 = value_of(a, "userAccountControl")
            .expect("uac")
            .parse()
            .expect("number");
        assert_ne!(
            control & 2,
            0,
            "a created user is disabled until someone enables it"
        );
        assert!(value_of(a, "adminDescription").is_some_and(|v| v.starts_with("rehome:")));
        let c = &made[&contact];
        assert_eq!(
            value_of(c, "mail"),
            Some("partner@elsewhere.example"),
            "contacts are mail-enabled"
        );
        let members = |e: &SearchEntry| -> HashSet<String> {
            e.attrs
                .get("member")
                .into_iter()
                .flatten()
                .map(|m| m.split(',').next().unwrap_or_default().to_lowercase())
                .collect()
        };
        assert_eq!(
            members(&made[&outer]),
            HashSet::from([
                format!("cn={inner}").to_lowercase(),
                format!("cn={ada}").to_lowercase()
            ]),
            "nested groups are members as groups"
        );
        assert_eq!(
            members(&made[&inner]),
            HashSet::from([format!("cn={bob}").to_lowercase()])
        );

        // Second cycle without a source change writes nothing.
        let second = cycle(&t).await;
        assert!(second.errors.is_empty(), "{:?}", second.errors);
        let run = &export::runs(&t.app, s, d).await.expect("runs")[0];
        assert_eq!(
            (
                run.created,
                run.updated,
                run.moved,
                run.memberships,
                run.disabled,
                run.refused
            ),
            (0, 0, 0, 0, 0, 0),
            "{run:?}"
        );
        assert_eq!(run.unchanged, 5);

        // An administrator enables bob in the target; exports never undo that.
        dst.modify(
            &format!("CN={bob},{d_root}"),
            vec![Mod::Replace("userAccountControl", HashSet::from(["512"]))],
        )
        .await
        .expect("enable")
        .success()
        .expect("enabled");

        // What If shows the exact modify before a run makes it; a rename moves the RDN.
        src.modify(
            &ada_dn,
            vec![
                Mod::Replace("givenName", HashSet::from(["Augusta"])),
                Mod::Replace("displayName", HashSet::from(["Augusta Ada King"])),
            ],
        )
        .await
        .expect("modify")
        .success()
        .expect("modified");
        src.modifydn(&bob_dn, &format!("CN={bob}"), true, Some(&s_out))
            .await
            .expect("move")
            .success()
            .expect("moved out of scope");
        let source = connection::source_for(&t.app, s).await.expect("source");
        server::directory::import_with(
            &t.app,
            s,
            source.as_ref(),
            server::directory::ImportMode::Full,
        )
        .await
        .expect("import");
        let preview = export::what_if(&t.app, s, d).await.expect("what if");
        let user_changes = &preview
            .profiles
            .iter()
            .find(|p| p.kind == ExportKind::Users)
            .expect("users")
            .changes;
        let update = user_changes
            .iter()
            .find_map(|c| match c {
                Change::Update { attributes, .. } => Some(attributes),
                _ => None,
            })
            .expect("an update");
        let given = update
            .iter()
            .find(|a| a.attribute == "givenName")
            .expect("givenName changes");
        assert_eq!(
            (given.old.as_deref(), given.new.as_str()),
            (Some("Ada"), "Augusta")
        );
        assert!(user_changes.iter().any(
            |c| matches!(c, Change::Move { new_rdn, .. } if new_rdn == "CN=Augusta Ada King")
        ));
        assert!(
            user_changes
                .iter()
                .any(|c| matches!(c, Change::Disable { .. })),
            "bob left the scope"
        );
        let unchanged = read(&mut dst, &d_root, "(objectClass=user)").await;
        assert_eq!(
            value_of(&unchanged[&ada], "givenName"),
            Some("Ada"),
            "What If writes nothing"
        );

        let third = cycle(&t).await;
        assert!(third.errors.is_empty(), "{:?}", third.errors);
        let after = read(&mut dst, &d_root, "(objectClass=user)").await;
        let renamed = after
            .get("Augusta Ada King")
            .expect("renamed in the target");
        assert_eq!(value_of(renamed, "givenName"), Some("Augusta"));
        let b: u64 = value_of(&after[&bob], "userAccountControl")
            .expect("uac")
            .parse()
            .expect("n");
        assert_ne!(b & 2, 0, "bob's target is disabled, not deleted");
        let msgs = t
            .app
            .store
            .object_messages(s, after_guid(&t, s, &ada).await)
            .await
            .expect("messages");
        assert!(
            msgs.iter()
                .any(|(stage, m)| stage.starts_with("export:") && m.message.contains("givenName")),
            "{msgs:?}"
        );
        let fourth = cycle(&t).await;
        assert!(fourth.errors.is_empty(), "{:?}", fourth.errors);
        let run = &export::runs(&t.app, s, d).await.expect("runs")[0];
        assert_eq!(
            (run.created, run.updated, run.moved, run.disabled),
            (0, 0, 0, 0),
            "{run:?}"
        );
    })
    .await;
    cleaned(cleanup, result).await;
}

/// Removes both test OUs, then fails as the test did, if it did.
async fn cleaned(
    (mut src, mut dst, s_root, d_root): (Ldap, Ldap, String, String),
    result: Result<(), tokio::task::JoinError>,
) {
    remove_tree(&mut src, &s_root).await;
    remove_tree(&mut dst, &d_root).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn after_guid(t: &TestApp, directory: DirectoryId, sam: &str) -> ObjectGuid {
    t.app
        .store
        .objects(directory, None)
        .await
        .expect("objects")
        .into_iter()
        .find(|o| o.sam_account_name.as_deref() == Some(sam))
        .expect("the source user")
        .guid
}

/// A writer that passes `budget` writes to the real one, then fails as a dropped connection does.
struct FailAfter<'a> {
    inner: &'a dyn TargetWriter,
    budget: std::sync::atomic::AtomicUsize,
}

impl TargetWriter for FailAfter<'_> {
    fn read<'a>(
        &'a self,
        kind: ExportKind,
        attributes: &'a [String],
    ) -> BoxFuture<'a, server::Result<Vec<TargetEntry>>> {
        self.inner.read(kind, attributes)
    }

    fn apply<'a>(
        &'a self,
        change: &'a Change,
        created: &'a HashMap<ObjectGuid, ObjectGuid>,
    ) -> BoxFuture<'a, server::Result<Applied>> {
        use std::sync::atomic::Ordering;
        if self.budget.fetch_sub(1, Ordering::SeqCst) == 0 {
            self.budget.store(0, Ordering::SeqCst);
            return Box::pin(async {
                Err(server::Error::upstream(
                    server::Upstream::LDAP,
                    "url",
                    "the connection was reset",
                ))
            });
        }
        self.inner.apply(change, created)
    }

    fn operations(&self) -> u64 {
        self.inner.operations()
    }
}

#[tokio::test]
async fn an_export_that_fails_half_way_resumes_without_duplicates() {
    let Some((contoso, fabrikam)) = dcs() else {
        return;
    };
    let tag = tag();
    let mut src = admin(&contoso).await;
    let mut dst = admin(&fabrikam).await;
    let s_root = format!("OU={tag},{}", contoso.base_dn);
    let d_root = format!("OU={tag},{}", fabrikam.base_dn);
    ou(&mut src, &s_root).await;
    ou(&mut dst, &d_root).await;
    let names: Vec<String> = (0..4).map(|i| format!("{tag}u{i}")).collect();
    for name in &names {
        add(
            &mut src,
            &format!("CN={name},{s_root}"),
            &[("objectClass", "user"), ("sAMAccountName", name)],
        )
        .await;
    }
    let t = TestApp::new().await;
    let (s, d) = directories(&t, &contoso, &fabrikam, &s_root, &d_root).await;
    export::put_profile(
        &t.app,
        None,
        body("Users", s, d, ExportKind::Users, &d_root),
    )
    .await
    .expect("profile");
    let cleanup = (src.clone(), dst.clone(), s_root.clone(), d_root.clone());
    let result = tokio::spawn(async move {
        for dir in [s, d] {
            let source = connection::source_for(&t.app, dir).await.expect("source");
            server::directory::import_with(
                &t.app,
                dir,
                source.as_ref(),
                server::directory::ImportMode::Full,
            )
            .await
            .expect("import");
        }
        let real = export::writer_for(
            &t.app,
            d,
            &export::profiles(&t.app).await.expect("profiles"),
        )
        .await
        .expect("writer");
        let failing = FailAfter {
            inner: real.as_ref(),
            budget: std::sync::atomic::AtomicUsize::new(2),
        };
        let err = export::run_with(&t.app, s, d, &failing)
            .await
            .expect_err("the run stops");
        assert!(err.to_string().contains("connection was reset"), "{err}");
        let stopped = &export::runs(&t.app, s, d).await.expect("runs")[0];
        assert_eq!(stopped.created, 2);
        assert!(
            stopped
                .error
                .as_deref()
                .is_some_and(|e| e.contains("reset")),
            "{stopped:?}"
        );
        // The target was not imported again: the resumed run finds the two by their anchors.
        let resumed = export::run(&t.app, s, d).await.expect("resumed");
        assert_eq!((resumed.created, resumed.unchanged), (2, 2), "{resumed:?}");
        let made = read(&mut dst, &d_root, "(objectClass=user)").await;
        assert_eq!(made.len(), 4, "{:?}", made.keys().collect::<Vec<_>>());
    })
    .await;
    cleaned(cleanup, result).await;
}

/// Two directories read from documents, with a Create-or-Update users profile between them.
async fn documented_pair(
    t: &TestApp,
    files: &server::store::testing::TestDir,
) -> (DirectoryId, DirectoryId) {
    use crate::directory::{directory, object};
    use model::directory::ObjectKind;
    use server::directory::file::DirectoryDocument;
    let s = directory(t, "CONTOSO", "contoso.test", DirectoryKind::ActiveDirectory).await;
    let d = directory(
        t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    for (id, name, domain, sid) in [
        (s, "s.json", "contoso.test", "S-1-5-21-1-2-3"),
        (d, "d.json", "fabrikam.test", "S-1-5-21-4-5-6"),
    ] {
        let doc = DirectoryDocument {
            domain: domain.into(),
            domain_sid: Some(sid.into()),
            objects: vec![object(
                ObjectKind::User,
                "ann",
                "ann",
                Some(&format!("{sid}-1100")),
            )],
        };
        let path = files.path().join(name);
        std::fs::write(&path, serde_json::to_vec(&doc).expect("json")).expect("write");
        connection::set_connection(&t.app, id, Connection::File { path })
            .await
            .expect("connection");
    }
    export::put_profile(
        &t.app,
        None,
        body(
            "Users",
            s,
            d,
            ExportKind::Users,
            "OU=Staff,DC=fabrikam,DC=test",
        ),
    )
    .await
    .expect("profile");
    (s, d)
}

#[tokio::test]
async fn without_a_sync_licence_export_says_so_and_import_and_matching_go_on() {
    use model::clock::Clock as _;
    use model::licence::{issue, IssuerKey, Licence, Product};
    let key = IssuerKey::generate();
    let t = TestApp::with_settings(server::Settings {
        licence_issuers: vec![key.public()],
        ..server::Settings::default()
    })
    .await;
    let files = server::store::testing::TestDir::new();
    let (s, d) = documented_pair(&t, &files).await;
    let c = cycle(&t).await;
    assert_eq!(c.imported.len(), 2, "{c:?}");
    assert_eq!(c.matched.len(), 1, "{c:?}");
    assert!(c.exported.is_empty());
    assert!(
        c.errors
            .iter()
            .any(|e| e.contains("no licence for domain fabrikam.test")),
        "{:?}",
        c.errors
    );
    assert_eq!(
        t.app
            .store
            .pair_translations(s, d)
            .await
            .expect("rows")
            .len(),
        1,
        "matching went on"
    );

    // A migration-only licence is not a DirSync licence; a sync licence for both domains is.
    let now = t.clock.now();
    let licence = |products: Vec<Product>| Licence {
        id: model::ids::LicenceId::new(),
        customer: "Contoso Ltd".into(),
        products,
        source_domains: vec!["contoso.test".into()],
        target_domains: vec!["fabrikam.test".into()],
        devices: 10,
        issued_at: now,
        expires_at: now + chrono::Duration::days(365),
        issuer: model::envelope::Key32([0; 32]),
    };
    server::licences::apply(
        &t.app,
        &issue(&key, &licence(vec![Product::Migration])).expect("issue"),
    )
    .await
    .expect("apply");
    let still = export::run(&t.app, s, d).await.expect_err("migration only");
    assert!(
        still.to_string().contains("no licence for domain"),
        "{still}"
    );
    server::licences::apply(
        &t.app,
        &issue(&key, &licence(vec![Product::Sync])).expect("issue"),
    )
    .await
    .expect("apply");
    let next = export::run(&t.app, s, d)
        .await
        .expect_err("a document cannot be written");
    assert!(
        !next.to_string().contains("licence"),
        "the licence is accepted now: {next}"
    );
    assert!(next.to_string().contains("cannot be written"), "{next}");
}

#[tokio::test]
async fn sync_profiles_through_the_api() {
    use axum::http::StatusCode;
    use server::auth::Role;
    let t = TestApp::new().await;
    let files = server::store::testing::TestDir::new();
    let (s, d) = documented_pair(&t, &files).await;
    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let viewer = t.token_with_roles(&[Role::SyncViewer]).await;
    let listed = t.get("/api/v1/sync/profiles", &viewer).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json()[0]["mode"], "create_or_update");
    let groups = serde_json::json!({
        "name": "AD to AD Groups", "source": s, "target": d, "kind": "groups",
        "mode": "create_or_update", "default_container": "OU=Groups,DC=fabrikam,DC=test",
        "flow": [{"target": "cn", "source": "name"}, {"target": "sAMAccountName", "source": "concat(\"g-\", sAMAccountName)"}],
        "deletion": {"action": "move", "container": "OU=Old,DC=fabrikam,DC=test"}
    });
    let refused = t
        .post_json("/api/v1/sync/profiles", &viewer, groups.clone())
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let made = t
        .post_json("/api/v1/sync/profiles", &admin, groups.clone())
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    assert_eq!(
        made.json()["flow"][1]["source"],
        "concat(\"g-\", sAMAccountName)"
    );
    let again = t.post_json("/api/v1/sync/profiles", &admin, groups).await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "one profile per kind and pair"
    );
    let bad = t
        .post_json(
            "/api/v1/sync/profiles",
            &admin,
            serde_json::json!({"name": "x", "source": s, "target": d, "kind": "contacts",
                "mode": "create_or_update", "flow": [{"target": "unicodePwd", "source": "mail"}]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = bad.json()["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["field"].as_str().map(str::to_string))
        .collect();
    assert_eq!(fields, ["flow[0].target", "default_container"]);
    // What If reads the target, and a document target cannot be read as one to write.
    let what_if = t
        .post_json(
            "/api/v1/sync/export/what-if",
            &viewer,
            serde_json::json!({"source": s, "target": d}),
        )
        .await;
    assert_eq!(
        what_if.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        what_if.text()
    );
    let runs = t
        .get(
            &format!("/api/v1/sync/export/runs?source={s}&target={d}"),
            &viewer,
        )
        .await;
    assert_eq!(runs.status, StatusCode::OK);
    assert_eq!(runs.json(), serde_json::json!([]));
}

#[tokio::test]
async fn a_scope_filter_the_source_cannot_apply_is_refused_when_the_profile_is_saved() {
    use axum::http::StatusCode;
    use server::auth::Role;
    let t = TestApp::new().await;
    let ad = crate::directory::directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let entra =
        crate::directory::directory(&t, "CLOUD", "cloud.test", DirectoryKind::EntraId).await;
    let target = crate::directory::directory(
        &t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let profile = |source: DirectoryId, scope: serde_json::Value| {
        serde_json::json!({"name": format!("Users {source}"), "source": source, "target": target,
            "kind": "users", "mode": "create_or_update", "scope": scope,
            "default_container": "OU=Staff,DC=fabrikam,DC=test"})
    };
    let before = t.get("/api/v1/sync/profiles", &admin).await.json();
    for (source, scope, field) in [
        (
            entra,
            serde_json::json!({"ldap_filter": "(department=Sales)"}),
            "scope.ldap_filter",
        ),
        (
            ad,
            serde_json::json!({"graph_filter": "department eq 'Sales'"}),
            "scope.graph_filter",
        ),
    ] {
        let r = t
            .post_json("/api/v1/sync/profiles", &admin, profile(source, scope))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(r.json()["fields"][0]["field"], field, "{}", r.text());
    }
    assert_eq!(t.get("/api/v1/sync/profiles", &admin).await.json(), before);

    // An update is checked as a new profile is.
    let made = t
        .post_json(
            "/api/v1/sync/profiles",
            &admin,
            profile(entra, serde_json::json!({})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let path = format!(
        "/api/v1/sync/profiles/{}",
        made.json()["id"].as_str().expect("id")
    );
    let stored = t.get(&path, &admin).await.json();
    let r = t
        .put_json(
            &path,
            &admin,
            profile(
                entra,
                serde_json::json!({"ldap_filter": "(department=Sales)"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["fields"][0]["field"], "scope.ldap_filter");
    assert_eq!(t.get(&path, &admin).await.json(), stored);
}
