//! Offline domain join blobs, prepared at run time: when a device that joins its target domain
//! offline makes its final check-in, the server provisions its computer account with Samba's
//! `net offlinejoin provision` (as the runbook's join account) and sends the blob the command
//! writes inside the encrypted envelope. The device then joins without sight of a domain
//! controller (`NetRequestOfflineDomainJoin`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use model::protocol::OfflineJoin;
use model::runbook::{DomainJoin, Runbook, RunbookSecrets};

use crate::error::Upstream;
use crate::{App, Error, Result};

/// How long one provisioning may take before it is stopped.
pub const PROVISION_TIMEOUT: Duration = Duration::from_secs(60);

/// The offline join a device gets with the final check-in of `runbook`, joining `domain` as
/// `machine`: `None` when the runbook does not join offline; otherwise the blob, or why there is
/// none (the server has no `net`, or Samba refused), which the device's pre-flight reports.
pub async fn for_device(
    app: &App,
    runbook: &Runbook,
    domain: &str,
    machine: &str,
    secrets: &RunbookSecrets,
) -> Option<OfflineJoin> {
    let ad = &runbook.device_state.active_directory;
    if runbook.device_state.domain_join != DomainJoin::ActiveDirectory || !ad.offline_domain_join {
        return None;
    }
    let net = match &app.settings.samba_net {
        Some(net) => net,
        None => {
            return Some(OfflineJoin::Unavailable(
                "this server does not prepare offline join blobs: start rehome serve with --samba-net (Samba's net program)".to_string(),
            ))
        }
    };
    let password = secrets.domain_join_password.clone().unwrap_or_default();
    let request = Provision {
        domain,
        machine,
        ou: &ad.computer_ou,
        reuse_existing: ad.reuse_existing_computer_account,
        account: &ad.username,
        password: &password,
    };
    Some(match provision(net, &request).await {
        Ok(blob) => OfflineJoin::blob(&blob),
        Err(e) => {
            tracing::warn!(computer = machine, domain, error = %e, "offline join blob not prepared");
            OfflineJoin::Unavailable(e.to_string())
        }
    })
}

/// What to provision.
#[derive(Clone, Copy)]
pub struct Provision<'a> {
    /// The target domain's DNS name.
    pub domain: &'a str,
    /// The computer's NetBIOS name.
    pub machine: &'a str,
    /// The OU's DN; blank for the domain's default container.
    pub ou: &'a str,
    /// Take over an existing computer account of the same name.
    pub reuse_existing: bool,
    /// The account that creates the computer object (`DOMAIN\user` or `user@domain`).
    pub account: &'a str,
    /// Its password: passed to `net` in the `PASSWD` environment variable, never on its
    /// command line, and never in an error.
    pub password: &'a str,
}

impl std::fmt::Debug for Provision<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provision")
            .field("domain", &self.domain)
            .field("machine", &self.machine)
            .field("ou", &self.ou)
            .field("reuse_existing", &self.reuse_existing)
            .field("account", &self.account)
            .finish()
    }
}

/// The arguments of `net` for `p`, writing the blob to `savefile`.
fn arguments(p: &Provision<'_>, savefile: &Path) -> Vec<String> {
    let mut args = vec![
        "offlinejoin".to_string(),
        "provision".to_string(),
        format!("domain={}", p.domain),
        format!("machine_name={}", p.machine),
        format!("savefile={}", savefile.display()),
    ];
    if !p.ou.trim().is_empty() {
        args.push(format!("machine_account_ou={}", p.ou.trim()));
    }
    if p.reuse_existing {
        args.push("reuse".to_string());
    }
    args.push("-U".to_string());
    args.push(p.account.to_string());
    args
}

