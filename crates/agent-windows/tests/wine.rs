//! End to end on this machine: `rehome serve` on Linux and `rehome-agent.exe` under Wine. The
//! agent registers with the PSK, checks in, runs a runbook whose steps Wine supports (registry
//! re-permissioning of HKLM and of a user's hive that is not loaded, the legal notice, the event
//! log) to Completed, uploads its events and profiles; a runbook with a step Wine cannot carry
//! out (BitLocker before a domain join) ends in Error with a message that names it.
//!
//! Needs `REHOME_TEST_WINE_AGENT` (the exe's Unix path) and `WINEPREFIX` (an initialised 64-bit
//! prefix), as scripts/test-windows sets them; skipped without.

#![cfg(not(windows))]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::directory::{Directory, DirectoryKind, MatchAttribute};
use model::ids::{BatchId, DirectoryId, LicenceId, RunbookId};
use model::licence::{self, IssuerKey, Licence, Product};
use model::runbook::{
    ActiveDirectoryJoin, Area, DeviceStateSettings, DomainJoin, PermissionMode, PermissionSettings,
    Runbook, Secret, StartupSettings, UserInteraction,
};
use model::status::AgentStatus;
use rehome::demo::directories::{self, DomainFile};
use server::App;

const WINE: &str = "/usr/lib/wine/wine64";

struct Wine {
    exe: PathBuf,
    prefix: PathBuf,
}

