//! The Entra join with a provisioning package: the `.ppkg` an administrator built with Windows
//! Configuration Designer for the target directory (it embeds a bulk enrollment token) arrives
//! with the final check-in. It is checked against its SHA-256, written to a fresh folder under
//! `%ProgramData%\rehome` that only SYSTEM and Administrators can open, applied with
//! `Install-ProvisioningPackage -ForceInstall -QuietInstall` once
//! `AllowAddProvisioningPackage` is 1, and removed; then the join is read back from
//! `CloudDomainJoin\JoinInfo`, and a device the package did not join to the tenant fails the step.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent::{CommandOutcome, Effect, Error, RegValue, Result, Workstation};
use model::protocol::ProvisioningPackage;

use super::command::{bounded, private_folder, run_program, OUTPUT_PART};
use super::registry;
use super::sys::Sys;
use super::workstation::WindowsWorkstation;
use crate::keys::KeyName;

/// The policy that lets packages be added, and its value.
pub const POLICY_KEY: &str = "HKLM\\SOFTWARE\\Microsoft\\PolicyManager\\current\\device\\Security";
pub const POLICY_VALUE: &str = "AllowAddProvisioningPackage";
/// Where Windows records the Entra join: one subkey per join certificate's thumbprint.
pub const JOIN_INFO: &str = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\CloudDomainJoin\\JoinInfo";
/// How long `Install-ProvisioningPackage` may take before it is stopped.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The Entra join the device holds, as `JoinInfo` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraJoin {
    /// The tenant's id.
    pub tenant_id: String,
    /// The account that joined it (a bulk token's package account is `package_…@<tenant>`).
    pub user_email: String,
}

impl EntraJoin {
    /// Whether this is a join to the runbook's `tenant`. By tenant id when one is known (the
    /// server's with `package`, or `tenant` itself when it is an id): nothing else counts. Else
    /// by the domain of the account that joined: `tenant`, or one of the tenant's domains the
    /// server sent with `package`.
    pub fn is_to(&self, tenant: &str, package: Option<&ProvisioningPackage>) -> bool {
        match known_tenant_id(tenant, package) {
            Some(id) => id.eq_ignore_ascii_case(self.tenant_id.trim()),
            None => {
                let domain = self.account_domain();
                !domain.is_empty()
                    && tenant_domains(tenant, package)
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(domain))
            }
        }
    }

    /// The domain of the account that joined, empty when `JoinInfo` names none.
    fn account_domain(&self) -> &str {
        match self.user_email.rsplit_once('@') {
            Some((_, domain)) => domain.trim(),
            None => "",
        }
    }

    fn describe(&self) -> String {
        if self.user_email.is_empty() {
            self.tenant_id.clone()
        } else {
            format!("{} (joined as {})", self.tenant_id, self.user_email)
        }
    }
}

/// The tenant id the join must name, when one is known.
fn known_tenant_id<'a>(
    tenant: &'a str,
    package: Option<&'a ProvisioningPackage>,
) -> Option<&'a str> {
    package
        .and_then(|p| p.tenant_id.as_deref())
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .or_else(|| Some(tenant.trim()).filter(|t| is_tenant_id(t)))
}

/// Whether `text` is a tenant id (a GUID, 8-4-4-4-12 hex digits) rather than a domain.
fn is_tenant_id(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The domains the account that joined may be in: `tenant` and those the server sent.
fn tenant_domains(tenant: &str, package: Option<&ProvisioningPackage>) -> Vec<String> {
    let mut out = vec![tenant.trim().to_string()];
    for d in package.map(|p| p.tenant_domains.as_slice()).unwrap_or(&[]) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(d.trim())) {
            out.push(d.trim().to_string());
        }
    }
    out
}

/// What a join to `tenant` must name, for an error.
pub fn expected(tenant: &str, package: Option<&ProvisioningPackage>) -> String {
    match known_tenant_id(tenant, package) {
        Some(id) => format!("the tenant id {}", id),
        None => format!(
            "an account in {} (the server knows no tenant id for it: import the directory from Graph to check by id)",
            tenant_domains(tenant, package).join(" or ")
        ),
    }
}

