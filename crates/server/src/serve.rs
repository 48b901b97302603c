//! Running the server: open the store, create the first administrator, start the background jobs,
//! and serve the router over plain HTTP or TLS (rustls on ring) until told to stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use model::clock::Clock;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::listener::{CappedAcceptor, ConnectionLimits};
use crate::store::Store;
use crate::{App, Error, Result, Settings};

/// How long in-flight requests may take to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(10);

/// PEM files of the server's TLS certificate chain and private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert_pem: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: PathBuf,
}

/// What `rehome serve` needs to start.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port (see [`RunningServer::local_addr`]).
    pub listen: SocketAddr,
    /// Where the SQLite database lives when `database` is not given, and the secret key file
    /// (`secret.key`) when `REHOME_SECRET_KEY` is not set.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; SQLite under `data_dir` when `None`.
    pub database: Option<String>,
    /// Serve HTTPS with these files; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Public keys of the licence issuers to trust; none runs the server unlicensed.
    pub licence_issuers: Vec<model::envelope::Key32>,
    /// Caps on connections and deadlines for requests.
    pub connections: ConnectionLimits,
    /// The folder Sync admins may name directory documents in (see [`Settings`]).
    pub directory_documents: Option<PathBuf>,
    /// Days the audit trail keeps an entry.
    pub audit_retention_days: u32,
    /// Samba's `net` program, for offline domain join blobs (see [`Settings`]).
    pub samba_net: Option<PathBuf>,
    /// The folder of agent builds the console offers (see [`Settings`]).
    pub agent_downloads: Option<PathBuf>,
    /// The SHA-256 of the bearer token that reads `/metrics` besides a Tenant Admin (see
    /// [`crate::metrics::token_digest`]).
    pub metrics_token_sha256: Option<[u8; 32]>,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 5000)),
            data_dir: PathBuf::from("./rehome-data"),
            database: None,
            tls: None,
            licence_issuers: Vec::new(),
            connections: ConnectionLimits::default(),
            directory_documents: None,
            audit_retention_days: 365,
            samba_net: None,
            agent_downloads: None,
            metrics_token_sha256: None,
        }
    }
}

/// A server that is accepting connections.
pub struct RunningServer {
    /// The first administrator's password, present only on the start that created it: show it
    /// once, it is not stored anywhere in clear.
    pub initial_admin_password: Option<String>,
    local_addr: SocketAddr,
    app: App,
    handle: Handle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    jobs: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The app state, e.g. to create demo users and tokens.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Stops at once, as a crash would: connections dropped mid-request, jobs stopped without
    /// giving their lease up (another replica takes it when it expires).
    pub fn kill(self) {
        self.handle.shutdown();
        self.server.abort();
        self.jobs.abort();
    }

    /// Stops accepting, lets in-flight requests finish (up to 10 s), and stops the jobs.
    pub async fn shutdown(self) -> Result<()> {
        self.handle.graceful_shutdown(Some(DRAIN));
        let served = self.server.await;
        self.jobs.abort();
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Internal(format!(
                "server stopped with an error: {e}"
            ))),
            Err(e) => Err(Error::Internal(format!("server task failed: {e}"))),
        }
    }
}

/// Loads the certificate chain and key, and builds a rustls configuration on the ring provider.
fn tls_config(files: &TlsFiles) -> Result<rustls::ServerConfig> {
    let certs = CertificateDer::pem_file_iter(&files.cert_pem)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::field("tls.cert_pem", format!("{}: {e}", files.cert_pem.display())))?;
    if certs.is_empty() {
        return Err(Error::field(
            "tls.cert_pem",
            format!("{} holds no CERTIFICATE block", files.cert_pem.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_pem)
        .map_err(|e| Error::field("tls.key_pem", format!("{}: {e}", files.key_pem.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            Error::field(
                "tls",
                format!("certificate and key do not fit together: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Opens the store, bootstraps the first administrator, starts the jobs and begins serving.
pub async fn start(config: ServeConfig, clock: Arc<dyn Clock>) -> Result<RunningServer> {
    // Read the TLS files first: a typo in a path should fail before anything else happens.
    let tls = config.tls.as_ref().map(tls_config).transpose()?;
    let store = Store::open(config.database.as_deref(), &config.data_dir).await?;
    let settings = Settings {
        tls: tls.is_some(),
        licence_issuers: config.licence_issuers.clone(),
        directory_documents: config.directory_documents.clone(),
        audit_retention_days: config.audit_retention_days,
        samba_net: config.samba_net.clone(),
        agent_downloads: config.agent_downloads.clone(),
        metrics_token_sha256: config.metrics_token_sha256,
        ..Settings::default()
    };
    if settings.licence_issuers.is_empty() {
        tracing::info!(
            "no licence issuer is trusted: running unlicensed, licences are not enforced"
        );
    } else {
        tracing::info!(
            issuers = settings.licence_issuers.len(),
            "licences are enforced: devices need an applied migration licence to start"
        );
    }
    let app = App::new(store, clock, settings);

    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", config.listen)))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Internal(format!("listener: {e}")))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(format!("listener address: {e}")))?;

    // After the bind, which is what usually fails: a password created and then lost to a start
    // that failed would leave nobody able to log in.
    let initial_admin_password = crate::auth::bootstrap_admin(&app).await?;
    let limits = config.connections.clone();
    let deadline = limits.request_timeout;
    let service = crate::router(app.clone())
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::listener::request_deadline(deadline, request, next)
        }))
        .into_make_service_with_connect_info::<SocketAddr>();
    let handle = Handle::new();
    let capped = CappedAcceptor::new(DefaultAcceptor, limits.clone());
    let server = match tls {
        Some(tls) => {
            let acceptor =
                RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(tls))).acceptor(capped);
            let mut server = axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle.clone());
            crate::listener::configure(&mut server, &limits);
            tokio::spawn(server.serve(service))
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(capped)
                .handle(handle.clone());
            crate::listener::configure(&mut server, &limits);
            tokio::spawn(server.serve(service))
        }
    };
    let jobs = crate::jobs::spawn(app.clone());
    tracing::info!(address = %local_addr, tls = app.settings.tls, "serving");
    Ok(RunningServer {
        initial_admin_password,
        local_addr,
        app,
        handle,
        server,
        jobs,
    })
}
