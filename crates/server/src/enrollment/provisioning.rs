//! Provisioning packages of Entra target directories: the `.ppkg` an administrator builds with
//! Windows Configuration Designer (it embeds a bulk enrollment token) and uploads, one per
//! directory. Stored sealed and never shown again: listing gives its name, size, SHA-256 and
//! upload time. A Windows device whose runbook joins that directory gets it with its final
//! check-in and applies it with `Install-ProvisioningPackage`.

use chrono::{DateTime, Utc};
use model::ids::DirectoryId;
use model::protocol::{sha256_hex, ProvisioningPackage};
use model::runbook::{DomainJoin, Runbook};
use serde::Serialize;

use crate::store::provisioning::ProvisioningPackageRow;
use crate::{App, Error, Result};

/// The largest package accepted. A package that joins Entra is a few kilobytes; it travels to
/// the device base64 inside the encrypted check-in answer, whose size the agent bounds.
pub const MAX_PACKAGE_BYTES: usize = 4 * 1024 * 1024;

/// A directory's provisioning package as the API shows it: never the package itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProvisioningPackageView {
    /// The file name it was uploaded as.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of its bytes: compare with the file Configuration Designer built.
    pub sha256: String,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
}

impl From<ProvisioningPackageRow> for ProvisioningPackageView {
    fn from(row: ProvisioningPackageRow) -> ProvisioningPackageView {
        ProvisioningPackageView {
            name: row.name,
            size: row.size,
            sha256: row.sha256,
            uploaded_at: row.uploaded_at,
        }
    }
}

/// Checks a package's file name.
pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 {
        return Err(Error::field(
            "name",
            "give the file name, 1 to 255 characters",
        ));
    }
    if name.contains(['/', '\\']) {
        return Err(Error::field(
            "name",
            "a file name without folders is expected",
        ));
    }
    if !name.to_ascii_lowercase().ends_with(".ppkg") {
        return Err(Error::field(
            "name",
            "a provisioning package is a .ppkg file (Windows Configuration Designer builds it)",
        ));
    }
    Ok(name.to_string())
}

/// Checks a package's bytes: present and within [`MAX_PACKAGE_BYTES`]. Its content cannot be
/// checked here (only Windows reads a `.ppkg`): the device reports a package Windows refuses.
pub fn validate_bytes(bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return Err(Error::field(
            "body",
            "the body is empty: send the .ppkg file's bytes",
        ));
    }
    if bytes.len() > MAX_PACKAGE_BYTES {
        return Err(Error::TooLarge(MAX_PACKAGE_BYTES / (1024 * 1024)));
    }
    Ok(())
}

/// The Entra directory `id`, or an error naming why it cannot have a package.
async fn entra_directory(app: &App, id: DirectoryId) -> Result<()> {
    let directory = app
        .store
        .directory(id)
        .await?
        .ok_or(Error::NotFound("directory"))?;
    if directory.kind != model::directory::DirectoryKind::EntraId {
        return Err(Error::field(
            "id",
            "provisioning packages join devices to Entra directories; this one is Active Directory",
        ));
    }
    Ok(())
}

/// Stores `bytes` as the provisioning package of the Entra directory `id`, in place of any it
/// had; true when it had none.
pub async fn upload(
    app: &App,
    id: DirectoryId,
    name: &str,
    bytes: &[u8],
) -> Result<(ProvisioningPackageView, bool)> {
    let name = validate_name(name)?;
    validate_bytes(bytes)?;
    entra_directory(app, id).await?;
    let row = ProvisioningPackageRow {
        directory: id,
        name,
        size: bytes.len() as u64,
        sha256: sha256_hex(bytes),
        uploaded_at: app.clock.now(),
    };
    let created = app.store.put_provisioning_package(&row, bytes).await?;
    tracing::info!(directory = %id, sha256 = %row.sha256, "provisioning package stored");
    Ok((row.into(), created))
}

/// The provisioning package of the Entra directory `id`, as listed.
pub async fn show(app: &App, id: DirectoryId) -> Result<ProvisioningPackageView> {
    entra_directory(app, id).await?;
    app.store
        .provisioning_package_info(id)
        .await?
        .map(ProvisioningPackageView::from)
        .ok_or(Error::NotFound("provisioning package"))
}

