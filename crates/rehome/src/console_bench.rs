//! `rehome bench console`: a fresh store with a batch of 100,000 computers, each with an agent,
//! its run and three harvested profiles, and two directories of 100,000 matched users, served on
//! a loopback port; each heavy console page is fetched a few times and its answer time and size
//! printed, with the weight of the assets every page loads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::directory::{Directory, DirectoryKind, MatchAttribute};
use model::ids::{BatchId, DirectoryId, RunbookId};
use model::runbook::Runbook;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use rehome::demo::directories::generate;

/// Options of `rehome bench console`.
#[derive(Debug, clap::Args)]
pub struct ConsoleBenchArgs {
    /// Computers in the batch (each a row of Runbook Status) and users per directory (each a
    /// row of the translation table).
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    /// Fetches of each page; the best and the median are printed.
    #[arg(long, default_value_t = 5)]
    pub fetches: usize,
    /// A postgres://… URL of an empty database; default: a fresh SQLite store in a temporary
    /// directory.
    #[arg(long)]
    pub database: Option<String>,
}

async fn directory(
    app: &server::App,
    name: &str,
    domain: &str,
    file: &rehome::demo::directories::DomainFile,
    dir: &std::path::Path,
) -> Result<DirectoryId> {
    let d = server::directory::create(
        app,
        Directory {
            id: DirectoryId::new(),
            name: name.to_string(),
            kind: DirectoryKind::ActiveDirectory,
            domain: domain.to_string(),
            domain_id: None,
        },
    )
    .await?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec(file)?)?;
    server::directory::import_file(app, d.id, &path).await?;
    Ok(d.id)
}

