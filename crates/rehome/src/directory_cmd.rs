//! `rehome directory …` and `rehome match …`: add, import and list directories, and match a source
//! to a target, on the store of `--data-dir`/`--database`, without a running server. Secrets are
//! read from environment variables a flag names, never from the command line.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use model::directory::{Directory, DirectoryKind};
use model::ids::DirectoryId;
use server::directory::connection::{self, Connection};
use server::directory::graph::GraphConfig;
use server::directory::ldap::LdapConfig;
use server::directory::profile::{Attribute, MatchProfile};
use server::directory::ImportMode;
use server::App;

use crate::StoreArgs;

/// `rehome directory …`.
#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Add a directory and how it is read (LDAP, Graph or a JSON document).
    Add(Box<AddArgs>),
    /// Import a directory through its connection (changes only, unless --full).
    Import {
        /// The directory's name.
        name: String,
        /// Read every object, not only what changed since the last import.
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the directories: name, kind, domain, objects and last import.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The provisioning package (.ppkg) that joins Windows devices to an Entra directory.
    #[command(subcommand)]
    ProvisioningPackage(crate::ppkg_cmd::PackageCommand),
}

/// `rehome directory add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// A name for the directory, e.g. CONTOSO.
    #[arg(long)]
    name: String,
    /// `ad` (Active Directory) or `entra` (Entra ID).
    #[arg(long)]
    kind: String,
    /// Its DNS domain, e.g. contoso.com.
    #[arg(long)]
    domain: String,
    /// LDAP: the domain controller, e.g. ldaps://dc1.contoso.com.
    #[arg(long)]
    ldap_url: Option<String>,
    /// LDAP: the account to bind as.
    #[arg(long)]
    bind_dn: Option<String>,
    /// LDAP: where to search (repeatable); the whole domain when left out.
    #[arg(long)]
    base_dn: Vec<String>,
    /// LDAP: an extra filter, e.g. (department=Sales).
    #[arg(long)]
    filter: Option<String>,
    /// LDAP: the environment variable holding the bind password.
    #[arg(long)]
    password_env: Option<String>,
    /// Graph: the tenant id or domain.
    #[arg(long)]
    tenant: Option<String>,
    /// Graph: the app registration's client id.
    #[arg(long)]
    client_id: Option<String>,
    /// Graph: the environment variable holding the client secret.
    #[arg(long)]
    secret_env: Option<String>,
    /// A directory document (JSON) on this machine, read at each import.
    #[arg(long)]
    file: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

