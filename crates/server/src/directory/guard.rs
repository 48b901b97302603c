//! Who may point a directory connection where. A connection's secret (the LDAP bind password, the
//! Graph client secret) is sent wherever the connection says, and a file connection is read as the
//! server's own user; so a Sync admin who leaves the stored secret in place may not change where
//! it goes, and may name a directory document only inside the folder the server was started
//! with (`--directory-documents`). A Tenant admin may do both.

use std::path::{Component, Path, PathBuf};

use super::connection::ConnectionSettings;
use crate::{Error, Result};

/// The settings that decide where a connection's secret, or the token it buys, is sent: for
/// LDAP the server's URL and how its certificate is checked; for Graph the tenant, the token
/// authority and the Graph URL. `None` for a file connection, which has no secret.
fn destination(settings: &ConnectionSettings) -> Option<Vec<String>> {
    match settings {
        ConnectionSettings::Ldap {
            url,
            starttls,
            accept_invalid_certs,
            ..
        } => Some(vec![
            url.trim().to_lowercase(),
            starttls.to_string(),
            accept_invalid_certs.to_string(),
        ]),
        ConnectionSettings::Graph {
            tenant_id,
            authority_url,
            graph_url,
            scope,
            ..
        } => Some(vec![
            tenant_id.trim().to_lowercase(),
            authority_url.trim().to_lowercase(),
            graph_url.trim().to_lowercase(),
            scope.trim().to_lowercase(),
        ]),
        ConnectionSettings::File { .. } => None,
    }
}

/// Refuses a change that keeps the stored secret (none given) but sends it somewhere else,
/// unless `tenant_admin`. `old` is the stored connection's settings.
pub fn check_kept_secret(
    old: &ConnectionSettings,
    new: &ConnectionSettings,
    tenant_admin: bool,
) -> Result<()> {
    if tenant_admin || destination(old) == destination(new) {
        return Ok(());
    }
    let (field, what) = match new {
        ConnectionSettings::Ldap { .. } => ("password", "the bind password"),
        ConnectionSettings::Graph { .. } => ("client_secret", "the client secret"),
        ConnectionSettings::File { .. } => return Ok(()),
    };
    Err(Error::field(
        field,
        format!(
            "the server, authority or certificate checking changed: give {what} again to send it \
             there (only a TenantAdmin may move a stored secret without it)"
        ),
    ))
}

/// `path` with `.` and `..` resolved without touching the file system; `None` when `..` climbs
/// above the start or the path is relative.
fn normal(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::RootDir | Component::Prefix(_) => out.push(part.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(name) => out.push(name),
        }
    }
    path.is_absolute().then_some(out)
}

/// Refuses a file connection to `path` unless `tenant_admin` or it lies inside `documents`, the
/// folder the server was started with. Decided on the names alone, so that a refusal says
/// nothing about which files exist.
pub fn check_document_path(path: &str, documents: Option<&Path>, tenant_admin: bool) -> Result<()> {
    if tenant_admin {
        return Ok(());
    }
    let Some(documents) = documents else {
        return Err(Error::Forbidden(
            "only a TenantAdmin may read a directory document from the server's disk; start the \
             server with --directory-documents to let Sync admins use that folder",
        ));
    };
    let inside = match (normal(Path::new(path)), normal(documents)) {
        (Some(path), Some(documents)) => path.starts_with(&documents) && path != documents,
        _ => false,
    };
    if inside {
        Ok(())
    } else {
        Err(Error::field(
            "path",
            format!(
                "must be an absolute path inside {}, the folder for directory documents",
                documents.display()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ldap(url: &str, accept_invalid_certs: bool) -> ConnectionSettings {
        ConnectionSettings::Ldap {
            url: url.into(),
            starttls: false,
            accept_invalid_certs,
            bind_dn: "CN=svc".into(),
            base_dns: vec![],
            filter: None,
            page_size: 1000,
            timeout_seconds: 60,
        }
    }

    #[test]
    fn a_kept_secret_stays_where_it_was_sent() {
        let old = ldap("ldaps://dc1.contoso.test", false);
        assert!(check_kept_secret(&old, &ldap("LDAPS://dc1.contoso.test ", false), false).is_ok());
        assert!(check_kept_secret(&old, &ldap("ldap://evil.example", false), false).is_err());
        assert!(check_kept_secret(&old, &ldap("ldaps://dc1.contoso.test", true), false).is_err());
        assert!(check_kept_secret(&old, &ldap("ldap://evil.example", false), true).is_ok());
    }

    #[test]
    fn documents_must_lie_inside_the_folder() {
        let docs = Some(Path::new("/srv/rehome/documents"));
        assert!(check_document_path("/srv/rehome/documents/src.json", docs, false).is_ok());
        for outside in [
            "/etc/shadow",
            "/dev/zero",
            "/srv/rehome/documents/../secret.key",
            "/srv/rehome/documents",
            "documents/src.json",
            "/srv/rehome/documents-other/x.json",
        ] {
            assert!(
                check_document_path(outside, docs, false).is_err(),
                "{outside}"
            );
        }
        assert!(check_document_path("/srv/x.json", None, false).is_err());
        assert!(check_document_path("/srv/x.json", None, true).is_ok());
    }
}
