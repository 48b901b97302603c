//! `rehome bench readiness`: a server on a loopback port with a batch of N computers; N devices
//! register with the PSK, check in, take every readiness check on a simulated workstation and
//! send them, over HTTP with the signed and encrypted envelope, from a few threads. Prints the
//! time from the batch's creation until every device has reported, and the server's answer time
//! of the batch readiness page (API JSON, CSV and the console page).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::client::{Client, HttpTransport};
use agent::sim::{SimSpec, SimUser, SimWorkstation};
use anyhow::{bail, Context, Result};
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::clock::{Clock, SystemClock};
use model::directory::{Directory, DirectoryKind};
use model::envelope::{Key32, PublicKeys};
use model::ids::{BatchId, DirectoryId, RunbookId};
use model::plan::{JoinState, OsEdition};
use model::protocol::{CheckInRequest, RegisterRequest, AGENT_VERSION};
use model::readiness::ReadinessReport;
use model::runbook::Runbook;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use rehome::demo::directories::generate;

/// Options of `rehome bench readiness`.
#[derive(Debug, clap::Args)]
pub struct ReadinessBenchArgs {
    /// Devices in the batch.
    #[arg(long, default_value_t = 10_000)]
    pub devices: usize,
    /// Threads sending devices' requests at once.
    #[arg(long, default_value_t = 8)]
    pub threads: usize,
    /// Fetches of each page; the best and the median are printed.
    #[arg(long, default_value_t = 5)]
    pub fetches: usize,
}

/// One device's whole readiness round: register, check in, take the checks, send them.
fn one_device(
    url: &str,
    psk: &str,
    name: &str,
    workstation: &SimWorkstation,
    source_domain: &str,
) -> Result<()> {
    let mut client = Client::new(HttpTransport::new(url), Arc::new(SystemClock), None);
    client
        .register(
            psk,
            RegisterRequest {
                computer_name: name.to_string(),
                serial: format!("SN-{name}"),
                os_edition: OsEdition::Workstation,
                os_version: "Windows 11 Enterprise 23H2".to_string(),
                agent_version: AGENT_VERSION.to_string(),
                join_state: JoinState::ActiveDirectory {
                    domain: source_domain.to_string(),
                },
                keys: PublicKeys {
                    sign: Key32([0; 32]),
                    encrypt: Key32([0; 32]),
                },
            },
        )
        .with_context(|| format!("register {name}"))?;
    let answer = client.check_in(&CheckInRequest {
        held_assignment: None,
        final_check: false,
        agent_version: AGENT_VERSION.to_string(),
        join_state: JoinState::ActiveDirectory {
            domain: source_domain.to_string(),
        },
        logged_on_user: None,
        running: None,
        completed: Vec::new(),
        computer_name: Some(name.to_string()),
        os_version: None,
    })?;
    let assignment = answer
        .assignment
        .with_context(|| format!("{name} got no assignment"))?;
    if !answer.readiness_due {
        bail!("{name}: the server did not ask for readiness");
    }
    let checks = agent::readiness::take(workstation, &assignment, SystemClock.now());
    client.upload_readiness(&ReadinessReport {
        batch: assignment.batch,
        runbook: assignment.runbook.id,
        checks,
    })?;
    Ok(())
}

async fn fetch(addr: std::net::SocketAddr, path: &str, header: &str) -> Result<(usize, Duration)> {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{header}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or_default().to_string();
    if !status.contains(" 200 ") {
        bail!("{path}: {status}");
    }
    Ok((
        text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len()),
        took,
    ))
}

