//! `rehome`: the one binary. `serve` runs the control plane, `agent` the device agent, `demo` a
//! whole migration of a simulated fleet, `admin` recovery tasks and `secdesc` descriptor tools.

mod agent_bench;
mod bench;
mod console_bench;
mod directory_cmd;
mod export_bench;
#[cfg(feature = "bench-fakes")]
mod export_graph_bench;
mod licence_cmd;
mod outage_bench;
mod ppkg_cmd;
mod readiness_bench;
mod readiness_cmd;
mod scale_bench;
mod secdesc_cmd;
mod server_bench;
mod sync_cmd;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use rehome::demo;

/// Moves Windows workstations from one directory to another in place.
#[derive(Debug, Parser)]
#[command(name = "rehome", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane: console at /, admin API at /api/v1/, agent API at /agent/.
    Serve(ServeArgs),
    /// Run the agent for one device (a simulated workstation folder for now).
    Agent(AgentArgs),
    /// Migrate a simulated fleet end to end on a fresh server, showing progress.
    Demo(demo::DemoArgs),
    /// Run many simulated agents against a server and measure its answers per request kind.
    Fleet(rehome::fleet::FleetArgs),
    /// Administration tasks run on the server machine.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Benchmarks on synthetic data, printing time and peak memory per stage.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Security descriptor tools: SDDL and binary, translation, explanations.
    Secdesc {
        #[command(subcommand)]
        command: secdesc_cmd::SecdescCommand,
    },
    /// Licence issuing: make an issuer key, sign licences.
    Licence {
        #[command(subcommand)]
        command: licence_cmd::LicenceCommand,
    },
    /// Print the OpenAPI 3 document of the admin API (also at GET /api/v1/openapi.json).
    Openapi,
    /// Directories on the store: add with a connection, import, list.
    Directory {
        #[command(subcommand)]
        command: directory_cmd::DirectoryCommand,
    },
    /// Matching a source directory to a target one, and why a user matched or not.
    Match {
        #[command(subcommand)]
        command: directory_cmd::MatchCommand,
    },
    /// DirSync export: Create-or-Update sync profiles, What If, exporting a pair now.
    Sync {
        #[command(subcommand)]
        command: sync_cmd::SyncCommand,
    },
}

