//! How a directory is read, stored on it: LDAP for Active Directory, Microsoft Graph for Entra ID,
//! or a JSON document for either. The settings are stored as JSON; the bind password or client
//! secret is split out and sealed, and never leaves the server again except to the directory.

use std::path::PathBuf;
use std::time::Duration;

use model::directory::DirectoryKind;
use model::ids::DirectoryId;
use serde::{Deserialize, Serialize};

use super::file::FileSource;
use super::graph::{GraphConfig, GraphSource};
use super::ldap::{LdapConfig, LdapSource};
use super::DirectorySource;
use crate::auth::{Access, Area, Caller, Role};
use crate::{App, Error, Result};

/// How a directory is read, with its secret.
#[derive(Debug, Clone)]
pub enum Connection {
    /// An Active Directory domain over LDAP.
    Ldap(LdapConfig),
    /// An Entra ID tenant over Microsoft Graph.
    Graph(GraphConfig),
    /// A directory document on the server (see [`FileSource`]).
    File {
        /// Where the document is.
        path: PathBuf,
    },
}

/// A connection without its secret: what is stored as JSON and what the API shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectionSettings {
    /// See [`LdapConfig`].
    Ldap {
        /// `ldap://` or `ldaps://` URL, without spaces around it.
        url: String,
        /// StartTLS on an `ldap://` URL.
        #[serde(default)]
        starttls: bool,
        /// Accept a self-signed certificate.
        #[serde(default)]
        accept_invalid_certs: bool,
        /// The account to bind as.
        bind_dn: String,
        /// Where to search; empty for the whole domain.
        #[serde(default)]
        base_dns: Vec<String>,
        /// An extra LDAP filter.
        #[serde(default)]
        filter: Option<String>,
        /// Objects per page, at least 1 (AD caps it at its MaxPageSize, 1,000 by default).
        #[serde(default = "ldap_page_size")]
        page_size: u32,
        /// Seconds to wait for the domain controller, from 1 to 3600; 60 if left out.
        #[serde(default = "timeout_seconds")]
        timeout_seconds: u64,
    },
    /// See [`GraphConfig`].
    Graph {
        /// Tenant id or domain.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// Where tokens come from: an `https://` URL (`http://` only to this machine), without
        /// spaces around it.
        #[serde(default = "authority_url")]
        authority_url: String,
        /// Graph's base URL with the version, under the same rules as `authority_url`.
        #[serde(default = "graph_url")]
        graph_url: String,
        /// The token scope.
        #[serde(default = "scope")]
        scope: String,
        /// Objects per page, from 1 to 999; 999 if left out.
        #[serde(default = "graph_page_size")]
        page_size: u32,
        /// Seconds one request may take, from 1 to 3600; 60 if left out.
        #[serde(default = "timeout_seconds")]
        timeout_seconds: u64,
        /// Retries of a throttled request, from 0 to 20; 5 if left out.
        #[serde(default = "max_retries")]
        max_retries: u32,
    },
    /// A directory document on the server.
    File {
        /// Its path.
        path: String,
    },
}

/// The longest a directory may be waited for, in seconds: an hour. Zero would fail every read.
pub const MAX_TIMEOUT_SECONDS: u64 = 3600;

/// The error for a timeout outside 1 s ..= [`MAX_TIMEOUT_SECONDS`], named as the API names it.
pub(crate) fn check_timeout(timeout: Duration) -> Option<model::FieldError> {
    let allowed = Duration::from_secs(1)..=Duration::from_secs(MAX_TIMEOUT_SECONDS);
    if allowed.contains(&timeout) {
        None
    } else {
        Some(model::FieldError::new(
            "timeout_seconds",
            format!("from 1 to {} seconds", MAX_TIMEOUT_SECONDS),
        ))
    }
}

fn ldap_page_size() -> u32 {
    1000
}
fn graph_page_size() -> u32 {
    999
}
fn timeout_seconds() -> u64 {
    60
}
fn max_retries() -> u32 {
    5
}
fn authority_url() -> String {
    super::graph::DEFAULT_AUTHORITY_URL.to_string()
}
fn graph_url() -> String {
    super::graph::DEFAULT_GRAPH_URL.to_string()
}
fn scope() -> String {
    super::graph::DEFAULT_SCOPE.to_string()
}

/// A connection as the API shows it: the settings, and whether a secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionInfo {
    /// The settings, without the secret.
    #[serde(flatten)]
    pub settings: ConnectionSettings,
    /// Whether a bind password or client secret is stored (it is never shown).
    pub has_secret: bool,
}

