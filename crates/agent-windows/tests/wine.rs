//! End to end on this machine: `rehome serve` on Linux and `rehome-agent.exe` under Wine,
//! installed from `rehome-agent.msi` as the `RehomeAgent` service with the `URL`, `PSK` and `CA`
//! properties. The server speaks HTTPS on 127.0.0.1 with a certificate of a test CA that only the
//! MSI's `CA` file makes trusted. The service registers with the PSK, checks in, runs a runbook
//! whose steps Wine supports (registry re-permissioning of HKLM and of a user's hive that is not
//! loaded, the legal notice, the event log) to Completed as the server's API shows, and uploads its
//! events and profiles; after a restart of the service, a domain join, which needs what Wine cannot
//! do, is refused by its pre-flight and ends in Error with a message that says what, nothing
//! changed; and a runbook re-permissioning the file system (profile folders included) for a user
//! whose SID Wine's files carry ends in Error naming `SetNamedSecurityInfoW`, since Wine keeps no
//! file descriptors.
//!
//! The Wine test needs `REHOME_TEST_WINE_MSI` (the MSI's Unix path) and `WINEPREFIX` (an initialised 64-bit
//! prefix), as scripts/test-windows sets them; skipped without.

#![cfg(not(windows))]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::directory::{Directory, DirectoryKind, MatchAttribute};
use model::ids::{AgentId, BatchId, DirectoryId, LicenceId, RunbookId};
use model::licence::{self, IssuerKey, Licence, Product};
use model::runbook::{
    ActiveDirectoryJoin, Area, DeviceStateSettings, DomainJoin, PermissionMode, PermissionSettings,
    Runbook, Secret, StartupSettings, UserInteraction,
};
use model::status::AgentStatus;
use rehome::demo::directories::{self, DomainFile};
use server::App;

const WINE: &str = "/usr/lib/wine/wine64";

const WINESERVER: &str = "/usr/lib/wine/wineserver";
const SERVICE: &str = "RehomeAgent";
/// How long the service may take to register, run a runbook and upload its events.
const RUN_LIMIT: Duration = Duration::from_secs(480);

struct Wine {
    msi: PathBuf,
    prefix: PathBuf,
}

