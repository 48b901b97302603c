//! Hybrid identities end to end: a real server on the chosen backend, directories imported from
//! documents with every SID their objects have, matched, and an agent on a simulated workstation
//! migrating it. After each run the profile owner, the ProfileList, a file's ACEs and the local
//! Administrators group must hold the SID the target user will sign in with on that device after
//! the join: the AD SID after an AD join, the `S-1-12-1-…` SID after an Entra join.

use std::sync::Arc;

use agent::{AgentConfig, Exit, SecurityParts, SimSpec, SimState, SimUser, SimWorkstation};
use chrono::Duration;
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::clock::SystemClock;
use model::directory::{Directory, DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{BatchId, BulkTokenId, DirectoryId, ObjectGuid, RunbookId};
use model::plan::JoinState;
use model::runbook::{
    ActiveDirectoryJoin, Area, DeviceStateSettings, DomainJoin, PermissionMode, PermissionSettings,
    RemoveFrom, Runbook, Secret,
};
use model::status::AgentStatus;
use secdesc::{SecurityDescriptor, Sid};
use server::directory::file::DirectoryDocument;
use server::directory::graph::entra_sid;
use server::directory::profile::{self, MatchProfile};
use server::store::enrollment::BulkTokenRow;
use server::store::testing::{fresh_store, TestDir};
use server::{App, Settings};

use crate::support::blocking;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use server::auth::Role;
use tower::ServiceExt;

mod plan;

pub(crate) const COMPUTER: &str = "HYB-PC01";
/// A file in Alice's profile that names one of her SIDs explicitly.
const ALICE_FILE: &str = "C:\\Users\\alice\\Documents\\Notes.txt";

pub(crate) fn sid(text: &str) -> Sid {
    text.parse().expect("test SID")
}

/// One directory as a test describes it.
pub(crate) struct Side {
    pub name: &'static str,
    pub kind: DirectoryKind,
    pub domain: &'static str,
    pub objects: Vec<DirectoryObject>,
}

pub(crate) fn ad_user(name: &str, own: &str) -> DirectoryObject {
    let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, name);
    o.sid = Some(sid(own));
    o.sam_account_name = Some(name.to_lowercase());
    o.upn = Some(format!("{}@ad.test", name.to_lowercase()));
    o
}

pub(crate) fn ad_group(name: &str, own: &str) -> DirectoryObject {
    let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::Group, name);
    o.sid = Some(sid(own));
    o.sam_account_name = Some(name.to_lowercase());
    o
}

/// An Entra object: its SID is the one derived from its id; `on_premises` makes it a
/// synchronised one, with the AD object's SID, sAMAccountName and immutable id.
pub(crate) fn cloud(
    kind: ObjectKind,
    name: &str,
    on_premises: Option<&DirectoryObject>,
    sam: &str,
) -> DirectoryObject {
    let guid = ObjectGuid::new();
    let mut o = DirectoryObject::new(guid, kind, name);
    o.sid = Some(entra_sid(guid));
    o.upn = Some(format!("{}@tenant.test", sam));
    if let Some(ad) = on_premises {
        use base64::Engine;
        o.sam_account_name = ad.sam_account_name.clone();
        o.on_premises_sid = ad.sid.clone();
        o.immutable_id =
            Some(base64::engine::general_purpose::STANDARD.encode(ad.guid.0.to_bytes_le()));
    }
    o
}

/// Pairs users and groups by their display names, which both sides of these scenarios share.
pub(crate) fn by_name() -> MatchProfile {
    MatchProfile::by_attribute("name", profile::Attribute::Name)
}

pub(crate) fn computer(name: &str) -> DirectoryObject {
    let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::Computer, name);
    o.operating_system = Some("Windows 11 Enterprise".to_string());
    o
}