/// `rehome match …`.
#[derive(Debug, Subcommand)]
pub enum MatchCommand {
    /// Match the users and groups of SOURCE to those of TARGET into the translation table.
    Run {
        /// The source directory's name.
        source: String,
        /// The target directory's name.
        target: String,
        /// A match profile (JSON) to use and store for the pair.
        #[arg(long, conflicts_with = "attribute")]
        profile: Option<PathBuf>,
        /// Match by this one attribute, e.g. sAMAccountName.
        #[arg(long)]
        attribute: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Say why a source user or group matched or did not.
    Explain {
        /// The source directory's name.
        source: String,
        /// The target directory's name.
        target: String,
        /// The user or group: GUID, SID, UPN, sAMAccountName or name.
        user: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Runs `rehome directory …`.
pub fn run_directory(command: DirectoryCommand) -> Result<()> {
    crate::runtime()?.block_on(async {
        match command {
            DirectoryCommand::Add(args) => add(*args).await,
            DirectoryCommand::Import { name, full, store } => {
                let app = open(&store).await?;
                import(&app, &name, full).await
            }
            DirectoryCommand::List { store } => list(&open(&store).await?).await,
            DirectoryCommand::ProvisioningPackage(command) => crate::ppkg_cmd::run(command).await,
        }
    })
}

/// Runs `rehome match …`.
pub fn run_match(command: MatchCommand) -> Result<()> {
    crate::runtime()?.block_on(async {
        match command {
            MatchCommand::Run {
                source,
                target,
                profile,
                attribute,
                store,
            } => {
                let app = open(&store).await?;
                match_run(&app, &source, &target, profile, attribute).await
            }
            MatchCommand::Explain {
                source,
                target,
                user,
                store,
            } => {
                let app = open(&store).await?;
                let (s, t) = (find(&app, &source).await?, find(&app, &target).await?);
                let explanation = server::directory::explain_match(&app, s.id, t.id, &user)
                    .await
                    .map_err(readable)?;
                println!("{}", explanation);
                Ok(())
            }
        }
    })
}

pub(crate) async fn open(args: &StoreArgs) -> Result<App> {
    existing(args)?;
    open_or_create(args).await
}

/// Fails unless `args` names a store that is there: a PostgreSQL URL, or a data directory that
/// holds a SQLite store. Every command but `rehome directory add` works on what a store holds
/// already, and a mistyped `--data-dir` would otherwise leave an empty store behind and answer
/// as if it were the real one.
pub(crate) fn existing(args: &StoreArgs) -> Result<()> {
    if args.database.is_none() && !args.data_dir.join("rehome.db").is_file() {
        bail!(
            "--data-dir {}: no store there (no rehome.db); give the server's data directory, \
             or add a directory to a new store with `rehome directory add`",
            args.data_dir.display()
        );
    }
    Ok(())
}

/// The store `args` names, made when it is not there yet: `rehome directory add` is the first
/// thing a new store is given.
pub(crate) async fn open_or_create(args: &StoreArgs) -> Result<App> {
    let store = server::store::Store::open(args.database.as_deref(), &args.data_dir)
        .await
        .context("open the store")?;
    Ok(App::new(
        store,
        Arc::new(model::clock::SystemClock),
        server::Settings::default(),
    ))
}

/// A server error as a line a person reads: field errors name the field.
pub(crate) fn readable(e: server::Error) -> anyhow::Error {
    match e {
        server::Error::Invalid(fields) => anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow!("{}", other),
    }
}

fn secret_from(flag: &str, var: &str) -> Result<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => bail!(
            "{}: the environment variable {} is not set (or is empty); put the secret there",
            flag,
            var
        ),
    }
}

/// The connection the flags describe; the error names the flag.
fn connection_from(args: &AddArgs, kind: DirectoryKind) -> Result<Connection> {
    let ldap = args.ldap_url.is_some() || args.bind_dn.is_some() || args.password_env.is_some();
    let graph = args.tenant.is_some() || args.client_id.is_some() || args.secret_env.is_some();
    let file = args.file.is_some();
    match (ldap, graph, file) {
        (true, false, false) => {
            if kind != DirectoryKind::ActiveDirectory {
                bail!("--ldap-url: LDAP reads Active Directory; use --tenant … for --kind entra");
            }
            let url = args.ldap_url.clone().context("--ldap-url is needed")?;
            let bind_dn = args.bind_dn.clone().context("--bind-dn is needed")?;
            let var = args
                .password_env
                .as_deref()
                .context("--password-env is needed: the variable holding the bind password")?;
            let mut config = LdapConfig::new(url, bind_dn, secret_from("--password-env", var)?);
            config.base_dns = args.base_dn.clone();
            config.filter = args.filter.clone();
            Ok(Connection::Ldap(config))
        }
        (false, true, false) => {
            if kind != DirectoryKind::EntraId {
                bail!("--tenant: Graph reads Entra ID; use --ldap-url … for --kind ad");
            }
            let tenant = args.tenant.clone().context("--tenant is needed")?;
            let client_id = args.client_id.clone().context("--client-id is needed")?;
            let var = args
                .secret_env
                .as_deref()
                .context("--secret-env is needed: the variable holding the client secret")?;
            Ok(Connection::Graph(GraphConfig::new(
                tenant,
                client_id,
                secret_from("--secret-env", var)?,
            )))
        }
        (false, false, true) => {
            let path = args.file.clone().unwrap_or_default();
            let path = std::fs::canonicalize(&path)
                .with_context(|| format!("--file: cannot read {}", path.display()))?;
            Ok(Connection::File { path })
        }
        (false, false, false) => {
            bail!("say how the directory is read: --ldap-url …, --tenant … or --file PATH")
        }
        _ => bail!("give only one of --ldap-url …, --tenant … and --file"),
    }
}

fn field_to_flag(e: anyhow::Error) -> anyhow::Error {
    // The connection's field names, as the flags that set them.
    let text = e.to_string();
    let mut out = text.clone();
    for (field, flag) in [
        ("url", "--ldap-url"),
        ("bind_dn", "--bind-dn"),
        ("password", "--password-env"),
        ("filter", "--filter"),
        ("tenant_id", "--tenant"),
        ("client_id", "--client-id"),
        ("client_secret", "--secret-env"),
        ("path", "--file"),
        ("name", "--name"),
        ("domain", "--domain"),
    ] {
        if text.starts_with(&format!("{}:", field)) || text.contains(&format!("; {}:", field)) {
            out = out.replacen(&format!("{}:", field), &format!("{}:", flag), 1);
        }
    }
    anyhow!("{}", out)
}

async fn add(args: AddArgs) -> Result<()> {
    let kind = match args.kind.to_ascii_lowercase().as_str() {
        "ad" => DirectoryKind::ActiveDirectory,
        "entra" => DirectoryKind::EntraId,
        other => bail!("--kind: {:?} is neither ad nor entra", other),
    };
    let connection = connection_from(&args, kind)?;
    connection
        .validate(kind)
        .map_err(|e| field_to_flag(readable(e)))?;
    let app = open_or_create(&args.store).await?;
    let directory = Directory {
        id: DirectoryId::new(),
        name: args.name.clone(),
        kind,
        domain: args.domain.clone(),
        domain_id: None,
    };
    directory
        .validate()
        .map_err(|e| field_to_flag(readable(e.into())))?;
    let directory = server::directory::create(&app, directory)
        .await
        .map_err(|e| field_to_flag(readable(e)))?;
    connection::set_connection(&app, directory.id, connection)
        .await
        .map_err(|e| field_to_flag(readable(e)))?;
    println!(
        "Added {} ({}, {}); import it with: rehome directory import {}",
        directory.name,
        kind_word(kind),
        directory.domain,
        directory.name
    );
    Ok(())
}

fn kind_word(kind: DirectoryKind) -> &'static str {
    match kind {
        DirectoryKind::ActiveDirectory => "ad",
        DirectoryKind::EntraId => "entra",
    }
}