/// The file a package is written to in `folder`: named by its hash, never by what was uploaded.
pub fn package_path(folder: &Path, sha256: &str) -> PathBuf {
    let short: String = sha256
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    folder.join(format!("join-{}.ppkg", short))
}

/// The folder packages are written to.
fn folder() -> Result<PathBuf> {
    Ok(super::service::state_dir()?
        .parent()
        .map(|p| p.join("provisioning"))
        .unwrap_or_else(|| PathBuf::from("provisioning")))
}

fn remove(folder: &Path) -> Result<()> {
    match std::fs::remove_dir_all(folder) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            what: "removing the provisioning package's folder",
            path: folder.to_path_buf(),
            source: e,
        }),
    }
}

/// Writes `bytes` to a fresh private folder, has `sys` install it, and removes the folder
/// whatever happened.
fn install(sys: &dyn Sys, sha256: &str, bytes: &[u8]) -> Result<CommandOutcome> {
    let folder = folder()?;
    // What an interrupted join left goes first.
    remove(&folder)?;
    private_folder(&folder)?;
    let path = package_path(&folder, sha256);
    let outcome = std::fs::write(&path, bytes)
        .map_err(|e| Error::Io {
            what: "writing the provisioning package to",
            path: path.clone(),
            source: e,
        })
        .and_then(|()| sys.install_provisioning_package(&path));
    let removed = remove(&folder);
    let outcome = outcome?;
    removed?;
    Ok(outcome)
}

/// Joins `tenant` by applying `package`; unchanged when the device is joined to it already.
pub fn join(
    ws: &mut WindowsWorkstation,
    tenant: &str,
    package: &ProvisioningPackage,
) -> Result<Effect> {
    if let Some(joined) = ws.sys().entra_join()? {
        if joined.is_to(tenant, Some(package)) {
            return Ok(Effect::unchanged(format!(
                "already joined to the Entra tenant {}",
                tenant
            )));
        }
    }
    let bytes = package.bytes().map_err(Error::Device)?;
    ws.set_registry_value(POLICY_KEY, POLICY_VALUE, &RegValue::Dword(1))?;
    let outcome = install(ws.sys(), &package.sha256, &bytes)?;
    match outcome.exit_code {
        Some(0) => {}
        Some(code) => {
            return Err(Error::Device(format!(
                "Install-ProvisioningPackage refused {} (exit code {}): {}",
                package.name,
                code,
                outcome.output.trim()
            )))
        }
        None => {
            return Err(Error::Device(format!(
            "Install-ProvisioningPackage did not finish {} within {} minutes and was stopped: {}",
            package.name,
            INSTALL_TIMEOUT.as_secs() / 60,
            outcome.output.trim()
        )))
        }
    }
    match ws.sys().entra_join()? {
        Some(joined) if joined.is_to(tenant, Some(package)) => Ok(Effect::changed(
            1,
            format!(
                "joined the Entra tenant {} with the provisioning package {}",
                tenant, package.name
            ),
        )),
        Some(joined) => Err(Error::Device(format!(
            "after the provisioning package {} the device is joined to the Entra tenant {}, and a join to {} must name {}: check the package was built for this directory",
            package.name,
            joined.describe(),
            tenant,
            expected(tenant, Some(package))
        ))),
        None => Err(Error::Device(format!(
            "Install-ProvisioningPackage applied {} but the device is not joined to the Entra tenant {} ({} holds no join): check the package's bulk enrollment token has not expired",
            package.name, tenant, JOIN_INFO
        ))),
    }
}