/// Provisions `p` with the Samba `net` program at `net` and returns the blob it wrote. A failure
/// is an upstream error naming Samba and what it said (the password never appears).
pub async fn provision(net: &Path, p: &Provision<'_>) -> Result<Vec<u8>> {
    if p.account.trim().is_empty() || p.password.is_empty() {
        return Err(Error::field(
            "device_state.active_directory.username",
            "an offline join needs the join account and its password, with which the server provisions the computer account",
        ));
    }
    let dir = scratch_dir()?;
    let savefile = dir.join("odj.txt");
    let outcome = run(net, p, &savefile).await;
    let blob = match outcome {
        Ok(()) => std::fs::read(&savefile).map_err(|e| {
            Error::upstream(
                Upstream::SAMBA,
                "--samba-net",
                format!("net offlinejoin provision wrote no blob: {}", e),
            )
        }),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let blob = blob?;
    if blob.is_empty() {
        return Err(Error::upstream(
            Upstream::SAMBA,
            "--samba-net",
            "net offlinejoin provision wrote an empty blob",
        ));
    }
    Ok(blob)
}

async fn run(net: &Path, p: &Provision<'_>, savefile: &Path) -> Result<()> {
    let mut command = tokio::process::Command::new(net);
    command
        .args(arguments(p, savefile))
        .env("PASSWD", p.password)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(PROVISION_TIMEOUT, command.output()).await {
        Err(_) => {
            return Err(Error::upstream(
                Upstream::SAMBA,
                "--samba-net",
                format!(
                    "net offlinejoin provision did not finish within {} seconds",
                    PROVISION_TIMEOUT.as_secs()
                ),
            ))
        }
        Ok(Err(e)) => {
            return Err(Error::upstream(
                Upstream::SAMBA,
                "--samba-net",
                format!("cannot run {}: {}", net.display(), e),
            ))
        }
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    // Whatever the program printed, the password stays out of the error.
    let said = said.replace(p.password, "<hidden>");
    Err(Error::upstream(
        Upstream::SAMBA,
        "device_state.active_directory",
        format!(
            "net offlinejoin provision for {} in {} failed ({}): {}",
            p.machine,
            p.domain,
            output.status,
            said.trim()
        ),
    ))
}

/// A fresh private folder for one provisioning's savefile.
fn scratch_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("rehome-odj-{}", uuid::Uuid::new_v4()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(&dir)
        .map_err(|e| Error::Internal(format!("cannot create {}: {}", dir.display(), e)))?;
    Ok(dir)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in for `net` that writes its arguments and whether it got the password to the
    /// savefile, or fails as told.
    fn fake_net(dir: &Path, exit: i32) -> PathBuf {
        let path = dir.join("net");
        let script = format!(
            "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in savefile=*) out=\"${{a#savefile=}}\";; esac; done\n\
             if [ {exit} -ne 0 ]; then echo \"NT_STATUS_USER_EXISTS for $PASSWD\" >&2; exit {exit}; fi\n\
             {{ printf '%s\\n' \"$*\"; [ \"$PASSWD\" = 'Join-Passw0rd!' ] && echo password-given; }} > \"$out\"\n"
        );
        std::fs::write(&path, script).expect("write the fake net");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    fn request() -> Provision<'static> {
        Provision {
            domain: "fabrikam.test",
            machine: "PC-001",
            ou: "OU=Laptops,DC=fabrikam,DC=test",
            reuse_existing: true,
            account: "FABRIKAM\\rehome-join",
            password: "Join-Passw0rd!",
        }
    }

    #[tokio::test]
    async fn the_blob_net_writes_comes_back_and_the_password_is_not_on_its_command_line() {
        let dir = crate::store::testing::TestDir::new();
        let net = fake_net(dir.path(), 0);
        let blob = provision(&net, &request()).await.expect("provision");
        let text = String::from_utf8(blob).expect("text");
        assert!(text.contains("offlinejoin provision domain=fabrikam.test machine_name=PC-001"));
        assert!(text.contains(
            "machine_account_ou=OU=Laptops,DC=fabrikam,DC=test reuse -U FABRIKAM\\rehome-join"
        ));
        assert!(text.contains("password-given"), "{}", text);
        assert!(!text.contains("Join-Passw0rd!"), "{}", text);
    }

    #[tokio::test]
    async fn a_refusal_names_samba_and_never_shows_the_password() {
        let dir = crate::store::testing::TestDir::new();
        let net = fake_net(dir.path(), 2);
        match provision(&net, &request()).await {
            Err(Error::Upstream {
                system, message, ..
            }) => {
                assert_eq!(system, Upstream::SAMBA);
                assert!(message.contains("NT_STATUS_USER_EXISTS"), "{}", message);
                assert!(message.contains("PC-001"), "{}", message);
                assert!(!message.contains("Join-Passw0rd!"), "{}", message);
            }
            other => panic!("expected an upstream error, got {:?}", other),
        }
    }

    #[tokio::test]
    async fn without_the_join_account_nothing_is_run() {
        let dir = crate::store::testing::TestDir::new();
        let net = fake_net(dir.path(), 0);
        let mut p = request();
        p.account = "";
        assert!(matches!(provision(&net, &p).await, Err(Error::Invalid(_))));
    }

    /// With `REHOME_TEST_LDAP` set (the Samba domain controllers of `scripts/samba-dcs` are up),
    /// the real `net` provisions an account in the target domain.
    #[tokio::test]
    async fn samba_provisions_a_real_blob_when_its_domain_controllers_run() {
        let Ok(spec) = std::env::var("REHOME_TEST_ODJ") else {
            return;
        };
        // REHOME_TEST_ODJ=domain|account|password
        let parts: Vec<&str> = spec.split('|').collect();
        if std::env::var("REHOME_TEST_LDAP").is_err() || parts.len() != 3 {
            return;
        }
        let p = Provision {
            domain: parts[0],
            machine: "REHOME-ODJ",
            ou: "",
            reuse_existing: true,
            account: parts[1],
            password: parts[2],
        };
        let blob = provision(Path::new("net"), &p).await.expect("provision");
        assert!(!blob.is_empty());
    }
}