impl Connection {
    /// The settings without the secret, and the secret.
    pub fn split(&self) -> (ConnectionSettings, Option<String>) {
        match self {
            Connection::Ldap(c) => (
                ConnectionSettings::Ldap {
                    url: c.url.clone(),
                    starttls: c.starttls,
                    accept_invalid_certs: c.accept_invalid_certs,
                    bind_dn: c.bind_dn.clone(),
                    base_dns: c.base_dns.clone(),
                    filter: c.filter.clone(),
                    page_size: c.page_size,
                    timeout_seconds: c.timeout.as_secs(),
                },
                Some(c.password.clone()),
            ),
            Connection::Graph(c) => (
                ConnectionSettings::Graph {
                    tenant_id: c.tenant_id.clone(),
                    client_id: c.client_id.clone(),
                    authority_url: c.authority_url.clone(),
                    graph_url: c.graph_url.clone(),
                    scope: c.scope.clone(),
                    page_size: c.page_size,
                    timeout_seconds: c.timeout.as_secs(),
                    max_retries: c.max_retries,
                },
                Some(c.client_secret.clone()),
            ),
            Connection::File { path } => (
                ConnectionSettings::File {
                    path: path.display().to_string(),
                },
                None,
            ),
        }
    }

    /// Puts settings and a secret back together.
    pub fn join(settings: ConnectionSettings, secret: Option<String>) -> Connection {
        let secret = secret.unwrap_or_default();
        match settings {
            ConnectionSettings::Ldap {
                url,
                starttls,
                accept_invalid_certs,
                bind_dn,
                base_dns,
                filter,
                page_size,
                timeout_seconds,
            } => {
                let mut c = LdapConfig::new(url, bind_dn, secret);
                c.starttls = starttls;
                c.accept_invalid_certs = accept_invalid_certs;
                c.base_dns = base_dns;
                c.filter = filter;
                c.page_size = page_size;
                c.timeout = Duration::from_secs(timeout_seconds);
                Connection::Ldap(c)
            }
            ConnectionSettings::Graph {
                tenant_id,
                client_id,
                authority_url,
                graph_url,
                scope,
                page_size,
                timeout_seconds,
                max_retries,
            } => {
                let mut c = GraphConfig::new(tenant_id, client_id, secret);
                c.authority_url = authority_url;
                c.graph_url = graph_url;
                c.scope = scope;
                c.page_size = page_size;
                c.timeout = Duration::from_secs(timeout_seconds);
                c.max_retries = max_retries;
                Connection::Graph(c)
            }
            ConnectionSettings::File { path } => Connection::File {
                path: PathBuf::from(path),
            },
        }
    }

    /// Checks the fields and that this kind of connection can read a directory of `kind`.
    pub fn validate(&self, kind: DirectoryKind) -> Result<()> {
        match (self, kind) {
            (Connection::Ldap(c), DirectoryKind::ActiveDirectory) => c.validate(),
            (Connection::Graph(c), DirectoryKind::EntraId) => c.validate(),
            (Connection::File { path }, _) => {
                if path.as_os_str().is_empty() {
                    return Err(Error::field(
                        "path",
                        "the path of a directory document is needed",
                    ));
                }
                Ok(())
            }
            (Connection::Ldap(_), _) => Err(Error::field(
                "kind",
                "LDAP reads Active Directory; an Entra ID directory is read over Graph",
            )),
            (Connection::Graph(_), _) => Err(Error::field(
                "kind",
                "Graph reads Entra ID; an Active Directory domain is read over LDAP",
            )),
        }
    }

    /// A source reading the directory this way.
    pub fn source(&self) -> Result<Box<dyn DirectorySource>> {
        Ok(match self {
            Connection::Ldap(c) => Box::new(LdapSource::new(c.clone())?),
            Connection::Graph(c) => Box::new(GraphSource::new(c.clone())?),
            Connection::File { path } => Box::new(FileSource::from_path(path)),
        })
    }
}

/// Stores how `directory` is read, after checking it. Nothing is stored when it is refused.
pub async fn set_connection(
    app: &App,
    directory: DirectoryId,
    connection: Connection,
) -> Result<()> {
    let dir = app
        .store
        .directory(directory)
        .await?
        .ok_or(Error::NotFound("directory"))?;
    connection.validate(dir.kind)?;
    let (settings, secret) = connection.split();
    app.store
        .set_directory_connection(
            directory,
            &crate::store::to_json(&settings)?,
            secret.as_deref(),
        )
        .await?;
    tracing::info!(directory = ?dir.name, kind = kind_name(&settings), "directory connection set");
    Ok(())
}

