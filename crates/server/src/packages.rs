//! Command packages: a zip with `cmdline.cmd` at its root that a runbook runs at Startup or
//! Completion. An upload is checked by [`command_package`] and stored once, by its SHA-256.

use chrono::{DateTime, Utc};
use model::ids::RunbookId;
use model::runbook::{CommandPackageRef, Runbook};
use serde::Serialize;

use crate::store::packages::PackageRow;
use crate::{App, Error, Result};

pub use command_package::{
    escapes, PackageSummary, ENTRY_SCRIPT, MAX_ENTRIES, MAX_RATIO, MAX_UNCOMPRESSED_BYTES,
    MAX_UPLOAD_BYTES, RATIO_FLOOR,
};

/// Checks an uploaded zip; the error names `body` and says what to fix.
pub fn validate(bytes: &[u8]) -> Result<PackageSummary> {
    command_package::check(bytes).map_err(|refusal| Error::field("body", refusal.0))
}

/// Checks a package's name as shown in runbooks.
pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 {
        return Err(Error::field(
            "name",
            "give the file name, 1 to 255 characters",
        ));
    }
    if !name.to_ascii_lowercase().ends_with(".zip") {
        return Err(Error::field("name", "a command package is a .zip file"));
    }
    if name.contains(['/', '\\']) {
        return Err(Error::field(
            "name",
            "a file name without folders is expected",
        ));
    }
    Ok(name.to_string())
}

/// A runbook that uses a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsedBy {
    /// The runbook's id.
    pub id: RunbookId,
    /// Its name.
    pub name: String,
}

/// A stored package (or lock-screen image) as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageView {
    /// The name it was first uploaded as.
    pub name: String,
    /// Lower-case hex SHA-256 of the zip: what runbooks name.
    pub sha256: String,
    /// Size of the zip in bytes.
    pub size: u64,
    /// When it was first uploaded.
    pub uploaded_at: DateTime<Utc>,
    /// The runbooks that run it.
    pub used_by: Vec<UsedBy>,
}

/// The packages a runbook runs, with the field that names each.
pub fn packages_of(runbook: &Runbook) -> Vec<(&'static str, &CommandPackageRef)> {
    let mut out = Vec::new();
    if let Some(p) = &runbook.startup.command_package {
        out.push(("startup.command_package.sha256", p));
    }
    if let Some(p) = &runbook.completion.command_package {
        out.push(("completion.command_package.sha256", p));
    }
    out
}

/// The hashes of the command packages `runbook` runs.
fn package_hashes(runbook: &Runbook) -> Vec<&str> {
    packages_of(runbook)
        .into_iter()
        .map(|(_, p)| p.sha256.as_str())
        .collect()
}

/// The runbooks that name the file `sha256`, by what `names` finds in each.
pub(crate) fn used_by(
    runbooks: &[Runbook],
    sha256: &str,
    names: fn(&Runbook) -> Vec<&str>,
) -> Vec<UsedBy> {
    runbooks
        .iter()
        .filter(|r| names(r).contains(&sha256))
        .map(|r| UsedBy {
            id: r.id,
            name: r.name.clone(),
        })
        .collect()
}

/// A stored file as listed, with the runbooks that name it.
pub(crate) fn view(
    row: PackageRow,
    runbooks: &[Runbook],
    names: fn(&Runbook) -> Vec<&str>,
) -> PackageView {
    PackageView {
        used_by: used_by(runbooks, &row.sha256, names),
        name: row.name,
        sha256: row.sha256,
        size: row.size,
        uploaded_at: row.uploaded_at,
    }
}

/// Checks and stores an uploaded package. The same bytes uploaded again are stored once: the
/// answer is the stored package, and `true` only the first time.
pub async fn upload(app: &App, name: &str, bytes: Vec<u8>) -> Result<(PackageView, bool)> {
    let name = validate_name(name)?;
    let (bytes, sha256) = tokio::task::spawn_blocking(move || {
        validate(&bytes)?;
        let sha256 = model::protocol::sha256_hex(&bytes);
        Ok::<_, Error>((bytes, sha256))
    })
    .await
    .map_err(|e| Error::Internal(format!("package check stopped: {}", e)))??;
    let row = PackageRow {
        sha256: sha256.clone(),
        name,
        size: bytes.len() as u64,
        uploaded_at: app.clock.now(),
    };
    let created = app.store.insert_package(&row, &bytes).await?;
    let stored = list(app)
        .await?
        .into_iter()
        .find(|p| p.sha256 == sha256)
        .ok_or(Error::NotFound("command package"))?;
    Ok((stored, created))
}

/// Every stored package with the runbooks that use it.
pub async fn list(app: &App) -> Result<Vec<PackageView>> {
    let runbooks = app.store.runbooks().await?;
    Ok(app
        .store
        .packages()
        .await?
        .into_iter()
        .map(|row| view(row, &runbooks, package_hashes))
        .collect())
}

/// Deletes a package no runbook uses.
pub async fn delete(app: &App, sha256: &str) -> Result<()> {
    let sha256 = sha256.to_ascii_lowercase();
    let users = used_by(&app.store.runbooks().await?, &sha256, package_hashes);
    if let Some(first) = users.first() {
        return Err(Error::Conflict(format!(
            "runbook {:?} runs this package; choose another package there first",
            first.name
        )));
    }
    if app.store.delete_package(&sha256).await? {
        Ok(())
    } else {
        Err(Error::NotFound("command package"))
    }
}

/// Field errors for each package `runbook` names that is not stored.
pub async fn check_runbook_packages(
    app: &App,
    runbook: &Runbook,
) -> Result<Vec<model::FieldError>> {
    let mut errors = Vec::new();
    for (field, package) in packages_of(runbook) {
        if !app.store.has_package(&package.sha256).await? {
            errors.push(model::FieldError::new(
                field,
                "no command package with this hash is stored: upload it first",
            ));
        }
    }
    Ok(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_upload_names_the_body() {
        match validate(b"not a zip") {
            Err(Error::Invalid(fields)) => {
                assert_eq!(fields[0].field, "body");
                assert!(fields[0].message.starts_with("not a zip file"));
            }
            other => panic!("refused with the body named, not {:?}", other),
        }
    }

    #[test]
    fn package_names_are_zip_file_names() {
        assert_eq!(
            validate_name(" tools.ZIP ").ok().as_deref(),
            Some("tools.ZIP")
        );
        assert!(validate_name("tools.exe").is_err());
        assert!(validate_name("a/tools.zip").is_err());
        assert!(validate_name("").is_err());
    }
}
