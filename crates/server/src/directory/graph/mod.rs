//! Entra ID over Microsoft Graph: [`GraphSource`] reads users, groups and devices with an
//! application's client-credentials token, page by page, and reads what changed since a cursor
//! of delta links ([`GraphSource::changes_since`]). Throttling (429/503 with Retry-After) is
//! waited out through an injected [`Sleeper`]; token expiry through the injected clock.
//!
//! [`testing::FakeGraph`] is a local server speaking the same protocol, for tests and demos.

mod client;
pub(crate) use client::error_text;
mod delta;
mod object;
mod pages;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use model::clock::{Clock, SystemClock};
use model::directory::{is_dns_name, DirectoryObject};
use model::FieldError;
use serde_json::Value;

pub use crate::sleeper::{Sleeper, TokioSleeper};
pub use delta::{GraphChanges, GraphCursor};
pub use object::{entra_sid, GraphKind};

use super::{BoxFuture, Changes, DirectorySource, Snapshot};
use crate::{Error, Result, Upstream};

/// The public cloud's token authority.
pub const DEFAULT_AUTHORITY_URL: &str = "https://login.microsoftonline.com";
/// Graph v1.0 in the public cloud.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
/// The application permissions granted on Graph in the public cloud.
pub const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The most retries of one throttled request: Graph's waits grow with each, so more would hold an
/// import for hours.
pub const MAX_RETRIES: u32 = 20;

/// How to reach and read one Entra ID tenant.
#[derive(Clone)]
pub struct GraphConfig {
    /// The tenant id (a GUID) or one of its domains.
    pub tenant_id: String,
    /// The application (client) id of the app registration.
    pub client_id: String,
    /// Its client secret. Never logged, never part of an error or of Debug output.
    pub client_secret: String,
    /// Where tokens come from, e.g. `https://login.microsoftonline.com` (other clouds differ).
    pub authority_url: String,
    /// Graph's base URL including the version, e.g. `https://graph.microsoft.com/v1.0`.
    pub graph_url: String,
    /// The token scope: Graph's resource with `/.default` (national clouds have their own).
    pub scope: String,
    /// Objects per page (`$top`; Graph allows 1 to 999).
    pub page_size: u32,
    /// How long one HTTP request may take.
    pub timeout: Duration,
    /// How many times a throttled (429, 503, 504) request is retried before giving up.
    pub max_retries: u32,
}

impl std::fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphConfig")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<hidden>")
            .field("authority_url", &self.authority_url)
            .field("graph_url", &self.graph_url)
            .field("scope", &self.scope)
            .field("page_size", &self.page_size)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl GraphConfig {
    /// A configuration for the public cloud: pages of 999, 60 s per request, 5 retries.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> GraphConfig {
        GraphConfig {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            authority_url: DEFAULT_AUTHORITY_URL.to_string(),
            graph_url: DEFAULT_GRAPH_URL.to_string(),
            scope: DEFAULT_SCOPE.to_string(),
            page_size: 999,
            timeout: Duration::from_secs(60),
            max_retries: 5,
        }
    }

    /// Checks the fields a user typed.
    pub fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        let tenant = self.tenant_id.trim();
        if uuid::Uuid::parse_str(tenant).is_err() && !is_dns_name(tenant) {
            errors.push(FieldError::new(
                "tenant_id",
                "the directory (tenant) id from the app registration's overview is expected, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47",
            ));
        }
        if uuid::Uuid::parse_str(self.client_id.trim()).is_err() {
            errors.push(FieldError::new(
                "client_id",
                "the application (client) id from the app registration's overview is expected",
            ));
        }
        if self.client_secret.is_empty() {
            errors.push(FieldError::new(
                "client_secret",
                "a client secret of the app registration is needed",
            ));
        }
        for (field, url) in [
            ("authority_url", &self.authority_url),
            ("graph_url", &self.graph_url),
        ] {
            if let Err(message) = check_url(url) {
                errors.push(FieldError::new(field, message));
            }
        }
        if !(1..=999).contains(&self.page_size) {
            errors.push(FieldError::new("page_size", "from 1 to 999"));
        }
        if let Some(error) = super::connection::check_timeout(self.timeout) {
            errors.push(error);
        }
        if self.max_retries > MAX_RETRIES {
            errors.push(FieldError::new(
                "max_retries",
                format!("from 0 to {}", MAX_RETRIES),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(errors))
        }
    }
}