/// A server on a loopback port over a fresh store, with a PSK and an agent certificate.
pub(crate) struct Stage {
    pub app: App,
    pub url: String,
    pub psk: String,
    pub dir: TestDir,
    _store_dir: TestDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Stage {
    pub async fn start() -> Stage {
        let (store, store_dir) = fresh_store().await;
        let app = App::new(store, Arc::new(SystemClock), Settings::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let router = server::router(app.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let psk = server::migration::keys::create_psk(&app, Default::default())
            .await
            .expect("a PSK")
            .key;
        server::migration::keys::create_certificate(&app, Default::default())
            .await
            .expect("an agent certificate");
        Stage {
            app,
            url,
            psk,
            dir: TestDir::new(),
            _store_dir: store_dir,
            server,
        }
    }

    pub async fn directory(&self, side: &Side) -> DirectoryId {
        let directory = server::directory::create(
            &self.app,
            Directory {
                id: DirectoryId::new(),
                name: side.name.to_string(),
                kind: side.kind,
                domain: side.domain.to_string(),
                domain_id: None,
            },
        )
        .await
        .expect("add the directory");
        let path = self.dir.path().join(format!("{}.json", side.name));
        let document = DirectoryDocument {
            domain: side.domain.to_string(),
            domain_sid: None,
            objects: side.objects.clone(),
        };
        std::fs::write(&path, serde_json::to_vec(&document).expect("json")).expect("write");
        server::directory::import_file(&self.app, directory.id, &path)
            .await
            .expect("import");
        if side.kind == DirectoryKind::EntraId {
            let now = self.app.clock.now();
            let row = BulkTokenRow {
                id: BulkTokenId::new(),
                directory: directory.id,
                display_name: "package_test".to_string(),
                created_at: now,
                expires_at: now + Duration::days(30),
            };
            self.app
                .store
                .insert_bulk_token(&row, "test-bulk-token")
                .await
                .expect("a bulk enrollment token");
        }
        directory.id
    }

    /// A bearer token of a console user with the Agent Viewer role only.
    pub async fn viewer_token(&self) -> String {
        server::auth::create_user(
            &self.app,
            "reader",
            "a-long-reader-password-1",
            &[Role::AgentViewer],
            false,
        )
        .await
        .expect("user");
        let user = self
            .app
            .store
            .user_by_name("reader")
            .await
            .expect("read the user")
            .expect("the user");
        server::auth::issue_api_token(&self.app, user.id)
            .await
            .expect("token")
    }

    /// The body of `GET path` with `token`, which must answer 200.
    pub async fn get(&self, token: &str, path: &str) -> Vec<u8> {
        let response = server::router(self.app.clone())
            .oneshot(
                Request::get(path)
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        assert_eq!(
            status,
            StatusCode::OK,
            "{}: {}",
            path,
            String::from_utf8_lossy(&body)
        );
        body.to_vec()
    }

    /// Imports both sides and matches them under `profile`; every object finds its match.
    pub async fn pair(
        &self,
        source: &Side,
        target: &Side,
        profile: MatchProfile,
    ) -> (DirectoryId, DirectoryId) {
        let source_id = self.directory(source).await;
        let target_id = self.directory(target).await;
        let summary = server::directory::match_pair(&self.app, source_id, target_id, Some(profile))
            .await
            .expect("match");
        assert_eq!(summary.unmatched + summary.ambiguous, 0, "{:?}", summary);
        (source_id, target_id)
    }

    /// Imports both sides, matches them under `profile` and assigns a runbook leaving
    /// `remove_from` and joining `join` (the device change) to every computer of the source.
    async fn assign(
        &self,
        source: &Side,
        target: &Side,
        profile: MatchProfile,
        (remove_from, join): (RemoveFrom, DomainJoin),
    ) -> (DirectoryId, DirectoryId, Runbook) {
        let (source_id, target_id) = self.pair(source, target, profile).await;
        let mut device_state = DeviceStateSettings {
            remove_from,
            domain_join: join,
            ..Default::default()
        };
        if join == DomainJoin::ActiveDirectory {
            device_state.active_directory = ActiveDirectoryJoin {
                username: "TARGET\\rehome-join".to_string(),
                password: Secret::new("join-password"),
                ..Default::default()
            };
        }
        let runbook = self
            .assign_runbook(Runbook {
                id: RunbookId::new(),
                name: format!("{} to {}", source.name, target.name),
                source_directories: vec![source_id],
                target_directory: target_id,
                allow_on_server_os: false,
                startup: Default::default(),
                device_state,
                permissions: PermissionSettings {
                    mode: PermissionMode::AddAndRemove,
                    ..Default::default()
                },
                completion: Default::default(),
                prerequisites: Vec::new(),
                user_experience: Default::default(),
                apps: Default::default(),
            })
            .await;
        (source_id, target_id, runbook)
    }

    /// Creates `runbook` and a batch assigning it, enforced a minute ago, to every computer of
    /// its (first) source directory.
    pub async fn assign_runbook(&self, runbook: Runbook) -> Runbook {
        let source = runbook.source_directories[0];
        let target = runbook.target_directory;
        let runbook = server::migration::runbooks::create(&self.app, runbook)
            .await
            .expect("create the runbook");
        server::migration::batches::create(
            &self.app,
            Batch {
                id: BatchId::new(),
                name: format!("Wave of {}", runbook.name),
                source_directory: source,
                target_directory: target,
                assignments: vec![Assignment {
                    runbook: runbook.id,
                    available_from: None,
                    enforced_after: (self.app.clock.now() - Duration::minutes(1)).naive_utc(),
                    timezone: ScheduleTimezone::Utc,
                }],
                computers: ComputerSelection {
                    mode: SelectionMode::AllExcept,
                    computers: Vec::new(),
                },
            },
        )
        .await
        .expect("create the batch");
        runbook
    }

    /// [`Stage::assign`], then runs the agent on a workstation built from `spec` (after
    /// `prepare`), and returns the workstation afterwards with the plan preview of the server's
    /// answer.
    async fn migrate(
        &self,
        source: &Side,
        target: &Side,
        profile: MatchProfile,
        change: (RemoveFrom, DomainJoin),
        spec: &SimSpec,
        prepare: impl FnOnce(&mut SimWorkstation),
    ) -> (SimState, Vec<String>) {
        let join = change.1;
        let (source_id, target_id, runbook) = self.assign(source, target, profile, change).await;
        let dir = self.dir.path().join(&spec.computer_name);
        let mut workstation = SimWorkstation::create(&dir, spec).expect("create the workstation");
        prepare(&mut workstation);
        // The plan preview over what the server answers this device, before anything runs.
        let found: Vec<Sid> = {
            use agent::Workstation;
            workstation
                .list_sids()
                .expect("the device's SIDs")
                .into_iter()
                .collect()
        };
        let answer = server::directory::device_translation::for_device(
            &self.app,
            source_id,
            target_id,
            join.into(),
            &found,
        )
        .await
        .expect("the answer");
        let mut plan = Vec::new();
        agent::preview::preview_answer(
            &workstation,
            &runbook,
            &model::plan::TargetFacts {
                domain: target.domain.to_string(),
            },
            &answer.translations,
            &mut |line| plan.push(line),
        )
        .expect("the plan preview");
        drop(workstation);
        let mut config = AgentConfig::new(&self.url, &self.psk, &dir);
        config.exit_when_idle = true;
        let exit = blocking(move || agent::run(&config))
            .await
            .expect("the agent runs");
        let agents = self.app.store.agents().await.expect("agents");
        let last_events = match agents.first() {
            Some(a) => {
                let events = self
                    .app
                    .store
                    .events(a.id, None, 3)
                    .await
                    .unwrap_or_default();
                events.into_iter().map(|e| e.message).collect::<Vec<_>>()
            }
            None => Vec::new(),
        };
        assert!(
            matches!(
                exit,
                Exit::Idle {
                    status: AgentStatus::Completed,
                    ..
                }
            ),
            "{:?}: {:?}",
            exit,
            last_events
        );
        (
            SimWorkstation::load(&dir).expect("the workstation after the run"),
            plan,
        )
    }
}

/// Gives `path` an explicit full-control ACE for `holder` (beside what it had), as a file shared
/// with a user under an older SID would carry.
fn grant(workstation: &mut SimWorkstation, path: &str, holder: &Sid) {
    use agent::Workstation;
    let before = SecurityDescriptor::from_bytes(
        &workstation
            .read_descriptor(Area::FileSystem, path)
            .expect("read the file's descriptor"),
    )
    .expect("a descriptor");
    let sddl = before.to_sddl(None);
    let with_grant = match sddl.find("D:") {
        Some(at) => {
            // Right after the DACL's flags: `D:AI(` → `D:AI(A;;FA;;;S)(`.
            let rest = &sddl[at + 2..];
            let flags = rest.find('(').unwrap_or(rest.len());
            format!(
                "{}(A;;FA;;;{}){}",
                &sddl[..at + 2 + flags],
                holder,
                &rest[flags..]
            )
        }
        None => format!("{}D:(A;;FA;;;{})", sddl, holder),
    };
    let after = SecurityDescriptor::from_sddl(&with_grant, None).expect("the new descriptor");
    workstation
        .write_descriptor(
            Area::FileSystem,
            path,
            &after.to_bytes(),
            SecurityParts {
                owner: true,
                group: true,
                dacl: true,
                sacl: false,
            },
        )
        .expect("write the file's descriptor");
    workstation
        .checkpoint("test/grant", 0)
        .expect("save the workstation");
}

/// The SIDs of the explicit ACEs of `path` (inherited ones are recomputed from the parent).
fn explicit(state: &SimState, path: &str) -> Vec<Sid> {
    descriptor(state, path)
        .dacl
        .map(|acl| {
            acl.aces
                .into_iter()
                .filter(|ace| !ace.is_inherited())
                .map(|ace| ace.sid)
                .collect()
        })
        .unwrap_or_default()
}

fn descriptor(state: &SimState, path: &str) -> SecurityDescriptor {
    SecurityDescriptor::from_bytes(state.files.get(path).expect("the file")).expect("descriptor")
}

/// What a user's profile must look like after the run: the ProfileList entry and the profile
/// folder's owner moved to `to`, nothing left under `from`.
pub(crate) fn assert_profile_moved(state: &SimState, user: &str, from: &[&Sid], to: &Sid) {
    let home = format!("C:\\Users\\{}", user);
    let entry = state.profile_list.get(to).unwrap_or_else(|| {
        panic!(
            "{}: no ProfileList entry under {}: {:?}",
            user,
            to,
            state.profile_list.keys().collect::<Vec<_>>()
        )
    });
    assert_eq!(entry.profile_image_path, home);
    for old in from {
        assert!(
            !state.profile_list.contains_key(*old),
            "{}: ProfileList still holds {}",
            user,
            old
        );
    }
    let folder = descriptor(state, &home);
    assert_eq!(folder.owner.as_ref(), Some(to), "{}: profile owner", user);
    let sids: Vec<&Sid> = folder.sids().collect();
    assert!(sids.contains(&to), "{}: {:?}", user, sids);
    for old in from {
        assert!(!sids.contains(old), "{}: {} left in {:?}", user, old, sids);
    }
}

pub(crate) fn assert_admins(state: &SimState, from: &Sid, to: &Sid) {
    let admins = &state.local_groups["Administrators"];
    assert!(admins.contains(to), "{:?}", admins);
    assert!(!admins.contains(from), "{:?}", admins);
}

pub(crate) fn workstation(
    join_state: JoinState,
    users: &[(&DirectoryObject, &Sid)],
    admins: &Sid,
) -> SimSpec {
    let mut spec = SimSpec::active_directory(
        COMPUTER,
        "SN-HYB-1",
        "unused.test",
        users
            .iter()
            .map(|(u, profile_sid)| SimUser {
                sid: (*profile_sid).clone(),
                name: u.name.to_lowercase(),
            })
            .collect(),
    );
    spec.join_state = join_state;
    spec.admin_groups = vec![admins.clone()];
    spec
}

pub(crate) fn ad_joined(domain: &str) -> JoinState {
    JoinState::ActiveDirectory {
        domain: domain.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_to_ad_translates_sid_history_found_on_files() {
    let stage = Stage::start().await;
    let mut alice = ad_user("Alice", "S-1-5-21-100-200-300-1104");
    // Alice came from an older domain: files still name her by that SID.
    let old_alice = sid("S-1-5-21-900-800-700-2201");
    alice.sid_history = vec![old_alice.clone()];
    let bob = ad_user("Bob", "S-1-5-21-100-200-300-1105");
    let admins = ad_group("Workstation Admins", "S-1-5-21-100-200-300-3001");
    let source = Side {
        name: "CONTOSO",
        kind: DirectoryKind::ActiveDirectory,
        domain: "contoso.test",
        objects: vec![
            alice.clone(),
            bob.clone(),
            admins.clone(),
            computer(COMPUTER),
        ],
    };
    let t_alice = ad_user("Alice", "S-1-5-21-400-500-600-1201");
    let t_bob = ad_user("Bob", "S-1-5-21-400-500-600-1202");
    let t_admins = ad_group("Workstation Admins", "S-1-5-21-400-500-600-3101");
    let target = Side {
        name: "FABRIKAM",
        kind: DirectoryKind::ActiveDirectory,
        domain: "fabrikam.test",
        objects: vec![t_alice.clone(), t_bob.clone(), t_admins.clone()],
    };
    let (a1, b1, g1) = (
        alice.sid.clone().unwrap(),
        bob.sid.clone().unwrap(),
        admins.sid.clone().unwrap(),
    );
    let spec = workstation(
        ad_joined("contoso.test"),
        &[(&alice, &a1), (&bob, &b1)],
        &g1,
    );
    let (state, _) = stage
        .migrate(
            &source,
            &target,
            MatchProfile::default(),
            (RemoveFrom::ActiveDirectory, DomainJoin::ActiveDirectory),
            &spec,
            |ws| grant(ws, ALICE_FILE, &old_alice),
        )
        .await;
    let (a2, b2, g2) = (
        t_alice.sid.unwrap(),
        t_bob.sid.unwrap(),
        t_admins.sid.unwrap(),
    );
    assert_eq!(state.join_state, ad_joined("fabrikam.test"));
    assert_profile_moved(&state, "alice", &[&a1], &a2);
    assert_profile_moved(&state, "bob", &[&b1], &b2);
    let file = explicit(&state, ALICE_FILE);
    assert!(file.contains(&a2), "{:?}", file);
    assert!(
        !file.contains(&old_alice),
        "the sIDHistory SID stays on the file: {:?}",
        file
    );
    assert_admins(&state, &g1, &g2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_joined_to_entra_joined_in_the_same_tenant_uses_the_cloud_sids() {
    let stage = Stage::start().await;
    let alice = ad_user("Alice", "S-1-5-21-100-200-300-1104");
    let admins = ad_group("Workstation Admins", "S-1-5-21-100-200-300-3001");
    let source = Side {
        name: "CONTOSO-AD",
        kind: DirectoryKind::ActiveDirectory,
        domain: "contoso.test",
        objects: vec![alice.clone(), admins.clone(), computer(COMPUTER)],
    };
    // The same tenant: each AD object's own cloud object, with its anchors. A second cloud
    // "Alice" with the same name proves the pairing does not go by names.
    let c_alice = cloud(ObjectKind::User, "Alice", Some(&alice), "alice");
    let namesake = cloud(ObjectKind::User, "Alice", None, "alice.contractor");
    let c_admins = cloud(
        ObjectKind::Group,
        "Workstation Admins",
        Some(&admins),
        "admins",
    );
    let target = Side {
        name: "CONTOSO-ENTRA",
        kind: DirectoryKind::EntraId,
        domain: "contoso.onmicrosoft.com",
        objects: vec![c_alice.clone(), namesake, c_admins.clone()],
    };
    let (a1, g1) = (alice.sid.clone().unwrap(), admins.sid.clone().unwrap());
    let spec = workstation(ad_joined("contoso.test"), &[(&alice, &a1)], &g1);
    let (state, plan) = stage
        .migrate(
            &source,
            &target,
            profile::hybrid_anchors(),
            (RemoveFrom::ActiveDirectory, DomainJoin::Entra),
            &spec,
            |ws| grant(ws, ALICE_FILE, &a1),
        )
        .await;
    let (a2, g2) = (c_alice.sid.unwrap(), c_admins.sid.unwrap());
    assert!(matches!(state.join_state, JoinState::Entra { .. }));
    // Not the on-premises SID the synchronised object also carries: nobody signs in with it
    // on an Entra-joined device.
    assert_profile_moved(&state, "alice", &[&a1], &a2);
    let file = explicit(&state, ALICE_FILE);
    assert!(file.contains(&a2) && !file.contains(&a1), "{:?}", file);
    assert_admins(&state, &g1, &g2);
    // The preview said which SID it chose and why.
    let line = format!(
        "ProfileList {} -> {} (C:\\Users\\alice): Entra join",
        a1, a2
    );
    assert!(
        plan.iter()
            .any(|l| l.starts_with(&line) && l.contains("not its on-premises SID")),
        "{:#?}",
        plan
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_joined_to_entra_joined_in_another_tenant_synchronised_from_its_own_ad() {
    let stage = Stage::start().await;
    let alice = ad_user("Alice", "S-1-5-21-100-200-300-1104");
    let admins = ad_group("Workstation Admins", "S-1-5-21-100-200-300-3001");
    let source = Side {
        name: "CONTOSO",
        kind: DirectoryKind::ActiveDirectory,
        domain: "contoso.test",
        objects: vec![alice.clone(), admins.clone(), computer(COMPUTER)],
    };
    // Fabrikam's tenant is synchronised from Fabrikam's AD: its objects carry Fabrikam AD SIDs.
    let f_alice_ad = ad_user("Alice", "S-1-5-21-400-500-600-1201");
    let f_admins_ad = ad_group("Workstation Admins", "S-1-5-21-400-500-600-3101");
    let t_alice = cloud(ObjectKind::User, "Alice", Some(&f_alice_ad), "alice");
    let t_admins = cloud(
        ObjectKind::Group,
        "Workstation Admins",
        Some(&f_admins_ad),
        "workstation admins",
    );
    let target = Side {
        name: "FABRIKAM-ENTRA",
        kind: DirectoryKind::EntraId,
        domain: "fabrikam.onmicrosoft.com",
        objects: vec![t_alice.clone(), t_admins.clone()],
    };
    let (a1, g1) = (alice.sid.clone().unwrap(), admins.sid.clone().unwrap());
    let spec = workstation(ad_joined("contoso.test"), &[(&alice, &a1)], &g1);
    let (state, _) = stage
        .migrate(
            &source,
            &target,
            by_name(),
            (RemoveFrom::All, DomainJoin::Entra),
            &spec,
            |_| {},
        )
        .await;
    let a2 = t_alice.sid.clone().unwrap();
    let fabrikam_ad = f_alice_ad.sid.clone().unwrap();
    assert_profile_moved(&state, "alice", &[&a1, &fabrikam_ad], &a2);
    assert_admins(&state, &g1, &t_admins.sid.clone().unwrap());
    assert!(!state.local_groups["Administrators"].contains(f_admins_ad.sid.as_ref().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_to_entra_with_cloud_only_and_synchronised_users_on_both_sides() {
    let stage = Stage::start().await;
    let bob_ad = ad_user("Bob", "S-1-5-21-100-200-300-1105");
    let alice = cloud(ObjectKind::User, "Alice", None, "alice");
    let bob = cloud(ObjectKind::User, "Bob", Some(&bob_ad), "bob");
    let admins = cloud(ObjectKind::Group, "Workstation Admins", None, "admins");
    let mut pc = computer(COMPUTER);
    pc.device_id = Some(ObjectGuid::new().to_string());
    let source = Side {
        name: "CONTOSO-ENTRA",
        kind: DirectoryKind::EntraId,
        domain: "contoso.onmicrosoft.com",
        objects: vec![alice.clone(), bob.clone(), admins.clone(), pc],
    };
    let f_bob_ad = ad_user("Bob", "S-1-5-21-400-500-600-1202");
    let t_alice = cloud(ObjectKind::User, "Alice", None, "alice");
    let t_bob = cloud(ObjectKind::User, "Bob", Some(&f_bob_ad), "bob");
    let t_admins = cloud(ObjectKind::Group, "Workstation Admins", None, "admins");
    let target = Side {
        name: "FABRIKAM-ENTRA",
        kind: DirectoryKind::EntraId,
        domain: "fabrikam.onmicrosoft.com",
        objects: vec![t_alice.clone(), t_bob.clone(), t_admins.clone()],
    };
    let (a1, b1, g1) = (
        alice.sid.clone().unwrap(),
        bob.sid.clone().unwrap(),
        admins.sid.clone().unwrap(),
    );
    // An Entra-joined device: profiles belong to the S-1-12-1 SIDs, synchronised or not.
    let spec = workstation(
        JoinState::Entra {
            tenant: "contoso.onmicrosoft.com".into(),
        },
        &[(&alice, &a1), (&bob, &b1)],
        &g1,
    );
    let (state, _) = stage
        .migrate(
            &source,
            &target,
            by_name(),
            (RemoveFrom::Entra, DomainJoin::Entra),
            &spec,
            |ws| grant(ws, ALICE_FILE, &b1),
        )
        .await;
    let (a2, b2) = (t_alice.sid.unwrap(), t_bob.sid.unwrap());
    assert_profile_moved(&state, "alice", &[&a1], &a2);
    assert_profile_moved(&state, "bob", &[&b1, f_bob_ad.sid.as_ref().unwrap()], &b2);
    let file = explicit(&state, ALICE_FILE);
    assert!(file.contains(&b2) && !file.contains(&b1), "{:?}", file);
    assert_admins(&state, &g1, &t_admins.sid.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_holding_ad_and_entra_profiles_moves_both_to_the_target_cloud_sids() {
    let stage = Stage::start().await;
    // The source tenant is synchronised from its AD. On this device Alice signed in with her AD
    // SID (hybrid sign-in) and Bob with his Entra SID.
    let alice_ad = ad_user("Alice", "S-1-5-21-100-200-300-1104");
    let bob_ad = ad_user("Bob", "S-1-5-21-100-200-300-1105");
    let admins_ad = ad_group("Workstation Admins", "S-1-5-21-100-200-300-3001");
    let alice = cloud(ObjectKind::User, "Alice", Some(&alice_ad), "alice");
    let bob = cloud(ObjectKind::User, "Bob", Some(&bob_ad), "bob");
    let admins = cloud(
        ObjectKind::Group,
        "Workstation Admins",
        Some(&admins_ad),
        "admins",
    );
    let source = Side {
        name: "CONTOSO-ENTRA",
        kind: DirectoryKind::EntraId,
        domain: "contoso.onmicrosoft.com",
        objects: vec![
            alice.clone(),
            bob.clone(),
            admins.clone(),
            computer(COMPUTER),
        ],
    };
    let t_alice = cloud(ObjectKind::User, "Alice", None, "alice");
    let t_bob = cloud(ObjectKind::User, "Bob", None, "bob");
    let t_admins = cloud(ObjectKind::Group, "Workstation Admins", None, "admins");
    let target = Side {
        name: "FABRIKAM-ENTRA",
        kind: DirectoryKind::EntraId,
        domain: "fabrikam.onmicrosoft.com",
        objects: vec![t_alice.clone(), t_bob.clone(), t_admins.clone()],
    };
    let alice_profile = alice_ad.sid.clone().unwrap();
    let bob_profile = bob.sid.clone().unwrap();
    let admins_on_device = admins_ad.sid.clone().unwrap();
    let spec = workstation(
        ad_joined("contoso.test"),
        &[(&alice, &alice_profile), (&bob, &bob_profile)],
        &admins_on_device,
    );
    let (state, _) = stage
        .migrate(
            &source,
            &target,
            by_name(),
            (RemoveFrom::All, DomainJoin::Entra),
            &spec,
            |ws| grant(ws, ALICE_FILE, &bob_profile),
        )
        .await;
    let (a2, b2) = (t_alice.sid.unwrap(), t_bob.sid.unwrap());
    assert_profile_moved(&state, "alice", &[&alice_profile], &a2);
    assert_profile_moved(&state, "bob", &[&bob_profile], &b2);
    let file = explicit(&state, ALICE_FILE);
    assert!(
        file.contains(&b2) && !file.contains(&bob_profile),
        "{:?}",
        file
    );
    assert_admins(&state, &admins_on_device, &t_admins.sid.unwrap());
}