impl Wine {
    fn from_env() -> Option<Wine> {
        let msi = std::env::var_os("REHOME_TEST_WINE_MSI")?;
        let prefix = std::env::var_os("WINEPREFIX")?;
        Some(Wine {
            msi: PathBuf::from(msi),
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

    /// Runs `program` and returns its exit and output. The output goes through a file, not a
    /// pipe: Wine's services, started by the first program, keep what it inherited open.
    fn run(&self, program: &str, args: &[&str]) -> (bool, String) {
        let path = std::env::temp_dir().join(format!("rehome-wine-out-{}", uuid::Uuid::new_v4()));
        let file = std::fs::File::create(&path).unwrap();
        let status = self
            .command(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .expect("run wine64");
        let out = std::fs::read(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        (status.success(), String::from_utf8_lossy(&out).into_owned())
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

    /// Makes the prefix's file system look like a PC's, for a walk of its volumes: no `Z:` drive
    /// for the Linux root, and the users' shell folders (`Desktop`, `Templates`, … which Wine
    /// links to the Unix home) made plain folders. Returns where `Z:` was, to put it back.
    fn without_unix_folders(&self) -> PathBuf {
        let root_drive = self.prefix.join("dosdevices/z:");
        let _ = std::fs::remove_file(&root_drive);
        fn unlink(dir: &std::path::Path) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let kind = path.symlink_metadata().unwrap().file_type();
                if kind.is_symlink() {
                    std::fs::remove_file(&path).unwrap();
                    std::fs::create_dir(&path).unwrap();
                } else if kind.is_dir() {
                    unlink(&path);
                }
            }
        }
        unlink(&self.prefix.join("drive_c/users"));
        root_drive
    }

    /// Keeps this prefix's wineserver, and so the service, alive between the commands: without
    /// it, the server exits when the last program does and takes the service with it.
    /// (scripts/test-windows keeps one running already; then this one just leaves.)
    fn keep_alive(&self) {
        Command::new(WINESERVER)
            .arg("-p")
            .env("WINEPREFIX", &self.prefix)
            .status()
            .expect("run wineserver");
    }

    /// `msiexec /i rehome-agent.msi URL=… PSK=… CA=… /qn`, as Intune or SCCM would run it, with
    /// `ca_pem` as the CA file.
    fn install_msi(&self, url: &str, psk: &str, ca_pem: &str) {
        let copy = self.prefix.join("drive_c/rehome-e2e.msi");
        std::fs::copy(&self.msi, &copy).unwrap();
        std::fs::write(self.prefix.join("drive_c/rehome-e2e-ca.pem"), ca_pem).unwrap();
        let (url, psk) = (format!("URL={}", url), format!("PSK={}", psk));
        let ca = "CA=C:\\rehome-e2e-ca.pem";
        let (ok, out) = self.run(
            "msiexec",
            &["/i", "C:\\rehome-e2e.msi", &url, &psk, ca, "/qn"],
        );
        assert!(ok, "msiexec /i failed: {}", out);
        assert_eq!(self.service_state().as_deref(), Some("RUNNING"));
    }

    fn uninstall_msi(&self) {
        let (ok, out) = self.run("msiexec", &["/x", "C:\\rehome-e2e.msi", "/qn"]);
        assert!(ok, "msiexec /x failed: {}", out);
        assert_eq!(self.service_state(), None, "msiexec /x left the service");
    }

    /// The service's state as `sc query` gives it, `None` when it is not installed.
    fn service_state(&self) -> Option<String> {
        let (_, out) = self.run("sc", &["query", SERVICE]);
        out.lines()
            .find(|l| l.contains("STATE"))
            .and_then(|l| l.split_whitespace().nth(3))
            .map(|s| s.to_string())
    }

    /// `sc stop` or `sc start`, then waits (bounded) until the SCM reports `state`.
    fn control(&self, verb: &str, state: &str) {
        let (ok, out) = self.run("sc", &[verb, SERVICE]);
        assert!(ok, "sc {} failed: {}", verb, out);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.service_state().as_deref() != Some(state) {
            assert!(
                Instant::now() < deadline,
                "the service did not reach {}",
                state
            );
            std::thread::park_timeout(Duration::from_millis(500));
        }
    }
}

/// A test CA and the server's certificate for 127.0.0.1 signed by it, as PEM files in `dir`;
/// returns the TLS files and the CA's PEM.
fn test_ca(dir: &std::path::Path) -> (server::serve::TlsFiles, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rehome Wine test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let files = server::serve::TlsFiles {
        cert_pem: dir.join("server.pem"),
        key_pem: dir.join("server.key"),
    };
    std::fs::write(&files.cert_pem, leaf.pem()).unwrap();
    std::fs::write(&files.key_pem, leaf_key.serialize_pem()).unwrap();
    (files, ca.pem())
}

/// The agent registered from this prefix and its run of `runbook` once that ended (Completed or
/// Error) and its events reached the server; fails after [`RUN_LIMIT`].
async fn ended_run(
    app: &App,
    runbook: RunbookId,
    events_needed: &[&str],
) -> (
    AgentId,
    server::migration::agents::AgentDetails,
    Vec<String>,
) {
    let deadline = Instant::now() + RUN_LIMIT;
    let mut seen = String::from("no agent registered");
    loop {
        let agents = server::migration::agents::list(app).await.unwrap();
        if let Some(agent) = agents.first() {
            let details = server::migration::agents::details(app, agent.id)
                .await
                .unwrap();
            let events = server::migration::agents::events(app, agent.id, None, Some(1000))
                .await
                .unwrap();
            let text: Vec<String> = events.events.iter().map(|e| e.message.clone()).collect();
            let run = details.runs.iter().find(|r| r.runbook == runbook);
            let ended = run.map_or(false, |r| {
                matches!(r.status, AgentStatus::Completed | AgentStatus::Error)
            });
            let uploaded = events_needed
                .iter()
                .all(|needle| text.iter().any(|m| m.to_lowercase().contains(needle)));
            if ended && uploaded {
                return (agent.id, details, text);
            }
            seen = format!("{:?}\n{:#?}", run, text);
        }
        assert!(
            Instant::now() < deadline,
            "the service did not end runbook {} within {:?}: {}",
            runbook,
            RUN_LIMIT,
            seen
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
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

/// A runbook from `directories` (source, target) that re-permissions `area` in add-and-remove
/// mode, Silent: Wine reports a console user, and a countdown would wait an hour.
fn silent_runbook(
    name: &str,
    directories: (DirectoryId, DirectoryId),
    device_state: DeviceStateSettings,
    area: Area,
) -> Runbook {
    Runbook {
        id: RunbookId::new(),
        name: name.to_string(),
        source_directories: vec![directories.0],
        target_directory: directories.1,
        allow_on_server_os: false,
        startup: StartupSettings {
            interaction: UserInteraction::Silent,
            ..Default::default()
        },
        device_state,
        permissions: PermissionSettings {
            mode: PermissionMode::AddAndRemove,
            areas: vec![area],
            skip_untranslated_profiles: true,
            ..Default::default()
        },
        completion: Default::default(),
        prerequisites: Vec::new(),
        user_experience: Default::default(),
        apps: Default::default(),
    }
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
async fn the_service_installed_from_the_msi_under_wine_completes_a_registry_runbook_and_fails_what_wine_cannot_do(
) {
    let wine = match Wine::from_env() {
        Some(w) => w,
        None => {
            eprintln!("skipped: set REHOME_TEST_WINE_MSI and WINEPREFIX (scripts/test-windows)");
            return;
        }
    };
    let data = std::env::temp_dir().join(format!("rehome-wine-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data).unwrap();
    let issuer = IssuerKey::generate();
    let (tls, ca_pem) = test_ca(&data);
    let running = server::serve::start(
        server::serve::ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data.join("server"),
            licence_issuers: vec![issuer.public()],
            tls: Some(tls),
            ..Default::default()
        },
        Arc::new(model::clock::SystemClock),
    )
    .await
    .unwrap();
    let app = running.app();
    let url = format!("https://{}", running.local_addr());

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
        silent_runbook(
            "Registry on Wine",
            (source_id, target_id),
            DeviceStateSettings::default(),
            Area::Registry,
        ),
    )
    .await
    .unwrap();
    let batch =
        server::migration::batches::create(app, assign(app, runbook.id, source_id, target_id))
            .await
            .unwrap();

    // A fresh agent: no identity left by an earlier install of this prefix.
    let _ = std::fs::remove_dir_all(wine.prefix.join("drive_c/ProgramData/rehome"));
    wine.keep_alive();
    wine.install_msi(&url, &psk, &ca_pem);
    let (agent, details, text) = ended_run(app, runbook.id, &["registry", "legal notice"]).await;
    let agents = server::migration::agents::list(app).await.unwrap();
    assert_eq!(agents.len(), 1);
    assert!(agents[0].name.eq_ignore_ascii_case(&computer));
    let run = details
        .runs
        .iter()
        .find(|r| r.runbook == runbook.id)
        .unwrap();
    assert_eq!(run.status, AgentStatus::Completed, "{:?}\n{:#?}", run, text);
    assert!(
        details.profiles.iter().any(|p| p.sid == user_sid),
        "{:?}",
        details.profiles
    );
    server::migration::batches::delete(app, batch.id)
        .await
        .unwrap();

    // 2. A domain join needs what this agent cannot do under Wine (asking the target domain
    //    whether it answers, suspending BitLocker): its pre-flight refuses it before any change,
    //    the run ends in Error, never Completed, and the message says what and why.
    let joining = server::migration::runbooks::create(
        app,
        silent_runbook(
            "Join on Wine",
            (source_id, target_id),
            DeviceStateSettings {
                domain_join: DomainJoin::ActiveDirectory,
                active_directory: ActiveDirectoryJoin {
                    username: "FABRIKAM\\rehome-join".to_string(),
                    password: Secret::new("join-password"),
                    ..Default::default()
                },
                ..Default::default()
            },
            Area::Registry,
        ),
    )
    .await
    .unwrap();
    // The service checks in at every start: stopped while the batches change, started again.
    wine.control("stop", "STOPPED");
    let join_batch =
        server::migration::batches::create(app, assign(app, joining.id, source_id, target_id))
            .await
            .unwrap();
    wine.control("start", "RUNNING");
    let (again, details, text) = ended_run(app, joining.id, &["pre-flight"]).await;
    let run = details
        .runs
        .iter()
        .find(|r| r.runbook == joining.id)
        .unwrap();
    assert_eq!(run.status, AgentStatus::Error, "{:?}\n{:#?}", run, text);
    let error = run.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("nothing was changed") && error.contains("cannot be carried out"),
        "{}",
        error
    );
    assert!(!error.contains("join-password"));
    assert_eq!(again, agent, "the restarted service registered again");

    // 3. The file system, profile folders included, under a translated user. Every file of a
    //    Wine prefix names Wine's one user (S-1-5-21-0-0-0-1000): the source directory now says
    //    that is its second user, so the walk finds descriptors to translate. Wine keeps no file
    //    descriptors, so the first write fails naming SetNamedSecurityInfoW and the run ends in
    //    Error, never Completed. Like a PC, the prefix has no drive for the Linux root here.
    if let Some(o) = source
        .objects
        .iter_mut()
        .filter(|o| o.kind == model::directory::ObjectKind::User)
        .nth(1)
    {
        o.sid = Some("S-1-5-21-0-0-0-1000".parse().unwrap());
    }
    server::migration::batches::delete(app, join_batch.id)
        .await
        .unwrap();
    let path = data.join("CONTOSO.json");
    std::fs::write(&path, serde_json::to_vec(&source).unwrap()).unwrap();
    server::directory::import_file(app, source_id, &path)
        .await
        .unwrap();
    server::directory::match_users(app, source_id, target_id, MatchAttribute::SamAccountName)
        .await
        .unwrap();
    let files = server::migration::runbooks::create(
        app,
        silent_runbook(
            "Files on Wine",
            (source_id, target_id),
            DeviceStateSettings::default(),
            Area::FileSystem,
        ),
    )
    .await
    .unwrap();
    wine.control("stop", "STOPPED");
    let root_drive = wine.without_unix_folders();
    server::migration::batches::create(app, assign(app, files.id, source_id, target_id))
        .await
        .unwrap();
    wine.control("start", "RUNNING");
    let (_, details, text) = ended_run(app, files.id, &["setnamedsecurityinfow"]).await;
    std::os::unix::fs::symlink("/", &root_drive).unwrap();
    let run = details.runs.iter().find(|r| r.runbook == files.id).unwrap();
    assert_eq!(run.status, AgentStatus::Error, "{:?}\n{:#?}", run, text);
    let error = run.last_error.clone().unwrap_or_default();
    assert!(error.contains("SetNamedSecurityInfoW"), "{}", error);

    wine.uninstall_msi();
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

/// The agent's HTTPS (also on Linux): a server whose certificate chains to a CA the agent was not
/// given is unreachable, never trusted; with that CA's file it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_trusts_the_given_ca_and_refuses_an_unknown_one() {
    use agent::client::{HttpTransport, Transport};
    use agent::tls::TlsRoots;

    let data = std::env::temp_dir().join(format!("rehome-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data).unwrap();
    let (tls, ca_pem) = test_ca(&data);
    let running = server::serve::start(
        server::serve::ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data.join("server"),
            tls: Some(tls),
            ..Default::default()
        },
        Arc::new(model::clock::SystemClock),
    )
    .await
    .unwrap();
    let url = format!("https://{}", running.local_addr());
    let ca_file = data.join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();

    let (untrusted, trusted) = tokio::task::spawn_blocking(move || {
        let untrusted = HttpTransport::new(&url).post("/agent/check-in", b"{}");
        let mut roots = TlsRoots::web();
        roots.add_pem_file(&ca_file).unwrap();
        let trusted = HttpTransport::with_roots(&url, &roots).post("/agent/check-in", b"{}");
        (untrusted, trusted)
    })
    .await
    .unwrap();
    match untrusted {
        Err(agent::Error::Unreachable(message)) => {
            assert!(
                message.to_lowercase().contains("certificate"),
                "{}",
                message
            )
        }
        other => panic!("an unknown CA was trusted: {:?}", other.map(|(s, _)| s)),
    }
    let (status, _) = trusted.expect("the server behind the given CA");
    // The server read the request: an empty check-in is refused by the API, not by TLS.
    assert!((400..500).contains(&status), "{}", status);

    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&data);
}
