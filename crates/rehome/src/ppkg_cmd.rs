//! `rehome directory provisioning-package …`: upload, show and delete the `.ppkg` that joins
//! Windows devices to an Entra directory, on the store of `--data-dir`/`--database`, as the API's
//! `/directories/{id}/provisioning-package` does. Each change is recorded in the audit trail.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use server::enrollment::provisioning::{self, ProvisioningPackageView, MAX_PACKAGE_BYTES};
use server::App;

use crate::directory_cmd::{find, open, readable};
use crate::StoreArgs;

/// `rehome directory provisioning-package …`.
#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Store the .ppkg Windows Configuration Designer built for an Entra directory, replacing
    /// the one it had.
    Upload {
        /// The Entra directory's name.
        directory: String,
        /// The .ppkg file.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show a directory's package: name, size, SHA-256 and upload time (never its content).
    Show {
        /// The Entra directory's name.
        directory: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete a directory's package.
    Delete {
        /// The Entra directory's name.
        directory: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Runs `rehome directory provisioning-package …`.
pub async fn run(command: PackageCommand) -> Result<()> {
    match command {
        PackageCommand::Upload {
            directory,
            file,
            store,
        } => {
            let app = open(&store).await?;
            upload(&app, &directory, &file).await
        }
        PackageCommand::Show { directory, store } => {
            let app = open(&store).await?;
            let id = find(&app, &directory).await?.id;
            let view = provisioning::show(&app, id).await.map_err(readable)?;
            print_view(&directory, &view);
            Ok(())
        }
        PackageCommand::Delete { directory, store } => {
            let app = open(&store).await?;
            let id = find(&app, &directory).await?.id;
            provisioning::delete(&app, id).await.map_err(readable)?;
            record(&app, &format!("delete {}", directory), None).await;
            println!("Deleted the provisioning package of {}", directory);
            Ok(())
        }
    }
}

async fn upload(app: &App, directory: &str, file: &Path) -> Result<()> {
    let id = find(app, directory).await?.id;
    let size = std::fs::metadata(file)
        .with_context(|| format!("--file: read {}", file.display()))?
        .len();
    if size > MAX_PACKAGE_BYTES as u64 {
        return Err(anyhow!(
            "--file: {} is {} bytes; a provisioning package may have at most {} MiB",
            file.display(),
            size,
            MAX_PACKAGE_BYTES / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(file).with_context(|| format!("--file: read {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (view, created) = provisioning::upload(app, id, &name, &bytes)
        .await
        .map_err(|e| anyhow!("--file: {}", readable(e)))?;
    record(app, &format!("upload {}", directory), Some(&view)).await;
    println!(
        "{} the provisioning package of {}",
        if created { "Stored" } else { "Replaced" },
        directory
    );
    print_view(directory, &view);
    Ok(())
}

fn print_view(directory: &str, view: &ProvisioningPackageView) {
    println!("directory:   {}", directory);
    println!("name:        {}", view.name);
    println!("size:        {} bytes", view.size);
    println!("sha256:      {}", view.sha256);
    println!(
        "uploaded at: {}",
        view.uploaded_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
}

/// Records a change in the audit trail, as the command line on this machine.
async fn record(app: &App, action: &str, after: Option<&ProvisioningPackageView>) {
    let mut entry = server::audit::entry(
        app,
        "command line",
        None,
        &format!("rehome directory provisioning-package {action}"),
    );
    entry.after = after.and_then(|v| serde_json::to_value(v).ok());
    server::audit::record(app, entry).await;
}
