//! What the tests share: a fleet of one, a runbook, a sleeper that moves the manual clock.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agent::{Agent, AgentConfig, Exit, SimSpec, SimUser, SimWorkstation, Sleeper};
use chrono::{Duration, TimeZone, Utc};
use model::batch::{ScheduleTimezone, ScheduledTime};
use model::clock::{Clock, ManualClock};
use model::directory::ObjectKind;
use model::ids::{BatchId, DirectoryId, RunbookId};
use model::plan::TargetFacts;
use model::protocol::{BulkToken, DeviceAssignment, OfflineJoin, SidTranslation};
use model::runbook::{
    AppMode, CommandPackageRef, DeviceStateSettings, DomainJoin, PermissionMode,
    PermissionSettings, RemoveFrom, Runbook, RunbookSecrets,
};
use model::status::AgentStatus;
use secdesc::Sid;

pub use crate::every_setting::*;
use crate::fake_server::FakeServer;

pub const PSK: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const COMPUTER: &str = "PC-001";
pub const SOURCE_DOMAIN: &str = "old.contoso.test";
pub const TARGET_DOMAIN: &str = "new.contoso.test";
pub const ALICE: &str = "S-1-5-21-1000-2000-3000-1101";
pub const BOB: &str = "S-1-5-21-1000-2000-3000-1102";
pub const ALICE_NEW: &str = "S-1-5-21-7000-8000-9000-2101";
pub const BOB_NEW: &str = "S-1-5-21-7000-8000-9000-2102";
pub const DOMAIN_ADMINS: &str = "S-1-5-21-1000-2000-3000-512";
pub const DOMAIN_ADMINS_NEW: &str = "S-1-5-21-7000-8000-9000-512";

pub fn sid(s: &str) -> Sid {
    s.parse().expect("sid")
}

/// Sleeps by moving the manual clock, and stops the agent after `limit` sleeps.
pub struct ClockSleeper {
    pub clock: ManualClock,
    pub slept: Arc<Mutex<Vec<Duration>>>,
    pub limit: usize,
}

impl Sleeper for ClockSleeper {
    fn sleep(&mut self, duration: Duration) -> bool {
        let mut slept = self.slept.lock().unwrap_or_else(|e| e.into_inner());
        if slept.len() >= self.limit {
            return false;
        }
        slept.push(duration);
        self.clock.advance(duration);
        true
    }
}

/// One device, its server and a clock they share.
pub struct World {
    pub dir: PathBuf,
    pub clock: ManualClock,
    pub server: Arc<FakeServer>,
    pub slept: Arc<Mutex<Vec<Duration>>>,
}

impl Drop for World {
    /// The simulated workstation's folder goes with the test that made it.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl World {
    /// A workstation joined to the source domain, imported on a server with the translations
    /// of both users and Domain Admins.
    pub fn new() -> World {
        World::with_files(0)
    }

    /// [`World::new`] with `files` extra files in each profile.
    pub fn with_files(files: usize) -> World {
        let spec = SimSpec::active_directory(
            COMPUTER,
            "SN-0001",
            SOURCE_DOMAIN,
            vec![
                SimUser {
                    sid: sid(ALICE),
                    name: "alice".into(),
                },
                SimUser {
                    sid: sid(BOB),
                    name: "bob".into(),
                },
            ],
        );
        let spec = SimSpec {
            files_per_profile: files,
            onedrive_tenant: Some(SOURCE_TENANT_ID.into()),
            remote_shares: vec![REMOTE_SHARE.into()],
            ..spec
        };
        World::with_spec(
            &spec,
            &[
                (ObjectKind::User, ALICE, ALICE_NEW, "alice"),
                (ObjectKind::User, BOB, BOB_NEW, "bob"),
                (
                    ObjectKind::Group,
                    DOMAIN_ADMINS,
                    DOMAIN_ADMINS_NEW,
                    "Domain Admins",
                ),
            ],
        )
    }

    /// The workstation `spec` describes, imported on a server with `translations` (kind,
    /// source, target, name).
    pub fn with_spec(spec: &SimSpec, translations: &[(ObjectKind, &str, &str, &str)]) -> World {
        let dir = std::env::temp_dir().join(format!("rehome-agent-it-{}", uuid::Uuid::new_v4()));
        SimWorkstation::create(&dir, spec).expect("create workstation");
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
        let server = FakeServer::new(PSK, clock.clone());
        server.import(&spec.computer_name);
        let fix = zip(FIX_PACKAGE);
        server
            .state()
            .packages
            .insert(model::protocol::sha256_hex(&fix), fix);
        {
            let mut state = server.state();
            for (kind, source, target, name) in translations {
                state.translations.push(SidTranslation {
                    kind: *kind,
                    source: sid(source),
                    target: sid(target),
                    target_name: name.to_string(),
                    target_upn: None,
                    reason: None,
                });
            }
        }
        World {
            dir,
            clock,
            server,
            slept: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn config(&self) -> AgentConfig {
        let mut config = AgentConfig::new("http://unused", PSK, &self.dir);
        config.exit_when_idle = true;
        config
    }

    /// An agent on this world's workstation, stopping after `limit` sleeps.
    pub fn agent_with(
        &self,
        sim: SimWorkstation,
        limit: usize,
    ) -> Agent<SimWorkstation, Arc<FakeServer>> {
        Agent::new(
            self.config(),
            sim,
            self.server.clone(),
            Arc::new(self.clock.clone()),
            Box::new(ClockSleeper {
                clock: self.clock.clone(),
                slept: self.slept.clone(),
                limit,
            }),
        )
        .expect("agent")
    }

    pub fn agent(&self, limit: usize) -> Agent<SimWorkstation, Arc<FakeServer>> {
        self.agent_with(SimWorkstation::open(&self.dir).expect("open"), limit)
    }

    /// Runs the agent ([`World::agent`] with a limit of 100) and checks it ended idle with
    /// `runbook` Completed.
    pub fn run_to_completion(&self, runbook: RunbookId) {
        let exit = self.agent(100).run().expect("run");
        assert_eq!(
            exit,
            Exit::Idle {
                runbook,
                status: AgentStatus::Completed
            }
        );
    }

    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }

    pub fn slept_minutes(&self) -> Vec<i64> {
        self.slept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|d| d.num_minutes())
            .collect()
    }