/// Where the store is.
#[derive(Debug, clap::Args)]
struct StoreArgs {
    /// Data directory: the SQLite database lives here unless --database is given.
    #[arg(long, default_value = "./rehome-data", env = "REHOME_DATA_DIR")]
    data_dir: PathBuf,
    /// A postgres://… URL to use PostgreSQL instead of SQLite.
    #[arg(long, env = "REHOME_DATABASE")]
    database: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "0.0.0.0:5000", env = "REHOME_LISTEN")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// PEM certificate chain: serve HTTPS instead of HTTP (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Public key of a licence issuer to trust (repeatable; the variable takes a comma-separated
    /// list). With none, the server runs unlicensed and enforces no licence.
    #[arg(long = "licence-issuer", env = "REHOME_LICENCE_ISSUERS", value_delimiter = ',', value_parser = model::licence::parse_public_key)]
    licence_issuers: Vec<model::envelope::Key32>,
    /// A folder of directory documents that Sync admins may name in `file` connections;
    /// without it only TenantAdmins may set a file connection.
    #[arg(long, env = "REHOME_DIRECTORY_DOCUMENTS")]
    directory_documents: Option<PathBuf>,
    /// Open connections at most, in all.
    #[arg(long, default_value_t = 1024, env = "REHOME_MAX_CONNECTIONS")]
    max_connections: usize,
    /// Open connections at most from one client address (IPv6: one /64).
    #[arg(
        long,
        default_value_t = 128,
        env = "REHOME_MAX_CONNECTIONS_PER_ADDRESS"
    )]
    max_connections_per_address: usize,
    /// Days the audit trail keeps an entry.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500), env = "REHOME_AUDIT_RETENTION_DAYS")]
    audit_retention_days: u32,
    /// Samba's `net` program (e.g. /usr/bin/net): the server then prepares the blobs of offline
    /// domain joins with `net offlinejoin provision`, as each runbook's join account.
    #[arg(long, env = "REHOME_SAMBA_NET")]
    samba_net: Option<PathBuf>,
    /// A folder of agent builds (rehome-agent.msi, the executables) that the console's Download
    /// Agent page offers.
    #[arg(long, env = "REHOME_AGENT_DOWNLOADS")]
    agent_downloads: Option<PathBuf>,
    /// A bearer token with which a Prometheus scraper reads /metrics (a Tenant Admin always may).
    #[arg(long, env = "REHOME_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct AgentArgs {
    #[command(subcommand)]
    command: Option<AgentCommand>,
    /// The server's base URL, e.g. http://rehome.example.com:5000.
    #[arg(long, required = true)]
    server: Option<String>,
    /// The pre-shared key from the console (used only to register).
    #[arg(long, env = "REHOME_PSK", hide_env_values = true, required = true)]
    psk: Option<String>,
    /// The simulated workstation folder.
    #[arg(long, required = true)]
    sim: Option<PathBuf>,
    /// Where the agent keeps its identity, journal and event spool (default: inside --sim).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Exit once the assigned runbook has finished and every event is uploaded.
    #[arg(long)]
    exit_when_idle: bool,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// List the steps a runbook would run on a device and every SID change it would make,
    /// changing nothing.
    Plan {
        /// The simulated workstation folder.
        #[arg(long)]
        sim: PathBuf,
        /// The runbook, as JSON (GET /api/v1/runbooks/{id}).
        #[arg(long)]
        runbook: PathBuf,
        /// The DNS domain or tenant the device would join.
        #[arg(long)]
        target: String,
        /// The translations: CSV with the header source_sid,target_sid, or the server's answer to
        /// the device as JSON (`{"translations": [...]}`), whose reasons the plan shows.
        #[arg(long)]
        translations: PathBuf,
    },
    /// Check a device after a run, offline, against what its journal recorded; exit status 0
    /// only when every check holds.
    Verify {
        /// The simulated workstation folder.
        #[arg(long)]
        sim: PathBuf,
        /// Where the agent kept its journal (default: inside --sim).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Retry a runbook whose run ended in Error on a registered device: the agent runs it again
    /// at its next check-in, going on from the steps its journal recorded done.
    Retry {
        /// The agent's id (GET /api/v1/agents).
        #[arg(long)]
        agent: String,
        /// The runbook's id.
        #[arg(long)]
        runbook: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Let one blocking readiness check pass for one device (Agent Admin's task): its runbook
    /// may then start although the check blocks. Recorded with who and why.
    Waive {
        /// The agent's id (GET /api/v1/agents).
        #[arg(long)]
        agent: String,
        /// The runbook the check was taken for.
        #[arg(long)]
        runbook: String,
        /// The check's id, e.g. `tpm` or `profile:S-1-5-21-…` (GET /api/v1/agents/{id}/readiness).
        #[arg(long)]
        check: String,
        /// Why it may pass.
        #[arg(long)]
        reason: String,
        /// Who waives it.
        #[arg(long)]
        by: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Give a console user a new random password that must be changed at next login.
    ResetPassword {
        /// The user.
        #[arg(long, default_value = "admin")]
        user: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Lift the lockout of a console user after failed sign-ins.
    Unlock {
        /// The user.
        #[arg(long, default_value = "admin")]
        user: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give a console user the TenantAdmin role (e.g. when no TenantAdmin is left).
    Grant {
        /// The user.
        #[arg(long, default_value = "admin")]
        user: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Openapi
            | Command::Secdesc { .. }
            | Command::Licence { .. }
            | Command::Directory { .. }
            | Command::Match { .. }
            | Command::Sync { .. }
    ) {
        end_quietly_when_output_closes();
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", said_once(&e));
            ExitCode::FAILURE
        }
    }
}

/// `e` and its causes, one after another, leaving out a cause the message before it already
/// says: a store error carries the database's own error, which carries the system's, and each
/// repeats the next.
fn said_once(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// Lets a command that prints and exits end quietly when what reads its output goes away
/// (`rehome openapi | head`), as other command-line tools do, instead of panicking on the broken
/// pipe. The server, the agent and the long runs keep ignoring the signal: for them a write to a
/// closed pipe is an error to report. Network writes never raise it (they are sent with
/// `MSG_NOSIGNAL`).
fn end_quietly_when_output_closes() {
    #[cfg(unix)]
    // SAFETY: sets the default action of one signal, before any other thread has started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour codes only for a person at a terminal: a log file or a pipe gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            init_logging("info");
            runtime()?.block_on(serve(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Agent(args) => {
            init_logging("info");
            run_agent(args)
        }
        Command::Demo(args) => {
            init_logging("warn");
            demo::run(args)
        }
        Command::Fleet(args) => {
            init_logging("warn");
            rehome::fleet::run(args)
        }
        Command::Admin {
            command: AdminCommand::ResetPassword { user, store },
        } => {
            init_logging("warn");
            runtime()?.block_on(reset_password(&user, store))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin {
            command: AdminCommand::Unlock { user, store },
        } => {
            init_logging("warn");
            runtime()?.block_on(async {
                let app = admin_app(store).await?;
                server::auth::accounts::unlock(&app, &user)
                    .await
                    .context("unlock the user")?;
                record_command(&app, &format!("unlock {user}")).await;
                println!("The console user '{}' may sign in again.", user);
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin {
            command: AdminCommand::Grant { user, store },
        } => {
            init_logging("warn");
            runtime()?.block_on(async {
                let app = admin_app(store).await?;
                server::auth::accounts::grant_tenant_admin(&app, &user)
                    .await
                    .context("grant the TenantAdmin role")?;
                record_command(&app, &format!("grant TenantAdmin to {user}")).await;
                println!("The console user '{}' is a TenantAdmin.", user);
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command } => {
            init_logging("warn");
            bench::run(command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Secdesc { command } => secdesc_cmd::run(command),
        Command::Licence { command } => licence_cmd::run(command),
        Command::Openapi => {
            println!("{}", server::api::openapi::json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Directory { command } => {
            init_logging("warn");
            directory_cmd::run_directory(command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Match { command } => {
            init_logging("warn");
            directory_cmd::run_match(command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync { command } => {
            init_logging("warn");
            sync_cmd::run(command)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn serve_config(
    listen: SocketAddr,
    store: StoreArgs,
    tls: Option<(PathBuf, PathBuf)>,
) -> server::serve::ServeConfig {
    server::serve::ServeConfig {
        listen,
        data_dir: store.data_dir,
        database: store.database,
        tls: tls.map(|(cert_pem, key_pem)| server::serve::TlsFiles { cert_pem, key_pem }),
        ..Default::default()
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let tls = args.tls_cert.zip(args.tls_key);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut config = serve_config(args.listen, args.store, tls);
    config.licence_issuers = args.licence_issuers;
    config.directory_documents = args.directory_documents;
    config.connections.max_connections = args.max_connections;
    config.connections.max_per_address = args.max_connections_per_address;
    config.audit_retention_days = args.audit_retention_days;
    config.samba_net = args.samba_net;
    config.agent_downloads = args.agent_downloads;
    config.metrics_token_sha256 = args
        .metrics_token
        .as_deref()
        .map(server::metrics::token_digest);
    let running = server::serve::start(config, Arc::new(model::clock::SystemClock))
        .await
        .context("start the server")?;
    if let Some(password) = &running.initial_admin_password {
        println!(
            "First start: the console user 'admin' has the password {}",
            password
        );
        println!("It is shown only this once and must be changed at first login.");
    }
    println!(
        "rehome is listening on {}://{}",
        scheme,
        running.local_addr()
    );
    tokio::signal::ctrl_c().await.context("wait for Ctrl-C")?;
    running.shutdown().await.context("stop the server")?;
    Ok(())
}

/// The app over the store, for the `admin` commands.
async fn admin_app(args: StoreArgs) -> Result<server::App> {
    directory_cmd::existing(&args)?;
    let store = server::store::Store::open(args.database.as_deref(), &args.data_dir)
        .await
        .context("open the store")?;
    Ok(server::App::new(
        store,
        Arc::new(model::clock::SystemClock),
        server::Settings::default(),
    ))
}

/// Records an `admin` task in the audit trail, as the command line on this machine.
async fn record_command(app: &server::App, action: &str) {
    let entry = server::audit::entry(app, "command line", None, &format!("rehome admin {action}"));
    server::audit::record(app, entry).await;
}

async fn reset_password(user: &str, args: StoreArgs) -> Result<()> {
    let app = admin_app(args).await?;
    let password = server::auth::reset_password(&app, user)
        .await
        .context("reset the password")?;
    record_command(&app, &format!("reset-password {user}")).await;
    println!(
        "The console user '{}' now has the password {}",
        user, password
    );
    println!("It must be changed at next login.");
    Ok(())
}

fn agent_plan(
    sim: &std::path::Path,
    runbook: &std::path::Path,
    target: &str,
    translations: &std::path::Path,
) -> Result<ExitCode> {
    let workstation = agent::SimWorkstation::open(sim)
        .with_context(|| format!("open the workstation {}", sim.display()))?;
    let runbook: model::runbook::Runbook = serde_json::from_slice(
        &std::fs::read(runbook).with_context(|| format!("read {}", runbook.display()))?,
    )
    .with_context(|| format!("{} is not a runbook", runbook.display()))?;
    let text = std::fs::read_to_string(translations)
        .with_context(|| format!("read {}", translations.display()))?;
    let target = model::plan::TargetFacts {
        domain: target.to_string(),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = None;
    let mut line = |line: String| {
        if failed.is_none() {
            if let Err(e) = writeln!(out, "{}", line) {
                failed = Some(e);
            }
        }
    };
    // The server's answer to a device (JSON) carries why each target SID was chosen; a CSV map
    // carries the pairs only.
    if text.trim_start().starts_with('{') {
        let answer: model::protocol::TranslateResponse = serde_json::from_str(&text)
            .with_context(|| format!("read the translation answer {}", translations.display()))?;
        agent::preview::preview_answer(
            &workstation,
            &runbook,
            &target,
            &answer.translations,
            &mut line,
        )
        .context("plan the runbook")?;
    } else {
        let map = secdesc::translate::SidMap::from_csv(&text)
            .with_context(|| format!("read the translations {}", translations.display()))?;
        agent::preview::preview(&workstation, &runbook, &target, &map, &mut line)
            .context("plan the runbook")?;
    }
    if let Some(e) = failed {
        return Err(e).context("write the plan");
    }
    out.flush().context("write the plan")?;
    Ok(ExitCode::SUCCESS)
}

async fn agent_retry(agent: &str, runbook: &str, store: StoreArgs) -> Result<()> {
    let agent_id: model::ids::AgentId = agent
        .parse()
        .map_err(|_| anyhow::anyhow!("--agent {:?} is not an agent id", agent))?;
    let runbook_id: model::ids::RunbookId = runbook
        .parse()
        .map_err(|_| anyhow::anyhow!("--runbook {:?} is not a runbook id", runbook))?;
    let app = admin_app(store).await?;
    let run = server::migration::agents::retry(&app, agent_id, runbook_id)
        .await
        .context("retry the run")?;
    let entry = server::audit::entry(
        &app,
        "command line",
        None,
        &format!("rehome agent retry --agent {agent_id} --runbook {runbook_id}"),
    );
    server::audit::record(&app, entry).await;
    println!(
        "{} on agent {} is {} again (retry {}): the device goes on from its journal at its next check-in",
        if run.runbook_name.is_empty() {
            runbook_id.to_string()
        } else {
            run.runbook_name.clone()
        },
        agent_id,
        run.status,
        run.retries
    );
    Ok(())
}

fn agent_verify(sim: &std::path::Path, state_dir: Option<PathBuf>) -> Result<ExitCode> {
    let workstation = agent::SimWorkstation::open(sim)
        .with_context(|| format!("open the workstation {}", sim.display()))?;
    let state_dir = state_dir.unwrap_or_else(|| sim.join(".rehome-agent"));
    let journal = agent::journal::Journal::open(&state_dir.join("journal.log"))
        .with_context(|| format!("open the journal in {}", state_dir.display()))?;
    let report = agent::verify::verify(&workstation, &journal).context("verify the device")?;
    print!("{}", report);
    Ok(if report.holds() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_agent(args: AgentArgs) -> Result<ExitCode> {
    match args.command {
        Some(AgentCommand::Plan {
            sim,
            runbook,
            target,
            translations,
        }) => return agent_plan(&sim, &runbook, &target, &translations),
        Some(AgentCommand::Verify { sim, state_dir }) => return agent_verify(&sim, state_dir),
        Some(AgentCommand::Retry {
            agent,
            runbook,
            store,
        }) => {
            runtime()?.block_on(agent_retry(&agent, &runbook, store))?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(AgentCommand::Waive {
            agent,
            runbook,
            check,
            reason,
            by,
            store,
        }) => {
            runtime()?.block_on(async {
                let app = admin_app(store).await?;
                readiness_cmd::waive(&app, &agent, &runbook, &check, &reason, &by).await
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    let (server, psk, sim) = match (args.server, args.psk, args.sim) {
        (Some(server), Some(psk), Some(sim)) => (server, psk, sim),
        _ => anyhow::bail!("rehome agent needs --server, --psk and --sim"),
    };
    let mut config = agent::AgentConfig::new(&server, &psk, &sim);
    if let Some(state_dir) = args.state_dir {
        config.state_dir = state_dir;
    }
    config.exit_when_idle = args.exit_when_idle;
    let exit = agent::run(&config).context("run the agent")?;
    if exit == agent::Exit::Uninstalled {
        println!("agent: the runbook completed and the agent removed itself");
    }
    if let agent::Exit::Idle { status, .. } = exit {
        println!("agent: the runbook ended {}", status);
        if status != model::status::AgentStatus::Completed {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_says_each_cause_once() {
        let refused = "Connection refused (os error 111)";
        let e = anyhow::Error::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            refused,
        ))
        .context(format!("error communicating with database: {refused}"))
        .context(format!(
            "store: error communicating with database: {refused}"
        ))
        .context("open the store");
        assert_eq!(
            said_once(&e),
            format!("open the store: store: error communicating with database: {refused}")
        );
        let e = anyhow::anyhow!("no such file").context("--flow: read the file x.json");
        assert_eq!(said_once(&e), "--flow: read the file x.json: no such file");
    }
}