/// HTTPS, or plain HTTP to this machine only: the secret and tokens must not cross a network in
/// the clear.
fn check_url(url: &str) -> std::result::Result<(), String> {
    if url.trim() != url {
        return Err("remove the spaces before or after the URL".to_string());
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| format!("{:?} is not a URL, e.g. {}", url, DEFAULT_GRAPH_URL))?;
    let host = parsed.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{:?}: an https:// URL is expected (http:// only to this machine)",
            url
        )),
    }
}

/// Everything one full read found, with the cursor to read changes from afterwards.
#[derive(Debug, Clone)]
pub struct GraphSnapshot {
    /// The tenant's default domain, e.g. `contoso.com`.
    pub domain: String,
    /// The tenant id.
    pub tenant_id: String,
    /// Users, groups and devices.
    pub objects: Vec<DirectoryObject>,
    /// Where the next delta read starts: links taken before the read, so a change made while it
    /// ran comes again (reading an object twice is harmless, missing one is not).
    pub cursor: GraphCursor,
}

impl GraphSnapshot {
    /// The shared form an import stores.
    pub fn into_snapshot(self) -> Snapshot {
        Snapshot {
            cursor: serde_json::to_string(&self.cursor).ok(),
            domain: self.domain,
            domain_id: Some(self.tenant_id),
            objects: self.objects,
        }
    }
}