    /// Assigns an AD→AD runbook (add and remove) enforced `enforced_in` from now.
    pub fn assign(&self, enforced_in: Duration) -> RunbookId {
        self.assign_with(
            DomainJoin::ActiveDirectory,
            PermissionMode::AddAndRemove,
            TARGET_DOMAIN,
            enforced_in,
        )
    }

    /// Assigns a runbook that leaves AD, joins `join` at `target` and updates permissions in
    /// `mode`, enforced `enforced_in` from now.
    pub fn assign_with(
        &self,
        join: DomainJoin,
        mode: PermissionMode,
        target: &str,
        enforced_in: Duration,
    ) -> RunbookId {
        let runbook = Runbook {
            id: RunbookId::new(),
            name: "Move to the target".into(),
            source_directories: vec![DirectoryId::new()],
            target_directory: DirectoryId::new(),
            allow_on_server_os: false,
            startup: Default::default(),
            device_state: DeviceStateSettings {
                remove_from: RemoveFrom::ActiveDirectory,
                domain_join: join,
                active_directory: join_account(),
                ..Default::default()
            },
            permissions: PermissionSettings {
                mode,
                ..Default::default()
            },
            completion: Default::default(),
            prerequisites: Vec::new(),
            user_experience: Default::default(),
            apps: Default::default(),
        };
        let secrets = RunbookSecrets {
            domain_join_password: Some(JOIN_PASSWORD.into()),
            ..Default::default()
        };
        self.assign_runbook(runbook, secrets, target, enforced_in)
    }

    /// Assigns `runbook` with `secrets`, joining `target`, enforced `enforced_in` from now.
    pub fn assign_runbook(
        &self,
        runbook: Runbook,
        secrets: RunbookSecrets,
        target: &str,
        enforced_in: Duration,
    ) -> RunbookId {
        let id = runbook.id;
        self.server.state().assignment = Some(DeviceAssignment {
            batch: BatchId::new(),
            runbook,
            secrets,
            target: TargetFacts {
                domain: target.into(),
            },
            bulk_token: Some(BulkToken("eyJ0eXAiOiJKV1Qi.bulk.token".into())),
            bulk_token_expires_at: Some(self.clock.now() + Duration::days(90)),
            offline_join: Some(OfflineJoin::blob(
                format!("ODJ blob for {} in {}", COMPUTER, target).as_bytes(),
            )),
            provisioning_package: None,
            available_from: None,
            enforced_after: ScheduledTime {
                at: (self.clock.now() + enforced_in).naive_utc(),
                timezone: ScheduleTimezone::Utc,
            },
            retry: 0,
        });
        id
    }
}

/// The step ids of the AD→AD runbook's plan, in order.
pub const AD_TO_AD_STEPS: [&str; 14] = [
    "startup/suspend-bitlocker",
    "startup/backup-legal-notice",
    "startup/backup-local-groups",
    "startup/backup-appx",
    "device-state/leave-ad",
    "device-state/join-ad",
    "device-state/reset-windows-hello",
    "permissions/windows-profiles",
    "permissions/file-system",
    "permissions/local-groups",
    "completion/restore-legal-notice",
    "completion/restore-local-groups",
    "completion/restore-appx",
    "completion/resume-bitlocker",
];

/// A command package that the world's server holds, as a runbook names it.
pub fn package(world: &World, name: &str, entries: &[(&str, &str)]) -> CommandPackageRef {
    let bytes = zip(entries);
    let sha256 = model::protocol::sha256_hex(&bytes);
    world.server.state().packages.insert(sha256.clone(), bytes);
    CommandPackageRef {
        name: name.into(),
        sha256,
    }
}

/// Alice's password in the target domain.
pub const ALICE_PASSWORD: &str = "Alice-Target-Passw0rd!";

/// A runbook that only caches the users' credentials for the target: what a prerequisite
/// runbook of an offline join does.
pub fn cache_only() -> (Runbook, RunbookSecrets) {
    let (mut runbook, secrets) = full_runbook(DomainJoin::None, true);
    runbook.name = "Cache credentials".into();
    runbook.id = RunbookId::new();
    runbook.startup.do_not_run = true;
    runbook.completion.do_not_run = true;
    runbook.device_state.cache_user_credentials = true;
    runbook.device_state.remove_from = RemoveFrom::None;
    runbook.device_state.rename = None;
    runbook.device_state.hybrid_join = None;
    runbook.permissions.mode = PermissionMode::DontUpdate;
    runbook.apps.mode = AppMode::default();
    (runbook, secrets)
}

/// Runs [`cache_only`] as a prerequisite with Alice signed in, who answers the dialog, then
/// signs her out: the device has cached credentials for the target, as before an offline join.
pub fn cache_credentials_first(world: &World) {
    let (runbook, secrets) = cache_only();
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.add_domain_account(TARGET_DOMAIN, "alice", ALICE_PASSWORD)
        .expect("account");
    sim.set_logged_on_user(Some("OLD\\alice".into()))
        .expect("logon");
    sim.answer_credential_prompts(vec![Some(("alice".into(), ALICE_PASSWORD.into()))]);
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        },
        "credentials cached"
    );
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_logged_on_user(None).expect("logoff");
}