impl Wine {
    fn from_env() -> Option<Wine> {
        let exe = std::env::var_os("REHOME_TEST_WINE_AGENT")?;
        let prefix = std::env::var_os("WINEPREFIX")?;
        Some(Wine {
            exe: PathBuf::from(exe),
            prefix: PathBuf::from(prefix),
        })
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(WINE);
        c.arg(program)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .env("RUST_BACKTRACE", "0");
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> (bool, String) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .expect("run wine64");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn computer_name(&self) -> String {
        let (ok, out) = self.run("cmd", &["/c", "echo", "%COMPUTERNAME%"]);
        assert!(ok, "{}", out);
        out.trim().to_string()
    }

    /// A profile of `sid` whose hive is not loaded: a ProfileList entry and an NTUSER.DAT in
    /// the text format Wine's `RegLoadKey` reads.
    fn add_unloaded_profile(&self, sid: &str, folder: &str) {
        let dir = self.prefix.join("drive_c/users").join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let hive = "WINE REGISTRY Version 2\n\n#arch=win64\n\n\
                    [Software\\\\Contoso\\\\Sync] 1733400000\n\"Server\"=\"files.contoso.test\"\n";
        std::fs::write(dir.join("NTUSER.DAT"), hive).unwrap();
        let key = format!(
            "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\{}",
            sid
        );
        let path = format!("C:\\users\\{}", folder);
        let (ok, out) = self.run(
            "reg",
            &[
                "add",
                &key,
                "/v",
                "ProfileImagePath",
                "/t",
                "REG_EXPAND_SZ",
                "/d",
                &path,
                "/f",
            ],
        );
        assert!(ok, "{}", out);
    }

    /// Runs the agent in the console until its runbook ended; returns its exit and output.
    fn run_agent(&self, url: &str, psk: &str, state: &str) -> (bool, String) {
        let mut child = self
            .command(&self.exe.to_string_lossy())
            .args([
                "run",
                "--server",
                url,
                "--psk",
                psk,
                "--state-dir",
                state,
                "--exit-when-idle",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the agent under wine");
        // Bounded: a hung agent fails the test instead of hanging CI.
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(_status) = child.try_wait().unwrap() {
                break;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::park_timeout(Duration::from_millis(250));
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

async fn add_directory(
    app: &App,
    dir: &std::path::Path,
    name: &str,
    file: &DomainFile,
) -> DirectoryId {
    let directory = server::directory::create(
        app,
        Directory {
            id: DirectoryId::new(),
            name: name.to_string(),
            kind: DirectoryKind::ActiveDirectory,
            domain: file.domain.clone(),
            domain_id: None,
        },
    )
    .await
    .unwrap();
    let path = dir.join(format!("{}.json", name));
    std::fs::write(&path, serde_json::to_vec(file).unwrap()).unwrap();
    server::directory::import_file(app, directory.id, &path)
        .await
        .unwrap();
    directory.id
}

fn assign(app: &App, runbook: RunbookId, source: DirectoryId, target: DirectoryId) -> Batch {
    Batch {
        id: BatchId::new(),
        name: format!("Wine {}", runbook),
        source_directory: source,
        target_directory: target,
        assignments: vec![Assignment {
            runbook,
            available_from: None,
            enforced_after: (app.clock.now() - ChronoDuration::minutes(1)).naive_utc(),
            timezone: ScheduleTimezone::Utc,
        }],
        computers: ComputerSelection {
            mode: SelectionMode::AllExcept,
            computers: Vec::new(),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_windows_agent_under_wine_completes_a_registry_runbook_and_fails_what_wine_cannot_do() {
    let wine = match Wine::from_env() {
        Some(w) => w,
        None => {
            eprintln!("skipped: set REHOME_TEST_WINE_AGENT and WINEPREFIX (scripts/test-windows)");
            return;
        }
    };
    let data = std::env::temp_dir().join(format!("rehome-wine-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data).unwrap();
    let issuer = IssuerKey::generate();
    let running = server::serve::start(
        server::serve::ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data.join("server"),
            licence_issuers: vec![issuer.public()],
            ..Default::default()
        },
        Arc::new(model::clock::SystemClock),
    )
    .await
    .unwrap();
    let app = running.app();
    let url = format!("http://{}", running.local_addr());

    // The source domain holds this Wine prefix as its computer, and the user whose profile is
    // on it; the target domain has the same user names.
    let computer = wine.computer_name();
    let mut source = directories::generate("contoso.test", 1, 3, 1);
    let target = directories::generate("fabrikam.test", 2, 3, 0);
    for o in source.objects.iter_mut() {
        if o.kind == model::directory::ObjectKind::Computer {
            o.name = computer.clone();
            o.sam_account_name = Some(format!("{}$", computer));
        }
    }
    let user_sid = source.users().next().unwrap().sid.clone().unwrap();
    wine.add_unloaded_profile(&user_sid.to_string(), "rehome-e2e-user");

    let source_id = add_directory(app, &data, "CONTOSO", &source).await;
    let target_id = add_directory(app, &data, "FABRIKAM", &target).await;
    server::directory::match_users(app, source_id, target_id, MatchAttribute::SamAccountName)
        .await
        .unwrap();
    let psk = server::migration::keys::create_psk(app, Default::default())
        .await
        .unwrap()
        .key;
    server::migration::keys::create_certificate(app, Default::default())
        .await
        .unwrap();
    let now = app.clock.now();
    let licence_text = licence::issue(
        &issuer,
        &Licence {
            id: LicenceId::new(),
            customer: "wine".to_string(),
            products: vec![Product::Sync, Product::Migration],
            source_domains: vec![source.domain.clone()],
            target_domains: vec![target.domain.clone()],
            devices: 5,
            issued_at: now,
            expires_at: now + ChronoDuration::days(1),
            issuer: issuer.public(),
        },
    )
    .unwrap();
    server::licences::apply(app, &licence_text).await.unwrap();

    // 1. Registry re-permissioning, the legal notice and the event log: Completed.
    let runbook = server::migration::runbooks::create(
        app,
        Runbook {
            id: RunbookId::new(),
            name: "Registry on Wine".to_string(),
            source_directories: vec![source_id],
            target_directory: target_id,
            allow_on_server_os: false,
            // Silent: Wine reports a console user, and a countdown would wait an hour.
            startup: StartupSettings {
                interaction: UserInteraction::Silent,
                ..Default::default()
            },
            device_state: DeviceStateSettings::default(),
            permissions: PermissionSettings {
                mode: PermissionMode::AddAndRemove,
                areas: vec![Area::Registry],
                skip_untranslated_profiles: true,
                ..Default::default()
            },
            completion: Default::default(),
            prerequisites: Vec::new(),
            user_experience: Default::default(),
            apps: Default::default(),
        },
    )
    .await
    .unwrap();
    let batch =
        server::migration::batches::create(app, assign(app, runbook.id, source_id, target_id))
            .await
            .unwrap();

    let state = "C:\\rehome-e2e-state";
    let (ok, out) = wine.run_agent(&url, &psk, state);
    assert!(ok, "the agent failed under Wine:\n{}", out);

    let agents = server::migration::agents::list(app).await.unwrap();
    assert_eq!(agents.len(), 1);
    assert!(agents[0].name.eq_ignore_ascii_case(&computer));
    let details = server::migration::agents::details(app, agents[0].id)
        .await
        .unwrap();
    let run = details
        .runs
        .iter()
        .find(|r| r.runbook == runbook.id)
        .unwrap();
    assert_eq!(run.status, AgentStatus::Completed, "{:?}\n{}", run, out);
    assert!(out.contains("Completed"), "{}", out);
    assert!(
        details.profiles.iter().any(|p| p.sid == user_sid),
        "{:?}",
        details.profiles
    );
    let events = server::migration::agents::events(app, agents[0].id, None, Some(1000))
        .await
        .unwrap();
    let text: Vec<String> = events.events.iter().map(|e| e.message.clone()).collect();
    assert!(text.iter().any(|m| m.contains("egistry")), "{:#?}", text);
    assert!(
        text.iter()
            .any(|m| m.to_lowercase().contains("legal notice")),
        "{:#?}",
        text
    );
    server::migration::batches::delete(app, batch.id)
        .await
        .unwrap();

    // 2. A domain join suspends BitLocker first, which this agent cannot do under Wine: Error,
    //    never Completed, and the message says why.
    let joining = server::migration::runbooks::create(
        app,
        Runbook {
            id: RunbookId::new(),
            name: "Join on Wine".to_string(),
            source_directories: vec![source_id],
            target_directory: target_id,
            allow_on_server_os: false,
            // Silent: Wine reports a console user, and a countdown would wait an hour.
            startup: StartupSettings {
                interaction: UserInteraction::Silent,
                ..Default::default()
            },
            device_state: DeviceStateSettings {
                domain_join: DomainJoin::ActiveDirectory,
                active_directory: ActiveDirectoryJoin {
                    username: "FABRIKAM\\rehome-join".to_string(),
                    password: Secret::new("join-password"),
                    ..Default::default()
                },
                ..Default::default()
            },
            permissions: PermissionSettings {
                mode: PermissionMode::AddAndRemove,
                areas: vec![Area::Registry],
                skip_untranslated_profiles: true,
                ..Default::default()
            },
            completion: Default::default(),
            prerequisites: Vec::new(),
            user_experience: Default::default(),
            apps: Default::default(),
        },
    )
    .await
    .unwrap();
    server::migration::batches::create(app, assign(app, joining.id, source_id, target_id))
        .await
        .unwrap();
    let (_, out) = wine.run_agent(&url, &psk, state);
    let details = server::migration::agents::details(app, agents[0].id)
        .await
        .unwrap();
    let run = details
        .runs
        .iter()
        .find(|r| r.runbook == joining.id)
        .unwrap_or_else(|| panic!("{:?}\n{}", details.runs, out));
    assert_eq!(run.status, AgentStatus::Error, "{:?}\n{}", run, out);
    let error = run.last_error.clone().unwrap_or_default();
    assert!(error.contains("cannot be carried out"), "{}", error);
    assert!(!error.contains("join-password"));

    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&data);
}