/// `Install-ProvisioningPackage` itself, through `powershell.exe`, with its output bounded.
pub fn win32_install(path: &Path) -> Result<CommandOutcome> {
    super::wine_lacks("powershell.exe Install-ProvisioningPackage")?;
    let folder = path.parent().unwrap_or(path);
    let powershell =
        super::system::expand("%SystemRoot%\\System32\\WindowsPowerShell\\v1.0\\powershell.exe")?;
    let quoted = path.to_string_lossy().replace('\'', "''");
    let arguments = format!(
        "-NoProfile -NonInteractive -Command Install-ProvisioningPackage -PackagePath '{}' -ForceInstall -QuietInstall",
        quoted
    );
    let output_path = folder.join("output.txt");
    let output = File::create(&output_path).map_err(|e| Error::Io {
        what: "creating the output file",
        path: output_path.clone(),
        source: e,
    })?;
    let exit_code = run_program(&powershell, &arguments, folder, &output, INSTALL_TIMEOUT)?;
    drop(output);
    let text = std::fs::read(&output_path).map_err(|e| Error::Io {
        what: "reading the output of",
        path: output_path,
        source: e,
    })?;
    Ok(CommandOutcome {
        exit_code,
        output: bounded(&text, OUTPUT_PART),
    })
}

/// The Entra join `JoinInfo` records, if any.
pub fn win32_join_info() -> Result<Option<EntraJoin>> {
    let root = KeyName::parse(JOIN_INFO)?;
    let key = match registry::open(&root, registry::READ)? {
        Some(key) => key,
        None => return Ok(None),
    };
    for thumbprint in key.subkeys()? {
        let join = match registry::open(&root.child(&thumbprint), registry::READ)? {
            Some(join) => join,
            None => continue,
        };
        let text = |name: &str| -> Result<String> {
            Ok(match join.value(name)? {
                Some(RegValue::Sz(s)) | Some(RegValue::ExpandSz(s)) => s,
                _ => String::new(),
            })
        };
        let tenant_id = text("TenantId")?;
        if !tenant_id.is_empty() {
            return Ok(Some(EntraJoin {
                tenant_id,
                user_email: text("UserEmail")?,
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f0d2c1e-9a7b-4c3d-8e6f-0123456789ab";
    const OTHER_ID: &str = "0b7e1d2c-1111-4222-8333-444455556666";

    fn joined(tenant_id: &str, account: &str) -> EntraJoin {
        EntraJoin {
            tenant_id: tenant_id.into(),
            user_email: account.into(),
        }
    }

    fn package(tenant_id: Option<&str>, domains: &[&str]) -> ProvisioningPackage {
        ProvisioningPackage {
            tenant_id: tenant_id.map(str::to_string),
            tenant_domains: domains.iter().map(|d| d.to_string()).collect(),
            ..ProvisioningPackage::new("join.ppkg", b"ppkg")
        }
    }

    #[test]
    fn a_known_tenant_id_decides_alone() {
        let p = package(Some(ID), &["contoso.com"]);
        // A bulk token's account is in the tenant's initial domain, never the custom one.
        assert!(
            joined(&ID.to_uppercase(), "package_0a1b@contoso.onmicrosoft.com")
                .is_to("contoso.com", Some(&p))
        );
        // Another tenant is refused even when its account's domain is the runbook's.
        assert!(!joined(OTHER_ID, "package_0a1b@contoso.com").is_to("contoso.com", Some(&p)));
        // A runbook naming the tenant by id needs no package to say it.
        assert!(joined(ID, "").is_to(ID, None));
        assert!(!joined(OTHER_ID, "").is_to(ID, None));
        assert_eq!(
            expected("contoso.com", Some(&p)),
            format!("the tenant id {}", ID)
        );
    }

    #[test]
    fn without_an_id_the_joining_accounts_domain_must_be_one_the_server_knows() {
        let initial = joined(ID, "package_0a1b@contoso.onmicrosoft.com");
        // A custom domain the server knows nothing more of: the device did join, and cannot be
        // told from a join elsewhere.
        assert!(!initial.is_to("contoso.com", Some(&package(None, &[]))));
        let known = package(None, &["Contoso.com", "contoso.onmicrosoft.com"]);
        assert!(initial.is_to("contoso.com", Some(&known)));
        assert!(!joined(OTHER_ID, "package_9f@fabrikam.onmicrosoft.com")
            .is_to("contoso.com", Some(&known)));
        // No account recorded: nothing to compare.
        assert!(!joined(ID, "").is_to("contoso.com", Some(&known)));
        let said = expected("contoso.com", Some(&known));
        assert!(
            said.contains("contoso.com or contoso.onmicrosoft.com")
                && said.contains("no tenant id"),
            "{}",
            said
        );
    }
}