/// Gives every computer of `source` an agent (a copy of one registered the ordinary way), a run
/// of `runbook` in `batch` in one of four statuses, and three harvested profiles: the rows of
/// Agents, Agent details and the User profile report. Written in SQL, as 100,000 registrations
/// through the agent API would take far longer than the pages they feed.
async fn seed_agents(
    app: &server::App,
    source: DirectoryId,
    runbook: RunbookId,
    batch: BatchId,
) -> Result<()> {
    use model::envelope::{AgentCertificate, KeyPair};
    use model::ids::{AgentId, CertificateId, ObjectGuid};
    let keys = KeyPair::generate().public();
    let id = AgentId::new();
    let now = model::clock::Clock::now(&*app.clock);
    let template = server::store::agents::Agent {
        id,
        directory: source,
        computer_guid: ObjectGuid::new(),
        computer_name: "TEMPLATE".into(),
        serial: "BENCH-0001".into(),
        os_edition: model::plan::OsEdition::Workstation,
        os_version: "10.0.22631".into(),
        agent_version: "bench".into(),
        join_state: model::plan::JoinState::ActiveDirectory {
            domain: "source.test".into(),
        },
        certificate: AgentCertificate {
            agent: id,
            computer_name: "TEMPLATE".into(),
            keys,
            issuer: CertificateId::new(),
            not_before: 0,
            not_after: 0,
            signature: String::new(),
        },
        keys,
        registered_at: now,
        last_contact: now,
        logged_on_user: None,
    };
    app.store.insert_agent(&template).await?;
    let pool = app.store.pool();
    sqlx::query(
        "INSERT INTO agents (id, directory, computer_guid, computer_name, serial, os_edition, \
         os_version, agent_version, join_state, certificate, sign_key, encrypt_key, registered_at, \
         last_contact) SELECT o.guid, a.directory, o.guid, o.name, a.serial, a.os_edition, \
         a.os_version, a.agent_version, a.join_state, a.certificate, a.sign_key, a.encrypt_key, \
         a.registered_at, a.last_contact FROM directory_objects o, agents a \
         WHERE a.id = $1 AND o.directory = $2 AND o.kind = 'Computer'",
    )
    .bind(id.to_string())
    .bind(source.to_string())
    .execute(pool)
    .await?;
    sqlx::query("DELETE FROM agents WHERE id = $1")
        .bind(id.to_string())
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO agent_runs (agent, runbook, batch, status, phase, step, last_update, \
         last_error, last_seq, final_check_at, retries) SELECT id, $1, $2, \
         CASE WHEN substr(id, 1, 1) IN ('0', '1', '2', '3') THEN 'Completed' \
         WHEN substr(id, 1, 1) IN ('4', '5', '6', '7') THEN 'InProgress' \
         WHEN substr(id, 1, 1) IN ('8', '9', 'a', 'b') THEN 'Error' ELSE 'NotStarted' END, 'Permissions', NULL, registered_at, NULL, 0, \
         NULL, 0 FROM agents",
    )
    .bind(runbook.to_string())
    .bind(batch.to_string())
    .execute(pool)
    .await?;
    // Three events of every agent (the rows of Agent logs) and a failed communication per
    // computer (the rows of Failed communications).
    for (seq, level, message) in [
        (1, "Info", "Startup began"),
        (2, "Warning", "A profile was skipped"),
        (3, "Error", "Permissions failed"),
    ] {
        sqlx::query(
            "INSERT INTO agent_events (agent, seq, at, received_at, level, runbook, phase, step, \
             status, message) SELECT id, $1, registered_at, registered_at, $2, $3, 'Permissions', \
             NULL, NULL, $4 FROM agents",
        )
        .bind(seq)
        .bind(level)
        .bind(runbook.to_string())
        .bind(message)
        .execute(pool)
        .await?;
    }
    sqlx::query(
        "INSERT INTO failed_communications (id, at, computer_name, remote_address, code, message, \
         first_at, repeats) SELECT 'f' || id, registered_at, computer_name, '127.0.0.1', \
         'not_imported', 'The computer was not imported', registered_at, 1 FROM agents",
    )
    .execute(pool)
    .await?;
    for (n, folder) in [(1, "Administrator"), (2, "user"), (3, "shared")] {
        sqlx::query(
            "INSERT INTO harvested_profiles (agent, sid, path, last_used, harvested_at) \
             SELECT id, 'S-1-5-21-1-2-3-' || (n * 3 + $1), \
             'C:\\Users\\' || $2 || n, NULL, registered_at \
             FROM (SELECT id, registered_at, row_number() OVER (ORDER BY id) AS n FROM agents) a",
        )
        .bind(n)
        .bind(folder)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// One answer: its status line, its body's length, the time to its first byte and to its last.
struct Fetched {
    status: String,
    body: usize,
    text: String,
    first_byte: Duration,
    took: Duration,
}

/// GET `path` over a fresh connection.
async fn fetch(addr: std::net::SocketAddr, path: &str, cookie: &str) -> Result<Fetched> {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: rehome_session={cookie}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut first_byte = None;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        first_byte.get_or_insert_with(|| started.elapsed());
        answer.extend_from_slice(&buf[..n]);
    }
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    Ok(Fetched {
        status: text.lines().next().unwrap_or_default().to_string(),
        body: text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len()),
        text: text.to_string(),
        first_byte: first_byte.unwrap_or(took),
        took,
    })
}

/// The target of the link on `html` whose tag holds `marker` (`rel="next"`) or whose text is
/// `marker` (`>Last page<`).
fn link_on(html: &str, marker: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag = html[..at].rfind("<a ")?;
    let end = html[tag..].find('>').map(|e| tag + e)?;
    let tag = &html[tag..end.max(at)];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&"))
}

