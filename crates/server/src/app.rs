use std::sync::Arc;

use axum::Router;
use model::clock::Clock;

use crate::store::Store;

/// Settings fixed at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether the console is served over TLS (session cookies are then `Secure`).
    pub tls: bool,
    /// Identifies this replica in lease rows.
    pub replica: String,
    /// Public keys of the licence issuers this server trusts; empty runs it unlicensed.
    pub licence_issuers: Vec<model::envelope::Key32>,
    /// Where Entra's sign-in and bulk token services are.
    pub entra: crate::enrollment::EntraEndpoints,
    /// The folder Sync admins may name directory documents in (`file` connections); without
    /// it only TenantAdmins may.
    pub directory_documents: Option<std::path::PathBuf>,
    /// Days the audit trail keeps an entry.
    pub audit_retention_days: u32,
    /// Samba's `net` program, with which the server provisions offline domain join blobs; without
    /// it a runbook that joins offline is told so in its devices' pre-flight errors.
    pub samba_net: Option<std::path::PathBuf>,
    /// The folder of agent builds (the MSI, the executables) the console's Download Agent page
    /// offers; without it the page offers none.
    pub agent_downloads: Option<std::path::PathBuf>,
    /// The SHA-256 of the bearer token a Prometheus scraper reads `/metrics` with (the token
    /// itself is not kept); without one only a Tenant Admin's session or API token may.
    pub metrics_token_sha256: Option<[u8; 32]>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            tls: false,
            replica: format!("replica-{}", uuid::Uuid::new_v4()),
            licence_issuers: Vec::new(),
            entra: Default::default(),
            directory_documents: None,
            audit_retention_days: 365,
            samba_net: None,
            agent_downloads: None,
            metrics_token_sha256: None,
        }
    }
}

/// Everything a handler needs: the store, the clock and the settings. Cheap to clone: one
/// shared reference, which every request clones several times on its way to its handler.
/// Changing a part of one clone (as tests do) leaves the others as they were.
#[derive(Clone)]
pub struct App(Arc<AppParts>);

/// What an [`App`] shares among its clones.
#[derive(Clone)]
pub struct AppParts {
    /// The database.
    pub store: Store,
    /// The clock; tests inject a manual one.
    pub clock: Arc<dyn Clock>,
    /// How retries wait; tests inject one that records the waits.
    pub sleeper: Arc<dyn crate::sleeper::Sleeper>,
    /// Start-up settings.
    pub settings: Arc<Settings>,
    /// In-memory copies of imported directories, for matching and import diffing.
    pub caches: Arc<crate::directory::cache::ObjectCaches>,
    /// What each source and target pair's last match run stored.
    pub pairs: Arc<crate::directory::matching::PairCache>,
    /// Password hashing, throttles per client address, agent uploads.
    pub limits: Arc<crate::limits::Limits>,
    /// Certificates and configuration the agent API reads on every request.
    pub agent_cache: Arc<crate::agent_api::cache::AgentApiCache>,
    /// What `/metrics` counts.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl std::ops::Deref for App {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

impl std::ops::DerefMut for App {
    /// This clone's own parts, copied first when other clones share them.
    fn deref_mut(&mut self) -> &mut AppParts {
        Arc::make_mut(&mut self.0)
    }
}

impl App {
    /// An app over `store` with `clock`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: Settings) -> App {
        App(Arc::new(AppParts {
            store,
            clock,
            sleeper: Arc::new(crate::sleeper::TokioSleeper),
            settings: Arc::new(settings),
            caches: Arc::default(),
            pairs: Arc::default(),
            limits: Arc::default(),
            agent_cache: Arc::default(),
            metrics: Arc::default(),
        }))
    }
}

/// The whole HTTP surface: console, admin API and agent API.
pub fn router(app: App) -> Router {
    let tls = app.settings.tls;
    let routes = Router::new()
        .merge(crate::console::router())
        .merge(crate::auth::router())
        .nest("/api/v1", crate::api::router())
        .nest("/agent", crate::agent_api::router())
        .route("/metrics", axum::routing::get(crate::metrics::route))
        .with_state(app.clone());
    crate::audit::layer(app, routes).layer(axum::middleware::from_fn(move |request, next| {
        crate::console::headers::add(tls, request, next)
    }))
}