/// Runs the benchmark.
pub async fn run(args: ReadinessBenchArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("rehome-bench-ready-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let store =
        server::store::Store::open_sqlite(&dir, server::secrets::SecretBox::random()).await?;
    let app = server::App::new(store, Arc::new(SystemClock), server::Settings::default());
    let source_file = generate("source.test", 1, 50, args.devices);
    let mut ids = Vec::new();
    for (name, domain) in [("SOURCE", "source.test"), ("TARGET", "target.test")] {
        let d = server::directory::create(
            &app,
            Directory {
                id: DirectoryId::new(),
                name: name.to_string(),
                kind: DirectoryKind::ActiveDirectory,
                domain: domain.to_string(),
                domain_id: None,
            },
        )
        .await?;
        ids.push(d.id);
    }
    let (source, target) = (ids[0], ids[1]);
    let path = dir.join("source.json");
    std::fs::write(&path, serde_json::to_vec(&source_file)?)?;
    server::directory::import_file(&app, source, &path).await?;
    let psk = server::migration::keys::create_psk(&app, Default::default())
        .await?
        .key;
    server::migration::keys::create_certificate(&app, Default::default()).await?;
    let runbook: Runbook = serde_json::from_value(serde_json::json!({
        "id": RunbookId::new(), "name": "Bench", "source_directories": [source],
        "target_directory": target
    }))?;
    let runbook = server::migration::runbooks::create(&app, runbook).await?;
    server::auth::create_user(
        &app,
        "bench",
        "bench-password-1",
        &[server::auth::Role::TenantAdmin],
        false,
    )
    .await?;
    let user = app
        .store
        .user_by_name("bench")
        .await?
        .context("the bench user")?;
    let session = server::auth::session::start_session(
        &app,
        user.id,
        server::auth::session::SessionKind::Console,
    )
    .await?;
    let token = server::auth::issue_api_token(&app, user.id).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = server::router(app.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    // One simulated workstation the devices' checks read: they change nothing.
    let users: Vec<SimUser> = source_file
        .users()
        .take(3)
        .filter_map(|u| {
            Some(SimUser {
                sid: u.sid.clone()?,
                name: u.sam_account_name.clone().unwrap_or_else(|| u.name.clone()),
            })
        })
        .collect();
    let device_dir = dir.join("device");
    SimWorkstation::create(
        &device_dir,
        &SimSpec::active_directory("BENCH", "SN-BENCH", "source.test", users),
    )?;
    let names: Arc<Vec<String>> =
        Arc::new(source_file.computers().map(|c| c.name.clone()).collect());
    println!("{} devices, {} threads", names.len(), args.threads);

    let batch = Batch {
        id: BatchId::new(),
        name: "Readiness".into(),
        source_directory: source,
        target_directory: target,
        assignments: vec![Assignment {
            runbook: runbook.id,
            available_from: None,
            enforced_after: chrono::NaiveDate::from_ymd_opt(2030, 1, 1)
                .and_then(|d| d.and_hms_opt(9, 0, 0))
                .context("a date")?,
            timezone: ScheduleTimezone::Utc,
        }],
        computers: ComputerSelection {
            mode: SelectionMode::AllExcept,
            computers: Vec::new(),
        },
    };
    let started = Instant::now();
    server::migration::batches::create(&app, batch.clone()).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("http://{addr}");
    let mut threads = Vec::new();
    for _ in 0..args.threads.max(1) {
        let (next, names) = (next.clone(), names.clone());
        let (url, psk) = (url.clone(), psk.clone());
        // Each thread reads its own copy of the workstation (it is not shared between threads).
        let workstation = SimWorkstation::open(&device_dir)?;
        threads.push(std::thread::spawn(move || -> Result<()> {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else {
                    return Ok(());
                };
                one_device(&url, &psk, name, &workstation, "source.test")?;
            }
        }));
    }
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a device thread panicked"))??;
    }
    let view = server::migration::readiness::of_batch(
        &app,
        batch.id,
        &server::migration::readiness::Filter::default(),
        None,
    )
    .await?;
    let took = started.elapsed();
    if view.reported as usize != names.len() {
        bail!("{} of {} devices reported", view.reported, names.len());
    }
    println!(
        "batch created → every device reported: {:.1} s ({:.1} devices/s)",
        took.as_secs_f64(),
        names.len() as f64 / took.as_secs_f64()
    );
    let bearer = format!("Authorization: Bearer {token}");
    let cookie = format!("Cookie: rehome_session={}", session.token);
    let pages = [
        (format!("/api/v1/batches/{}/readiness", batch.id), &bearer),
        (
            format!("/api/v1/batches/{}/readiness?verdict=block", batch.id),
            &bearer,
        ),
        (
            format!("/api/v1/batches/{}/readiness.csv", batch.id),
            &bearer,
        ),
        (
            format!("/batches/{}/readiness?verdict=warn", batch.id),
            &cookie,
        ),
        (format!("/batches/{}/readiness", batch.id), &cookie),
        (format!("/batches/{}/readiness?page=50", batch.id), &cookie),
        (
            format!("/batches/{}/readiness?device=WS-0042", batch.id),
            &cookie,
        ),
    ];
    println!(
        "{:<72} {:>9} {:>9} {:>11}",
        "page", "best ms", "median ms", "bytes"
    );
    for (page, header) in &pages {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..args.fetches.max(1) {
            let (bytes, t) = fetch(addr, page, header).await?;
            size = bytes;
            times.push(t);
        }
        times.sort();
        println!(
            "{:<72} {:>9.1} {:>9.1} {:>11}",
            page,
            times[0].as_secs_f64() * 1000.0,
            times[times.len() / 2].as_secs_f64() * 1000.0,
            size
        );
    }
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