/// Stores how `directory` is read as `caller` asks, and returns it without its secret. The
/// secret is write-only: `secret` left out keeps the stored one when the connection stays of
/// the same kind, but only a TenantAdmin may keep it while changing where it is sent (see
/// [`super::guard::check_kept_secret`]); a file connection is for TenantAdmins, or for Sync admins
/// inside the server's documents folder. Nothing is stored when anything is refused.
pub async fn save_connection(
    app: &App,
    caller: &Caller,
    directory: DirectoryId,
    settings: ConnectionSettings,
    secret: Option<String>,
) -> Result<ConnectionInfo> {
    caller.require(Area::Sync, Access::Edit)?;
    let tenant_admin = caller.roles.contains(&Role::TenantAdmin);
    if let ConnectionSettings::File { path } = &settings {
        let documents = app.settings.directory_documents.as_deref();
        super::guard::check_document_path(path, documents, tenant_admin)?;
    }
    let given = match &settings {
        ConnectionSettings::File { .. } => None,
        _ => secret.filter(|s| !s.is_empty()),
    };
    let secret = match given {
        Some(s) => Some(s),
        None => match stored(app, directory).await? {
            Some(old) => {
                let (old_settings, old_secret) = old.split();
                if std::mem::discriminant(&old_settings) == std::mem::discriminant(&settings) {
                    super::guard::check_kept_secret(&old_settings, &settings, tenant_admin)?;
                    old_secret
                } else {
                    None
                }
            }
            None => None,
        },
    };
    set_connection(app, directory, Connection::join(settings, secret)).await?;
    connection(app, directory)
        .await?
        .ok_or(Error::NotFound("connection"))
}

fn kind_name(settings: &ConnectionSettings) -> &'static str {
    match settings {
        ConnectionSettings::Ldap { .. } => "ldap",
        ConnectionSettings::Graph { .. } => "graph",
        ConnectionSettings::File { .. } => "file",
    }
}

/// How `directory` is read, without the secret; `None` when no connection is set.
pub async fn connection(app: &App, directory: DirectoryId) -> Result<Option<ConnectionInfo>> {
    Ok(match app.store.directory_connection(directory).await? {
        Some((settings, secret)) => Some(ConnectionInfo {
            settings: crate::store::parse_json("directory connection", &settings)?,
            has_secret: secret.is_some_and(|s| !s.is_empty()),
        }),
        None => None,
    })
}

/// The stored connection with its secret; `None` when none is set.
pub async fn stored(app: &App, directory: DirectoryId) -> Result<Option<Connection>> {
    Ok(match app.store.directory_connection(directory).await? {
        Some((settings, secret)) => Some(Connection::join(
            crate::store::parse_json("directory connection", &settings)?,
            secret,
        )),
        None => None,
    })
}

/// A source reading `directory` the way its connection says.
pub async fn source_for(app: &App, directory: DirectoryId) -> Result<Box<dyn DirectorySource>> {
    stored(app, directory)
        .await?
        .ok_or_else(|| {
            Error::field(
                "connection",
                "this directory has no connection; set one (PUT /directories/{id}/connection)",
            )
        })?
        .source()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ldap() -> Connection {
        Connection::Ldap(LdapConfig::new(
            "ldaps://dc1.contoso.test",
            "CN=svc,DC=contoso,DC=test",
            "s3cret-bind",
        ))
    }

    #[test]
    fn the_settings_never_hold_the_secret_and_join_back_whole() {
        let (settings, secret) = ldap().split();
        let json = serde_json::to_string(&settings).expect("json");
        assert!(!json.contains("s3cret-bind"), "{json}");
        assert_eq!(secret.as_deref(), Some("s3cret-bind"));
        let back = Connection::join(settings.clone(), secret);
        assert_eq!(back.split().0, settings);
        let graph = Connection::Graph(GraphConfig::new("contoso.test", "app-id", "client-s3cret"));
        let (settings, _) = graph.split();
        assert!(!serde_json::to_string(&settings)
            .expect("json")
            .contains("client-s3cret"));
    }

    #[test]
    fn the_kind_of_connection_must_fit_the_directory() {
        assert!(ldap().validate(DirectoryKind::ActiveDirectory).is_ok());
        let wrong = ldap().validate(DirectoryKind::EntraId).unwrap_err();
        assert!(wrong.to_string().contains("kind"), "{wrong}");
        let graph = Connection::Graph(GraphConfig::new("contoso.test", "app-id", "x"));
        assert!(graph.validate(DirectoryKind::ActiveDirectory).is_err());
        let file = Connection::File {
            path: PathBuf::from("/tmp/d.json"),
        };
        assert!(file.validate(DirectoryKind::EntraId).is_ok());
        assert!(file.validate(DirectoryKind::ActiveDirectory).is_ok());
        let empty = Connection::File {
            path: PathBuf::new(),
        };
        assert!(empty.validate(DirectoryKind::EntraId).is_err());
    }
}
