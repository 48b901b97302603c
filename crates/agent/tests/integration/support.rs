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
    ActiveDirectoryJoin, AdminFallback, AppMode, AppSettings, Area, CommandPackageRef,
    CompletionSettings, DeviceStateSettings, DomainJoin, HybridJoin, InformationProtection,
    LockScreenImage, OneDrive, PermissionMode, PermissionSettings, RemoteFileShares, RemoveFrom,
    Rename, Runbook, RunbookSecrets, Secret, StartupSettings, Switch,
};
use model::status::AgentStatus;
use secdesc::Sid;

use crate::fake_server::FakeServer;

/// A share of a NAS with a folder per user, for Remote File Shares.
pub const REMOTE_SHARE: &str = "\\\\nas01\\users";
/// The source tenant of the users' OneDrive for Business.
pub const SOURCE_TENANT_ID: &str = "9bc4a702-2977-4d17-8f19-64d596b61cbe";
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

/// A zip of `entries` (name, content), stored without compression, as a command package.
pub fn zip(entries: &[(&str, &str)]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, content) in entries {
        let offset = out.len() as u32;
        let (crc, size) = (crc32(content.as_bytes()), content.len() as u32);
        let mut common = Vec::new();
        common.extend_from_slice(&20u16.to_le_bytes()); // version needed
        common.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
        common.extend_from_slice(&0u16.to_le_bytes()); // stored
        common.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
        common.extend_from_slice(&crc.to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes());
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(content.as_bytes());
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        central.extend_from_slice(&[0; 6]); // comment, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

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

/// The AD join account's password in the runbooks' secrets.
pub const JOIN_PASSWORD: &str = "Join-Passw0rd!";

/// The account an online AD join runs as.
pub fn join_account() -> ActiveDirectoryJoin {
    ActiveDirectoryJoin {
        username: "NEW\\rehome-join".into(),
        ..Default::default()
    }
}

/// The command package of [`full_runbook`].
pub const FIX_PACKAGE: &[(&str, &str)] = &[
    (
        "cmdline.cmd",
        "@echo off\r\npowershell -File tools\\fix.ps1\r\n",
    ),
    ("tools/fix.ps1", "Write-Output fixed"),
];

/// The fallback administrator's password in [`full_runbook`]'s secrets.
pub const FALLBACK_PASSWORD: &str = "Fallback-Passw0rd!";

/// A runbook that leaves AD and joins `join`, with every setting of every tab turned on. With
/// `only_carried_out`, the settings this agent cannot carry out yet are left off (
/// credential caching, Edge, uninstall), so the rest can be run to completion.
pub fn full_runbook(join: DomainJoin, only_carried_out: bool) -> (Runbook, RunbookSecrets) {
    let all = !only_carried_out;
    // Held by every World's server.
    let package = CommandPackageRef {
        name: "fix.zip".into(),
        sha256: model::protocol::sha256_hex(&zip(FIX_PACKAGE)),
    };
    let runbook = Runbook {
        id: RunbookId::new(),
        name: "Every setting".into(),
        source_directories: vec![DirectoryId::new()],
        target_directory: DirectoryId::new(),
        allow_on_server_os: false,
        startup: StartupSettings {
            lock_screen_image: LockScreenImage::Builtin,
            set_legal_notice: true,
            prevent_login: true,
            admin_fallback: Some(AdminFallback {
                username: "rehome-fallback".into(),
                password: Secret::new(FALLBACK_PASSWORD),
                delay_deletion_days: 0,
            }),
            command_package: Some(package.clone()),
            ..Default::default()
        },
        device_state: DeviceStateSettings {
            cache_user_credentials: all,
            remove_from: RemoveFrom::ActiveDirectory,
            domain_join: join,
            active_directory: join_account(),
            rename: Some(Rename {
                template: "PC-%RAND:4%".into(),
            }),
            hybrid_join: Some(HybridJoin {
                tenant_name: "fabrikam.onmicrosoft.com".into(),
                tenant_id: "6f1c2f2c-1b2a-4c1e-9d8a-0a1b2c3d4e5f".into(),
            }),
            enroll_intune: join == DomainJoin::Entra,
            reset_autopilot: true,
        },
        permissions: PermissionSettings {
            mode: PermissionMode::AddAndRemove,
            areas: Area::ALL.to_vec(),
            remote_file_shares: Some(RemoteFileShares {
                username: "CONTOSO\\svc-shares".into(),
                password: Secret::new("share-pass"),
                paths: REMOTE_SHARE.into(),
            }),
            ..Default::default()
        },
        apps: AppSettings {
            mode: AppMode::Reconfigure,
            outlook: true,
            outlook_zero_config_exchange: Switch::Set,
            other_m365_apps: true,
            edge: all,
            onedrive: OneDrive {
                cloud_only: true,
                silent_account_config: Switch::Set,
                source_tenants: SOURCE_TENANT_ID.into(),
                target_folder_name: "OneDrive - Old".into(),
            },
            information_protection: Some(InformationProtection {
                source_hosts: "old.rms.contoso.test".into(),
                target_host: "new.rms.fabrikam.test".into(),
            }),
        },
        completion: CompletionSettings {
            proxy_autodetect: Switch::Set,
            command_package: Some(package),
            uninstall_agent: all,
            ..Default::default()
        },
        prerequisites: Vec::new(),
        user_experience: Default::default(),
    };
    let secrets = RunbookSecrets {
        admin_fallback_password: Some(FALLBACK_PASSWORD.into()),
        domain_join_password: Some(JOIN_PASSWORD.into()),
        remote_file_shares_password: Some("share-pass".into()),
    };
    (runbook, secrets)
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