/// An Entra ID tenant read over Microsoft Graph.
pub struct GraphSource {
    config: GraphConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    token: tokio::sync::Mutex<Option<client::Token>>,
    requests: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for GraphSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphSource")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl GraphSource {
    /// A source for `config`, checked first, on the system clock and tokio's timer.
    pub fn new(config: GraphConfig) -> Result<GraphSource> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(30)))
            // Redirects would carry the bearer token to wherever they point.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rehome/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {}", e)))?;
        Ok(GraphSource {
            config,
            http,
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            token: tokio::sync::Mutex::new(None),
            requests: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The same source reading time from `clock` (token expiry).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> GraphSource {
        self.clock = clock;
        self
    }

    /// The same source waiting through `sleeper` (throttling).
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> GraphSource {
        self.sleeper = sleeper;
        self
    }

    /// Its configuration.
    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    /// `{graph_url}/{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.config.graph_url.trim_end_matches('/'), path)
    }

    /// Reads the tenant: its id and default domain.
    async fn organization(&self) -> Result<(String, String)> {
        let url = self.url("organization?$select=id,verifiedDomains");
        let page = self.get_json(&url, None).await?;
        let org = page
            .get("value")
            .and_then(Value::as_array)
            .and_then(|v| v.first())
            .ok_or_else(|| {
                Error::upstream(
                    Upstream::GRAPH,
                    "graph_url",
                    format!("GET {} returned no organization", url),
                )
            })?;
        let tenant_id = org
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(self.config.tenant_id.as_str())
            .to_string();
        let domains = org
            .get("verifiedDomains")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let name = |d: &Value| d.get("name").and_then(Value::as_str).map(str::to_string);
        let flag = |d: &Value, f: &str| d.get(f).and_then(Value::as_bool).unwrap_or(false);
        let domain = domains
            .iter()
            .find(|d| flag(d, "isDefault"))
            .or_else(|| domains.iter().find(|d| flag(d, "isInitial")))
            .and_then(name)
            .ok_or_else(|| {
                Error::upstream(
                    Upstream::GRAPH,
                    "tenant_id",
                    "the tenant lists no default domain in verifiedDomains",
                )
            })?;
        Ok((tenant_id, domain))
    }

    /// GETs `url` and every `@odata.nextLink` after it, handing each object to `each`; returns
    /// the `@odata.deltaLink` of the last page, if any (delta queries end with one).
    pub(crate) async fn read_pages(
        &self,
        url: String,
        prefer_page_size: Option<u32>,
        mut each: impl FnMut(&Value),
    ) -> Result<Option<String>> {
        let mut next = url;
        // A server that links a page to itself would otherwise keep an import busy forever.
        let mut seen = std::collections::HashSet::new();
        loop {
            let page = self.fetch_page(&next, prefer_page_size, &mut seen).await?;
            for object in page.values() {
                each(object);
            }
            match page.link("@odata.nextLink") {
                Some(link) => next = link,
                None => return Ok(page.link("@odata.deltaLink")),
            }
        }
    }

    /// GETs `url`, one page of a collection, refusing a link back to a page in `seen`.
    async fn fetch_page(
        &self,
        url: &str,
        prefer_page_size: Option<u32>,
        seen: &mut std::collections::HashSet<String>,
    ) -> Result<GraphPage> {
        if !seen.insert(url.to_string()) {
            return Err(Error::upstream(
                Upstream::GRAPH,
                "graph_url",
                format!(
                    "GET {} linked back to a page already read",
                    client::without_query(url)
                ),
            ));
        }
        Ok(GraphPage(self.get_json(url, prefer_page_size).await?))
    }

    /// `{graph}/{kind}?$select=…&$top=…`: the first page of a full read of `kind`.
    fn collection_url(&self, kind: GraphKind) -> String {
        self.url(&format!(
            "{}?$select={}&$top={}",
            kind.path(),
            kind.select(),
            self.config.page_size
        ))
    }

    /// Reads every object of `kind` with `$select` and `$top`.
    async fn read_collection(&self, kind: GraphKind) -> Result<Vec<DirectoryObject>> {
        let url = self.collection_url(kind);
        let mut objects = Vec::new();
        self.read_pages(url, None, |value| {
            if let Some(object) = object::decode(kind, value) {
                objects.push(object);
            }
        })
        .await?;
        Ok(objects)
    }

    /// Reads every user, group and device, with the delta cursor to continue from.
    pub async fn read_full(&self) -> Result<GraphSnapshot> {
        let (tenant_id, domain) = self.organization().await?;
        let cursor = self.latest_cursor().await;
        let mut objects = Vec::new();
        for kind in GraphKind::ALL {
            objects.extend(self.read_collection(kind).await?);
        }
        Ok(GraphSnapshot {
            domain,
            tenant_id,
            objects,
            cursor,
        })
    }
}

/// One page of a Graph collection as read.
struct GraphPage(Value);

impl GraphPage {
    /// The objects of the page.
    fn values(&self) -> impl Iterator<Item = &Value> {
        self.0
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    }

    /// The link called `name` (`@odata.nextLink`, `@odata.deltaLink`), if the page has one.
    fn link(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(Value::as_str).map(str::to_string)
    }
}

impl DirectorySource for GraphSource {
    fn read(&self) -> BoxFuture<'_, Result<Snapshot>> {
        Box::pin(async move { Ok(self.read_full().await?.into_snapshot()) })
    }

    fn read_pages(&self) -> BoxFuture<'_, Result<super::PagedSnapshot<'_>>> {
        Box::pin(async move {
            let (tenant_id, domain) = self.organization().await?;
            // Links taken before the read, as `read_full` takes them.
            let cursor = self.latest_cursor().await;
            Ok(super::PagedSnapshot {
                domain,
                domain_id: Some(tenant_id),
                pages: Box::new(pages::GraphPages::new(self, cursor)),
            })
        })
    }

    fn read_changes<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<Option<Changes>>> {
        Box::pin(async move {
            // A cursor this version cannot read (or another source's) means a full read.
            let Ok(cursor) = serde_json::from_str::<GraphCursor>(cursor) else {
                return Ok(None);
            };
            let changes = self.changes_since(&cursor).await?;
            Ok(Some(Changes {
                objects: changes.objects,
                deleted: changes.deleted,
                cursor: serde_json::to_string(&changes.cursor)
                    .map_err(|e| Error::Internal(format!("cannot encode the cursor: {}", e)))?,
            }))
        })
    }
}
