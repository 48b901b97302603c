//! `rehome sync …`: sync profiles of a source and target pair, What If for export, and exporting
//! now, on the store of `--data-dir`/`--database`, without a running server.

use anyhow::{anyhow, Context, Result};
use clap::{Subcommand, ValueEnum};
use server::directory::export;
use server::directory::export::plan::Change;
use server::directory::export::profile::{
    DeletionPolicy, ExportKind, FlowRule, ProfileBody, Scope, SyncMode,
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
        /// The attribute flow: its JSON (`[{"target": "…", "source": "…"}]`) or the path of a file
        /// holding it; the defaults when absent.
        #[arg(long)]
        flow: Option<String>,
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
                    Some(flow) => attribute_flow(&flow)?,
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
                    .map_err(as_flags)?;
                println!("Added sync profile {:?} ({})", p.name, p.id);
                Ok(())
            }
            SyncCommand::List { store } => {
                let app = open(&store).await?;
                let profiles = export::profiles(&app).await.map_err(readable)?;
                if profiles.is_empty() {
                    println!("No sync profiles yet: add one with `rehome sync add`.");
                }
                for p in profiles {
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
                if preview.profiles.is_empty() {
                    println!(
                        "No sync profile exports {} to {}: add one with `rehome sync add`.",
                        s.name, t.name
                    );
                }
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

/// A profile's error, naming the flags of `rehome sync add` rather than the profile's fields.
fn as_flags(e: server::Error) -> anyhow::Error {
    let server::Error::Invalid(fields) = e else {
        return readable(e);
    };
    let named: Vec<String> = fields
        .iter()
        .map(|f| {
            let flag = [
                ("default_container", "--container"),
                ("scope.ous", "--scope-ou"),
                ("scope.ldap_filter", "--filter"),
                ("scope.graph_filter", "--graph-filter"),
                ("deletion", "--deletion"),
                ("flow", "--flow"),
                ("name", "--name"),
            ]
            .iter()
            .find(|(field, _)| {
                f.field == *field
                    || f.field.starts_with(&format!("{field}["))
                    || f.field.starts_with(&format!("{field}."))
            })
            .map_or(f.field.as_str(), |(_, flag)| flag);
            format!("{}: {}", flag, f.message)
        })
        .collect();
    anyhow!("{}", named.join("; "))
}

/// The attribute flow `--flow` gives: its JSON when it starts as a JSON list does, otherwise the
/// path of a file holding it.
fn attribute_flow(flow: &str) -> Result<Vec<FlowRule>> {
    let (text, from) = if flow.trim_start().starts_with('[') {
        (flow.to_string(), String::new())
    } else {
        let text = std::fs::read_to_string(flow)
            .with_context(|| format!("--flow: read the file {}", flow))?;
        (text, format!(" (the file {})", flow))
    };
    serde_json::from_str(&text).map_err(|e| anyhow!("--flow{}: not an attribute flow: {}", from, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_is_taken_as_json_or_read_from_the_file_it_names() {
        let json = r#"[{"target": "description", "source": "lower(sAMAccountName)"}]"#;
        let inline = attribute_flow(json).expect("inline JSON");
        assert_eq!(inline.len(), 1);
        assert_eq!(inline[0].target, "description");

        let dir = std::env::temp_dir().join(format!("rehome-flow-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("flow.json");
        std::fs::write(&file, json).expect("write");
        let read = attribute_flow(&file.to_string_lossy());
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(read.expect("flow from a file"), inline);

        let broken = attribute_flow(r#"[{"target":"description","source":"lower("}]"#)
            .expect_err("an expression cut short");
        assert!(
            broken
                .to_string()
                .starts_with("--flow: not an attribute flow"),
            "{broken}"
        );
        let missing = attribute_flow("no/such/flow.json").expect_err("no such file");
        let named = as_flags(server::Error::Invalid(vec![
            model::FieldError::new("scope.ous[1]", "not a distinguished name"),
            model::FieldError::new("deletion.container", "not a distinguished name"),
            model::FieldError::new("source", "the same as the target"),
        ]));
        assert_eq!(
            named.to_string(),
            "--scope-ou: not a distinguished name; --deletion: not a distinguished name; \
             source: the same as the target"
        );
        assert!(format!("{missing:#}").contains("--flow: read the file no/such/flow.json"));
    }
}
