//! `rehome sync …`: sync profiles of a source and target pair, What If for export, and exporting
//! now, on the store of `--data-dir`/`--database`, without a running server.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::{Subcommand, ValueEnum};
use server::directory::export;
use server::directory::export::plan::Change;
use server::directory::export::profile::{
    DeletionPolicy, ExportKind, ProfileBody, Scope, SyncMode,
};

use crate::directory_cmd::{find, open, readable};
use crate::StoreArgs;

/// The kinds a profile covers, as the command line spells them.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// Users.
    Users,
    /// Contacts.
    Contacts,
    /// Groups.
    Groups,
}

impl From<KindArg> for ExportKind {
    fn from(k: KindArg) -> ExportKind {
        match k {
            KindArg::Users => ExportKind::Users,
            KindArg::Contacts => ExportKind::Contacts,
            KindArg::Groups => ExportKind::Groups,
        }
    }
}

/// `rehome sync …`.
#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Add a Create-or-Update profile for one kind of object of SOURCE → TARGET.
    Add {
        /// The source directory's name.
        source: String,
        /// The target directory's name.
        target: String,
        /// Users, contacts or groups.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// The target OU new objects are created in (Active Directory).
        #[arg(long)]
        container: Option<String>,
        /// Only objects under these source OUs (repeat the flag for several).
        #[arg(long = "scope-ou")]
        scope_ous: Vec<String>,
        /// An LDAP filter source objects must match, e.g. (department=Sales).
        #[arg(long)]
        filter: Option<String>,
        /// A Microsoft Graph $filter source objects must match (Entra ID sources), e.g.
        /// "department eq 'Sales'".
        #[arg(long)]
        graph_filter: Option<String>,
        /// What becomes of a target object whose source left: leave, disable, or move:<OU DN>.
        #[arg(long, default_value = "leave")]
        deletion: String,
        /// The attribute flow as JSON (`[{"target": "…", "source": "…"}]`); the defaults when absent.
        #[arg(long)]
        flow: Option<PathBuf>,
        /// The profile's name (default: "SOURCE to TARGET kind").
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the sync profiles.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show every add, modify and move an export of SOURCE → TARGET would make; writes nothing.
    WhatIf {
        /// The source directory's name.
        source: String,
        /// The target directory's name.
        target: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Export SOURCE → TARGET now.
    Export {
        /// The source directory's name.
        source: String,
        /// The target directory's name.
        target: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn deletion(text: &str) -> Result<DeletionPolicy> {
    match text.trim() {
        "leave" => Ok(DeletionPolicy::Leave),
        "disable" => Ok(DeletionPolicy::Disable),
        other => match other.strip_prefix("move:") {
            Some(container) => Ok(DeletionPolicy::Move {
                container: container.to_string(),
            }),
            None => Err(anyhow!(
                "--deletion: leave, disable or move:<OU DN>, not {:?}",
                other
            )),
        },
    }
}

/// Runs `rehome sync …`.
pub fn run(command: SyncCommand) -> Result<()> {
    crate::runtime()?.block_on(async {
        match command {
            SyncCommand::Add {
                source,
                target,
                kind,
                container,
                scope_ous,
                filter,
                graph_filter,
                deletion: policy,
                flow,
                name,
                store,
            } => {
                let app = open(&store).await?;
                let (s, t) = (find(&app, &source).await?, find(&app, &target).await?);
                let kind = ExportKind::from(kind);
                let flow = match flow {
                    Some(path) => {
                        let text = std::fs::read_to_string(&path)
                            .with_context(|| format!("read {}", path.display()))?;
                        serde_json::from_str(&text)
                            .map_err(|e| anyhow!("--flow {}: {}", path.display(), e))?
                    }
                    None => Vec::new(),
                };
                let body = ProfileBody {
                    name: name.unwrap_or_else(|| {
                        format!("{} to {} {}", s.name, t.name, kind.as_str())
                    }),
                    source: s.id,
                    target: t.id,
                    kind,
                    mode: SyncMode::CreateOrUpdate,
                    scope: Scope {
                        ous: scope_ous,
                        groups: Vec::new(),
                        ldap_filter: filter,
                        graph_filter,
                    },
                    flow,
                    containers: Vec::new(),
                    default_container: container,
                    deletion: deletion(&policy)?,
                };
                let p = export::put_profile(&app, None, body)
                    .await
                    .map_err(readable)?;
                println!("Added sync profile {:?} ({})", p.name, p.id);
                Ok(())
            }
            SyncCommand::List { store } => {
                let app = open(&store).await?;
                for p in export::profiles(&app).await.map_err(readable)? {
                    let mode = match p.mode {
                        SyncMode::MatchOnly => "Match only",
                        SyncMode::CreateOrUpdate => "Create or Update",
                    };
                    println!("{}\t{}\t{}\t{}", p.id, p.name, p.kind.as_str(), mode);
                }
                Ok(())
            }
            SyncCommand::WhatIf {
                source,
                target,
                store,
            } => {
                let app = open(&store).await?;
                let (s, t) = (find(&app, &source).await?, find(&app, &target).await?);
                let preview = export::what_if(&app, s.id, t.id)
                    .await
                    .map_err(readable)?;
                for p in &preview.profiles {
                    println!(
                        "{} ({}): {} changes, {} refused, {} unchanged",
                        p.profile,
                        p.kind.as_str(),
                        p.changes.len(),
                        p.refused.len(),
                        p.unchanged
                    );
                    for c in &p.changes {
                        print_change(c);
                    }
                    for r in &p.refused {
                        println!("  refused {}: {}", r.name, r.reason);
                    }
                }
                Ok(())
            }
            SyncCommand::Export {
                source,
                target,
                store,
            } => {
                let app = open(&store).await?;
                let (s, t) = (find(&app, &source).await?, find(&app, &target).await?);
                let run = export::run(&app, s.id, t.id).await.map_err(readable)?;
                println!(
                    "Exported {} to {}: {} created, {} updated, {} moved, {} disabled, {} groups' members changed, {} refused, {} unchanged ({} LDAP/Graph operations)",
                    s.name,
                    t.name,
                    run.created,
                    run.updated,
                    run.moved,
                    run.disabled,
                    run.memberships,
                    run.refused,
                    run.unchanged,
                    run.operations
                );
                Ok(())
            }
        }
    })
}

fn print_change(change: &Change) {
    match change {
        Change::Create {
            name, attributes, ..
        } => {
            println!("  add {}", name);
            for a in attributes {
                println!("    {}: {}", a.attribute, a.new);
            }
        }
        Change::Update {
            name, attributes, ..
        } => {
            println!("  modify {}", name);
            for a in attributes {
                println!(
                    "    {}: {} -> {}",
                    a.attribute,
                    a.old.as_deref().unwrap_or("(none)"),
                    a.new
                );
            }
        }
        other => println!("  {}", other.describe()),
    }
}