/// Deletes the provisioning package of the Entra directory `id`.
pub async fn delete(app: &App, id: DirectoryId) -> Result<()> {
    entra_directory(app, id).await?;
    if app.store.delete_provisioning_package(id).await? {
        Ok(())
    } else {
        Err(Error::NotFound("provisioning package"))
    }
}

/// The package a device gets with an assignment of `runbook` into `target`: only when the
/// runbook joins Entra and an administrator uploaded one for that directory.
pub async fn package_for_assignment(
    app: &App,
    runbook: &Runbook,
    target: DirectoryId,
) -> Result<Option<ProvisioningPackage>> {
    if runbook.device_state.domain_join != DomainJoin::Entra {
        return Ok(None);
    }
    let Some((row, bytes)) = app.store.provisioning_package(target).await? else {
        return Ok(None);
    };
    let directory = app.store.directory(target).await?;
    // The tenant named in the Graph connection: its id, or one of its domains.
    let configured = match crate::directory::connection::connection(app, target).await? {
        Some(info) => match info.settings {
            crate::directory::connection::ConnectionSettings::Graph { tenant_id, .. } => {
                Some(tenant_id.trim().to_lowercase())
            }
            _ => None,
        },
        None => None,
    };
    let (tenant_id, tenant_domains) = tenant_names(
        directory.as_ref().and_then(|d| d.domain_id.as_deref()),
        directory.as_ref().map(|d| d.domain.as_str()),
        configured.as_deref(),
    );
    Ok(Some(ProvisioningPackage {
        tenant_id,
        tenant_domains,
        ..ProvisioningPackage::new(&row.name, &bytes)
    }))
}

/// What a device's Entra join is checked against: the tenant id (the one a Graph import
/// recorded, else the connection's when it names the tenant by id), and the tenant's domains
/// known here (the directory's, the connection's when it names the tenant by a domain).
fn tenant_names(
    imported_id: Option<&str>,
    domain: Option<&str>,
    configured: Option<&str>,
) -> (Option<String>, Vec<String>) {
    let is_id = |t: &str| uuid::Uuid::parse_str(t).is_ok();
    let id = imported_id
        .map(|i| i.trim().to_lowercase())
        .filter(|i| !i.is_empty())
        .or_else(|| configured.filter(|c| is_id(c)).map(str::to_string));
    let mut domains: Vec<String> = Vec::new();
    for d in [domain, configured.filter(|c| !is_id(c))]
        .into_iter()
        .flatten()
    {
        let d = d.trim().to_lowercase();
        if !d.is_empty() && !domains.contains(&d) {
            domains.push(d);
        }
    }
    (id, domains)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_join_is_checked_by_the_imported_id_else_the_connections_else_by_domains() {
        let id = "4f0d2c1e-9a7b-4c3d-8e6f-0123456789ab";
        assert_eq!(
            tenant_names(
                Some(id),
                Some("Contoso.com"),
                Some("contoso.onmicrosoft.com")
            ),
            (
                Some(id.to_string()),
                vec![
                    "contoso.com".to_string(),
                    "contoso.onmicrosoft.com".to_string()
                ]
            )
        );
        // Not imported yet: the connection names the tenant by id.
        assert_eq!(
            tenant_names(None, Some("contoso.com"), Some(id)),
            (Some(id.to_string()), vec!["contoso.com".to_string()])
        );
        // Neither: the domains only, once each.
        assert_eq!(
            tenant_names(None, Some("contoso.com"), Some("contoso.com")),
            (None, vec!["contoso.com".to_string()])
        );
    }

    #[test]
    fn a_package_is_a_named_ppkg_file_within_the_limit() {
        assert_eq!(
            validate_name(" join-contoso.PPKG ").ok().as_deref(),
            Some("join-contoso.PPKG")
        );
        for bad in ["", "join.zip", "dir/join.ppkg", "c:\\join.ppkg"] {
            let err = validate_name(bad).expect_err("refused");
            assert!(format!("{:?}", err).contains("name"), "{bad}");
        }
        assert!(format!("{:?}", validate_bytes(b"").expect_err("empty")).contains("body"));
        let big = vec![0u8; MAX_PACKAGE_BYTES + 1];
        assert!(matches!(validate_bytes(&big), Err(Error::TooLarge(4))));
        assert!(validate_bytes(&vec![0u8; MAX_PACKAGE_BYTES]).is_ok());
    }
}