pub(crate) async fn find(app: &App, name: &str) -> Result<Directory> {
    let all = app
        .store
        .directories()
        .await
        .context("read the directories")?;
    all.iter()
        .find(|d| d.name.eq_ignore_ascii_case(name.trim()))
        .cloned()
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
            anyhow!(
                "no directory is called {:?}; there are: {}",
                name,
                if names.is_empty() {
                    "none (add one with rehome directory add)".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
}

fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

async fn import(app: &App, name: &str, full: bool) -> Result<()> {
    let dir = find(app, name).await?;
    let source = connection::source_for(app, dir.id)
        .await
        .map_err(readable)?;
    let mode = if full {
        ImportMode::Full
    } else {
        ImportMode::Incremental
    };
    let bar = spinner(format!("importing {}", dir.name));
    let result = server::directory::import_with(app, dir.id, source.as_ref(), mode).await;
    bar.finish_and_clear();
    let s = result.map_err(readable)?;
    println!(
        "Imported {} ({}): {} objects ({} users, {} groups, {} computers, {} contacts); \
         {} added, {} changed, {} deleted in {} ms",
        dir.name,
        s.kind,
        s.total,
        s.users,
        s.groups,
        s.computers,
        s.contacts,
        s.added,
        s.changed,
        s.deleted,
        s.duration_ms
    );
    Ok(())
}

async fn list(app: &App) -> Result<()> {
    let all = app
        .store
        .directories()
        .await
        .context("read the directories")?;
    if all.is_empty() {
        println!("No directories yet; add one with rehome directory add.");
        return Ok(());
    }
    println!(
        "{:<20} {:<6} {:<30} {:>9}  LAST IMPORT",
        "NAME", "KIND", "DOMAIN", "OBJECTS"
    );
    for d in all {
        let runs = app
            .store
            .import_runs(d.id)
            .await
            .context("read the imports")?;
        let (objects, last) = match runs.first() {
            Some(r) => (
                r.total.to_string(),
                format!("{} ({})", r.started_at.format("%Y-%m-%d %H:%M UTC"), r.kind),
            ),
            None => ("-".to_string(), "never".to_string()),
        };
        println!(
            "{:<20} {:<6} {:<30} {:>9}  {}",
            d.name,
            kind_word(d.kind),
            d.domain,
            objects,
            last
        );
    }
    Ok(())
}

async fn match_run(
    app: &App,
    source: &str,
    target: &str,
    profile: Option<PathBuf>,
    attribute: Option<String>,
) -> Result<()> {
    let (s, t) = (find(app, source).await?, find(app, target).await?);
    let profile = match (profile, attribute) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("--profile: cannot read {}", path.display()))?;
            let profile: MatchProfile = serde_json::from_str(&text).map_err(|e| {
                anyhow!(
                    "--profile: {} is not a match profile: {}",
                    path.display(),
                    e
                )
            })?;
            Some(profile)
        }
        (None, Some(name)) => {
            let attr = Attribute::parse(&name).ok_or_else(|| {
                anyhow!(
                    "--attribute: {:?} is not an attribute a profile can compare, e.g. sAMAccountName",
                    name
                )
            })?;
            Some(MatchProfile::by_attribute(&name, attr))
        }
        (None, None) => None,
    };
    let bar = spinner(format!("matching {} to {}", s.name, t.name));
    let result = server::directory::match_pair(app, s.id, t.id, profile).await;
    bar.finish_and_clear();
    let summary = result.map_err(|e| field_to_flag(readable(e)))?;
    println!(
        "Matched {} to {}: {} matched, {} unmatched, {} ambiguous ({} translation rows changed)",
        s.name, t.name, summary.matched, summary.unmatched, summary.ambiguous, summary.rows_changed
    );
    if !summary.unmatched_names.is_empty() {
        println!("Unmatched: {}", summary.unmatched_names.join(", "));
    }
    if !summary.ambiguous_names.is_empty() {
        println!("Ambiguous: {}", summary.ambiguous_names.join(", "));
    }
    Ok(())
}
