//! Seeds the demo server the way an engineer would in the console: two directories imported and
//! matched, a PSK, an agent certificate, a runbook and a batch enforced now.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::Duration;
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::directory::{Directory, DirectoryKind, MatchAttribute};
use model::ids::{BatchId, DirectoryId, LicenceId, RunbookId};
use model::licence::{self, IssuerKey, Licence, Product};
use model::runbook::{
    ActiveDirectoryJoin, CompletionSettings, DeviceStateSettings, DomainJoin, PermissionMode,
    PermissionSettings, RemoveFrom, Runbook, Secret, StartupSettings,
};
use model::status::AgentStatus;
use server::App;

use super::directories::{self, DomainFile};
use super::DemoArgs;

/// What the demo set up, for the fleet and the final check.
pub struct World {
    /// The source domain as generated.
    pub source: DomainFile,
    /// The target domain as generated.
    pub target: DomainFile,
    /// The source DNS domain.
    pub source_domain: String,
    /// The target DNS domain.
    pub target_domain: String,
    /// Users and groups in the translation table.
    pub matched: u64,
    /// The runbook's name.
    pub runbook_name: String,
    /// The PSK agents register with.
    pub psk: String,
    /// The batch the workstations are in.
    pub batch: BatchId,
}

async fn add_directory(
    app: &App,
    data_dir: &Path,
    name: &str,
    file: &DomainFile,
) -> Result<DirectoryId> {
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
    .with_context(|| format!("add directory {}", name))?;
    let path = data_dir.join(format!("{}.json", name.to_lowercase()));
    std::fs::write(&path, serde_json::to_vec(file)?)
        .with_context(|| format!("write {}", path.display()))?;
    server::directory::import_file(app, directory.id, &path)
        .await
        .with_context(|| format!("import {}", name))?;
    Ok(directory.id)
}

/// Sets everything up and returns what the fleet needs.
pub async fn seed(app: &App, data_dir: &Path, args: &DemoArgs) -> Result<World> {
    let source = directories::generate("contoso.test", 1, args.users, args.computers);
    let target = directories::generate("fabrikam.test", 2, args.users, 0);
    let source_id = add_directory(app, data_dir, "CONTOSO", &source).await?;
    let target_id = add_directory(app, data_dir, "FABRIKAM", &target).await?;
    let matched =
        server::directory::match_users(app, source_id, target_id, MatchAttribute::SamAccountName)
            .await
            .context("match the directories")?;

    let psk = server::migration::keys::create_psk(app, Default::default())
        .await
        .context("create a PSK")?
        .key;
    server::migration::keys::create_certificate(
        app,
        server::migration::keys::NewCertificate::default(),
    )
    .await
    .context("create an agent certificate")?;

    let runbook = Runbook {
        id: RunbookId::new(),
        name: "CONTOSO to FABRIKAM".to_string(),
        source_directories: vec![source_id],
        target_directory: target_id,
        allow_on_server_os: false,
        startup: StartupSettings::default(),
        device_state: DeviceStateSettings {
            remove_from: RemoveFrom::ActiveDirectory,
            domain_join: DomainJoin::ActiveDirectory,
            // An online join names the account that creates the computer objects.
            active_directory: ActiveDirectoryJoin {
                username: "FABRIKAM\\rehome-join".to_string(),
                password: Secret::new("demo-join-password"),
                ..Default::default()
            },
            ..Default::default()
        },
        permissions: PermissionSettings {
            mode: PermissionMode::AddAndRemove,
            ..Default::default()
        },
        completion: CompletionSettings::default(),
        prerequisites: Vec::new(),
        user_experience: Default::default(),
        apps: Default::default(),
    };
    let runbook = server::migration::runbooks::create(app, runbook)
        .await
        .context("create the runbook")?;

    let batch = Batch {
        id: BatchId::new(),
        name: "Demo wave 1".to_string(),
        source_directory: source_id,
        target_directory: target_id,
        assignments: vec![Assignment {
            runbook: runbook.id,
            available_from: None,
            enforced_after: (app.clock.now() - Duration::minutes(1)).naive_utc(),
            timezone: ScheduleTimezone::Utc,
        }],
        computers: ComputerSelection {
            mode: SelectionMode::AllExcept,
            computers: Vec::new(),
        },
    };
    let batch_id = batch.id;
    server::migration::batches::create(app, batch)
        .await
        .context("create the batch")?;

    Ok(World {
        source_domain: source.domain.clone(),
        target_domain: target.domain.clone(),
        source,
        target,
        matched: matched.matched,
        runbook_name: runbook.name,
        psk,
        batch: batch_id,
    })
}

/// Applies a migration licence for `devices` devices from the source to the target domain, signed
/// by `issuer` (which the server must trust), the way a tenant administrator pastes one.
pub async fn apply_licence(
    app: &App,
    issuer: &IssuerKey,
    world: &World,
    devices: usize,
) -> Result<()> {
    let now = app.clock.now();
    let draft = Licence {
        id: LicenceId::new(),
        customer: "rehome demo".to_string(),
        products: vec![Product::Sync, Product::Migration],
        source_domains: vec![world.source_domain.clone()],
        target_domains: vec![world.target_domain.clone()],
        devices: u32::try_from(devices).context("too many devices for one licence")?,
        issued_at: now,
        expires_at: now + Duration::days(30),
        issuer: issuer.public(),
    };
    let text = licence::issue(issuer, &draft).context("issue the demo licence")?;
    server::licences::apply(app, &text)
        .await
        .context("apply the demo licence")?;
    Ok(())
}

/// The dashboard's counts over every batch: computers without an agent count as No Agent.
pub struct Counts(server::migration::progress::StatusCounts);

impl Counts {
    /// How many are in `status`.
    pub fn get(&self, status: AgentStatus) -> u64 {
        self.0.get(status)
    }

    /// `Completed 12 · In Progress 30 …`, leaving out zeros.
    pub fn summary(&self) -> String {
        AgentStatus::ALL
            .iter()
            .map(|s| (*s, self.get(*s)))
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{} {}", s.label(), n))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// The current counts.
pub async fn status_counts(app: &App) -> Result<Counts> {
    Ok(Counts(
        server::migration::progress::progress(app).await?.overall,
    ))
}