/// Runs the benchmark.
pub async fn run(args: ConsoleBenchArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("rehome-bench-console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let secrets = server::secrets::SecretBox::random();
    let store = match &args.database {
        Some(url) => server::store::Store::connect(url, secrets).await?,
        None => server::store::Store::open_sqlite(&dir, secrets).await?,
    };
    let postgres = args.database.is_some();
    let app = server::App::new(
        store,
        Arc::new(model::clock::SystemClock),
        server::Settings::default(),
    );
    println!(
        "seeding {} computers with agents, runs and profiles, and 2 × {} users in {} …",
        args.rows,
        args.rows,
        if postgres { "PostgreSQL" } else { "SQLite" }
    );
    let source = directory(
        &app,
        "SOURCE",
        "source.test",
        &generate("source.test", 1, args.rows, args.rows),
        &dir,
    )
    .await?;
    let target = directory(
        &app,
        "TARGET",
        "target.test",
        &generate("target.test", 2, args.rows, 0),
        &dir,
    )
    .await?;
    server::directory::match_users(&app, source, target, MatchAttribute::SamAccountName).await?;
    let runbook: Runbook = serde_json::from_value(serde_json::json!({
        "id": RunbookId::new(), "name": "Bench", "source_directories": [source], "target_directory": target
    }))?;
    let runbook = server::migration::runbooks::create(&app, runbook).await?;
    let batch = Batch {
        id: BatchId::new(),
        name: "Everything".into(),
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
    let (runbook_id, batch_id) = (runbook.id, batch.id);
    server::migration::batches::create(&app, batch).await?;
    seed_agents(&app, source, runbook_id, batch_id).await?;
    if postgres {
        // What autovacuum does a minute after such writes, done now: the statistics, and the
        // rows marked visible to every transaction, so the pages are timed on tables in their
        // steady state rather than on rows each first read must look up in the commit log.
        sqlx::query("VACUUM (ANALYZE)")
            .execute(app.store.pool())
            .await?;
    }
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = server::router(app.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let one_user = app
        .store
        .search_objects("*", Some(source), 1)
        .await?
        .into_iter()
        .next()
        .context("a user to report on")?;
    let object_report = format!("/objects/{}/{}", one_user.directory, one_user.guid);
    let dashboard_of_batch = format!("/?batch={batch_id}&runbook={runbook_id}");
    let object_tabs: Vec<String> = ["attributes", "batches", "profiles", "errors"]
        .iter()
        .map(|t| format!("{object_report}?tab={t}"))
        .collect();
    let one_computer = app
        .store
        .agent_report(&Default::default(), 0, 1)
        .await?
        .into_iter()
        .next()
        .context("an agent to show")?
        .id;
    let agent_page = format!("/agents/{one_computer}");
    let agent_logs = format!("/agents/{one_computer}/logs");
    let batch_page = format!("/batches/{batch_id}");
    let batch_csv = format!("/batches/{batch_id}/computers.csv");
    let translations_of_source = format!("/translations?directory={source}");
    let translations_search_source = format!("/translations?search=ada&directory={source}");
    let translations_deep = "/translations?page=900".to_string();
    let logs_of_runbook = format!("/logs?runbook={runbook_id}");
    let devices_of_batch = format!("/devices?batch={batch_id}&runbook={runbook_id}");
    let object_csv = format!("{object_report}/report.csv");
    let agents_of_source = format!("/agents?directory={source}");
    let details_of_batch = format!("/reports/agent-details?batch={batch_id}");
    let details_of_runbook = format!("/reports/agent-details?runbook={runbook_id}");
    let profiles_of_source = format!("/reports/profiles?directory={source}");
    let messages_of_source = format!("/sync-messages?directory={source}");
    let messages_into_target = format!("/sync-messages?target={target}");
    let pages: Vec<&str> = vec![
        // Dashboard and Runbook Status.
        "/",
        &dashboard_of_batch,
        "/devices",
        &devices_of_batch,
        "/devices?page=500",
        "/devices?page=499 → next",
        "/devices → last",
        "/devices?status=NotAvailable&computer=WS*9",
        "/devices?status=Error",
        "/devices?phase=Permissions",
        "/devices.csv",
        // Translation table.
        "/translations",
        "/translations?search=ada",
        &translations_of_source,
        &translations_search_source,
        &translations_deep,
        "/translations?page=899 → next",
        "/translations?search=S-1-5-21",
        "/translations.csv",
        "/translations.csv?search=ada",
        // Single Object Report: the search, the report's tabs and its CSV.
        "/objects?q=ada*",
        "/objects?q=*@source.test",
        "/objects.csv?q=ada*",
        &object_report,
        &object_tabs[0],
        &object_tabs[1],
        &object_tabs[2],
        &object_tabs[3],
        &object_csv,
        // Agent Logs across the fleet.
        "/logs",
        "/logs?page=2500",
        "/logs?page=2499 → next",
        "/logs → last",
        &logs_of_runbook,
        "/logs?phase=Permissions",
        "/logs?level=Error",
        "/logs?computer=WS*9",
        "/logs?computer=WS-00001*",
        "/logs?user=ada*",
        "/logs?level=Error&computer=WS*9",
        "/logs.csv",
        "/logs.csv?level=Error",
        // Batches.
        "/batches",
        &batch_page,
        &batch_csv,
        // Agents.
        &agent_page,
        &agent_logs,
        "/agents",
        "/agents?page=900",
        "/agents?page=899 → next",
        "/agents → last",
        &agents_of_source,
        "/agents?status=Error&computer=WS*9",
        "/agents?version=bench*",
        "/agents.csv",
        "/agents.csv?status=Error&computer=WS*9",
        // Failed Communications.
        "/communications",
        "/communications?page=900",
        "/communications?page=899 → next",
        "/communications?computer=WS*9",
        "/communications?address=127.0.*",
        "/communications?code=not_imported",
        "/communications.csv",
        "/communications.csv?computer=WS*9",
        // Agent Details.
        "/reports/agent-details",
        "/reports/agent-details?page=900",
        "/reports/agent-details?page=899 → next",
        "/reports/agent-details → last",
        &details_of_batch,
        &details_of_runbook,
        "/reports/agent-details?phase=Permissions",
        "/reports/agent-details?status=Error&computer=WS*9",
        "/reports/agent-details.csv",
        // User Profile Report.
        "/reports/profiles",
        "/reports/profiles?page=2500",
        "/reports/profiles?page=2499 → next",
        "/reports/profiles → last",
        &profiles_of_source,
        "/reports/profiles?computer=WS*9",
        "/reports/profiles?user=user1%25",
        "/reports/profiles?user=S-1-5-21-1-2-3-1%25",
        "/reports/profiles?user=%25min%25",
        "/reports/profiles.csv",
        "/reports/profiles.csv?user=user1%25",
        // Message logs of imports and matching.
        "/sync-messages",
        "/sync-messages?page=900",
        &messages_of_source,
        &messages_into_target,
        "/sync-messages?level=info&name=ada*",
        "/sync-messages.csv",
    ];
    println!(
        "{:<60} {:>9} {:>9} {:>9} {:>10}",
        "page", "best ms", "median ms", "1st byte", "bytes"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for page in pages {
        // "… → next" and "… → last" time the page a link of that page opens (by key).
        let path = match page.split_once(" → ") {
            Some((from, which)) => {
                let html = fetch(addr, from, &session.token).await?.text;
                let marker = if which == "next" {
                    "rel=\"next\""
                } else {
                    ">Last page<"
                };
                link_on(&html, marker).with_context(|| format!("{page}: no such link"))?
            }
            None => page.to_string(),
        };
        let mut times = Vec::with_capacity(args.fetches);
        let mut size = 0;
        for _ in 0..args.fetches.max(1) {
            let answer = fetch(addr, &path, &session.token).await?;
            if !answer.status.contains(" 200 ") {
                bail!("{page}: {}", answer.status);
            }
            size = answer.body;
            times.push((answer.took, answer.first_byte));
        }
        times.sort();
        let shown = page
            .replace(&source.to_string(), "{source}")
            .replace(&target.to_string(), "{target}")
            .replace(&batch_id.to_string(), "{batch}")
            .replace(&runbook_id.to_string(), "{runbook}")
            .replace(&one_computer.to_string(), "{agent}")
            .replace(&one_user.guid.to_string(), "{object}");
        println!(
            "{:<60} {:>9.1} {:>9.1} {:>9.1} {:>10}",
            shown,
            ms(times[0].0),
            ms(times[times.len() / 2].0),
            ms(times[times.len() / 2].1),
            size
        );
    }
    let mut assets = 0;
    for asset in ["/assets/console.css", "/assets/console.js"] {
        assets += fetch(addr, asset, &session.token).await?.body;
    }
    println!("assets every page loads (stylesheet and script): {assets} bytes, no other request");
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
