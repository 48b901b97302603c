//! Bulk enrollment tokens (BPRTs) of Entra target directories: an administrator signs in to the
//! tenant (device code, or the browser with PKCE), the server asks the device registration
//! service for a token valid 1 to 180 days, seals it, and hands the newest valid one to every
//! device whose runbook joins that tenant. A token close to expiry is flagged; making a new one
//! leaves the old one in place, and devices get the new one from their next check-in.
//!
//! [`testing::FakeEntra`] is a local server speaking the same protocol, for tests and demos.

mod oauth;
pub mod provisioning;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use chrono::{DateTime, Duration, Utc};
use model::directory::{Directory, DirectoryKind};
use model::ids::{BulkTokenId, DirectoryId, EnrollmentFlowId};
use model::protocol::BulkToken;
use model::runbook::{DomainJoin, Runbook};
use serde::{Deserialize, Serialize};

pub use oauth::{pkce_challenge, DeviceCode, DevicePoll, EntraClient};

use crate::store::enrollment::{BulkTokenRow, EnrollmentFlow, FlowKind};
use crate::{App, Error, Result};

/// The most days a bulk enrollment token may be valid: Entra ignores anything longer.
pub const MAX_DAYS_VALID: u64 = 180;
/// Fewer whole days than this left and a token is flagged as expiring soon.
pub const EXPIRING_SOON_DAYS: i64 = 14;
/// How long an authorization-code sign-in may take before it must start again.
pub const AUTHORIZE_MINUTES: i64 = 15;

/// The public cloud's sign-in authority.
pub const DEFAULT_AUTHORITY_URL: &str = "https://login.microsoftonline.com";
/// Where the device registration service hands out bulk tokens (`/begin`, then `/poll`).
pub const DEFAULT_BULK_TOKEN_URL: &str = "https://login.microsoftonline.com/webapp/bulkaadjtoken";
/// The public client that provisioning tools sign in with to make bulk tokens.
pub const DEFAULT_CLIENT_ID: &str = "1b730954-1685-4b74-9bfd-dac224a7b894";
/// The device registration service, the resource the access token is for.
pub const DEFAULT_RESOURCE: &str = "urn:ms-drs:enterpriseregistration.windows.net";
/// Where a public client's authorization code lands when no page of ours receives it.
pub const DEFAULT_REDIRECT_URI: &str =
    "https://login.microsoftonline.com/common/oauth2/nativeclient";

/// Where the Entra endpoints are; tests point them at a [`testing::FakeEntra`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraEndpoints {
    /// The sign-in authority, e.g. `https://login.microsoftonline.com`.
    pub authority_url: String,
    /// The bulk token service's base URL (without `/begin`).
    pub bulk_token_url: String,
    /// The client id the administrator signs in to.
    pub client_id: String,
    /// The resource of the access token.
    pub resource: String,
    /// How many times the bulk token service is asked before giving up.
    pub bulk_token_polls: u32,
}

impl Default for EntraEndpoints {
    fn default() -> EntraEndpoints {
        EntraEndpoints {
            authority_url: DEFAULT_AUTHORITY_URL.to_string(),
            bulk_token_url: DEFAULT_BULK_TOKEN_URL.to_string(),
            client_id: DEFAULT_CLIENT_ID.to_string(),
            resource: DEFAULT_RESOURCE.to_string(),
            bulk_token_polls: 30,
        }
    }
}

/// The body of `POST /directories/{id}/bulk-tokens/flows`.
#[derive(Debug, Clone, Deserialize)]
pub struct StartRequest {
    /// The display name of the package account Entra creates for the token.
    pub display_name: String,
    /// Whole days, 1 to 180.
    pub days_valid: serde_json::Value,
    /// `device_code` (the default) or `authorization_code`.
    #[serde(default)]
    pub flow: Option<FlowKind>,
    /// Where the browser returns with the code (authorization code only).
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// What the administrator does next to sign in.
#[derive(Debug, Clone, Serialize)]
pub struct StartedFlow {
    /// The sign-in's id: poll or complete it.
    pub flow: EnrollmentFlowId,
    /// Which flow.
    pub kind: FlowKind,
    /// When it can no longer complete.
    pub expires_at: DateTime<Utc>,
    /// Device code: what to type at `verification_uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_code: Option<String>,
    /// Device code: Microsoft's device login page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_uri: Option<String>,
    /// Device code: Entra's instruction for the administrator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Device code: seconds between polls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Authorization code: open this in the browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
}

/// The answer to a poll.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PollOutcome {
    /// Nobody has signed in yet.
    Pending {
        /// Poll again at or after this.
        poll_after: DateTime<Utc>,
    },
    /// The token was made.
    Created {
        /// It, as listed.
        token: BulkTokenView,
    },
}

/// The body of `POST /directories/{id}/bulk-tokens/flows/{flow}/complete`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CompleteRequest {
    /// The `state` the browser came back with.
    pub state: String,
    /// The `code` the browser came back with.
    #[schema(write_only)]
    pub code: String,
}

/// A bulk enrollment token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkTokenView {
    /// Its id.
    pub id: BulkTokenId,
    /// The display name of its package account in Entra.
    pub display_name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Whole days left (0 once expired).
    pub days_left: i64,
    /// It no longer joins devices.
    pub expired: bool,
    /// Fewer than 14 days left: make a new one.
    pub expiring_soon: bool,
    /// The newest valid token: the one devices get.
    pub latest: bool,
}

/// The listing of a directory's tokens (newest first) at `now`.
pub fn views(rows: &[BulkTokenRow], now: DateTime<Utc>) -> Vec<BulkTokenView> {
    let latest = rows.iter().find(|r| r.expires_at > now).map(|r| r.id);
    rows.iter()
        .map(|r| {
            let expired = r.expires_at <= now;
            let days_left = if expired {
                0
            } else {
                (r.expires_at - now).num_days()
            };
            BulkTokenView {
                id: r.id,
                display_name: r.display_name.clone(),
                created_at: r.created_at,
                expires_at: r.expires_at,
                days_left,
                expired,
                expiring_soon: !expired && days_left < EXPIRING_SOON_DAYS,
                latest: latest == Some(r.id),
            }
        })
        .collect()
}

/// What a sign-in keeps from everybody, sealed in its row.
#[derive(Serialize, Deserialize)]
struct FlowSecret {
    #[serde(default)]
    device_code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    verifier: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
}

fn check_days(value: &serde_json::Value) -> Result<u32> {
    match value.as_u64() {
        Some(days) if (1..=MAX_DAYS_VALID).contains(&days) => Ok(days as u32),
        _ => Err(Error::field(
            "days_valid",
            format!(
                "whole days from 1 to {} (Entra accepts no longer)",
                MAX_DAYS_VALID
            ),
        )),
    }
}

fn check_display_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::field(
            "display_name",
            "1 to 100 characters, to recognise the token's account in Entra",
        ));
    }
    Ok(name.to_string())
}

fn check_redirect(uri: Option<&str>) -> Result<String> {
    let uri = uri.unwrap_or(DEFAULT_REDIRECT_URI).trim();
    match reqwest::Url::parse(uri) {
        Ok(url) if url.scheme() == "https" || url.scheme() == "http" => Ok(uri.to_string()),
        _ => Err(Error::field(
            "redirect_uri",
            "an http(s) URL registered for the sign-in is expected",
        )),
    }
}

/// The Entra directory `id`, or an error naming why it cannot have tokens.
async fn entra_directory(app: &App, id: DirectoryId) -> Result<Directory> {
    let directory = app
        .store
        .directory(id)
        .await?
        .ok_or(Error::NotFound("directory"))?;
    if directory.kind != DirectoryKind::EntraId {
        return Err(Error::field(
            "id",
            "bulk enrollment tokens belong to Entra directories; this one is Active Directory",
        ));
    }
    Ok(directory)
}

/// The tenant to sign in to: its id once imported, else its domain (Entra accepts both).
fn tenant(directory: &Directory) -> &str {
    directory
        .domain_id
        .as_deref()
        .unwrap_or(directory.domain.as_str())
}

fn client(app: &App) -> Result<EntraClient> {
    Ok(EntraClient::new(app.settings.entra.clone())?.with_sleeper(app.sleeper.clone()))
}

/// Starts a sign-in that will end in a token for the Entra directory `id`.
pub async fn start(app: &App, id: DirectoryId, request: StartRequest) -> Result<StartedFlow> {
    let display_name = check_display_name(&request.display_name)?;
    let days_valid = check_days(&request.days_valid)?;
    let kind = request.flow.unwrap_or(FlowKind::DeviceCode);
    let redirect_uri = match kind {
        FlowKind::AuthorizationCode => Some(check_redirect(request.redirect_uri.as_deref())?),
        FlowKind::DeviceCode => None,
    };
    let directory = entra_directory(app, id).await?;
    let now = app.clock.now();
    app.store.delete_expired_enrollment_flows(now).await?;
    let entra = client(app)?;
    let flow_id = EnrollmentFlowId::new();
    let mut flow = EnrollmentFlow {
        id: flow_id,
        directory: id,
        kind,
        display_name,
        days_valid,
        created_at: now,
        expires_at: now + Duration::minutes(AUTHORIZE_MINUTES),
        poll_after: now,
        interval_seconds: 5,
    };
    let mut started = StartedFlow {
        flow: flow_id,
        kind,
        expires_at: flow.expires_at,
        user_code: None,
        verification_uri: None,
        message: None,
        interval: None,
        authorize_url: None,
    };
    let secret = match kind {
        FlowKind::DeviceCode => {
            let code = entra.start_device_code(tenant(&directory)).await?;
            flow.expires_at = now + Duration::seconds(code.expires_in.clamp(60, 3600));
            flow.interval_seconds = code.interval.clamp(1, 60);
            flow.poll_after = now + Duration::seconds(flow.interval_seconds);
            started.expires_at = flow.expires_at;
            started.user_code = Some(code.user_code);
            started.verification_uri = Some(code.verification_uri);
            started.message = code.message;
            started.interval = Some(code.interval);
            FlowSecret {
                device_code: Some(code.device_code),
                state: None,
                verifier: None,
                redirect_uri: None,
            }
        }
        FlowKind::AuthorizationCode => {
            let state = oauth::random_secret(32);
            let verifier = oauth::random_secret(64);
            let redirect_uri = redirect_uri.unwrap_or_default();
            started.authorize_url =
                Some(entra.authorize_url(tenant(&directory), &redirect_uri, &state, &verifier)?);
            FlowSecret {
                device_code: None,
                state: Some(state),
                verifier: Some(verifier),
                redirect_uri: Some(redirect_uri),
            }
        }
    };
    let secret = serde_json::to_string(&secret)
        .map_err(|e| Error::Internal(format!("cannot encode a sign-in: {}", e)))?;
    app.store.insert_enrollment_flow(&flow, &secret).await?;
    Ok(started)
}

/// The sign-in `flow` of directory `id` with its secret; an expired one is forgotten.
async fn open_flow(
    app: &App,
    id: DirectoryId,
    flow: EnrollmentFlowId,
    kind: FlowKind,
) -> Result<(EnrollmentFlow, FlowSecret, Directory)> {
    let directory = entra_directory(app, id).await?;
    let (flow, secret) = app
        .store
        .enrollment_flow(flow)
        .await?
        .filter(|(f, _)| f.directory == id)
        .ok_or(Error::NotFound("sign-in"))?;
    if app.clock.now() >= flow.expires_at {
        app.store.delete_enrollment_flow(flow.id).await?;
        return Err(Error::field(
            "flow",
            "the sign-in expired before it was completed: start a new one",
        ));
    }
    if flow.kind != kind {
        return Err(Error::field(
            "flow",
            match kind {
                FlowKind::DeviceCode => "this sign-in uses the browser: complete it instead",
                FlowKind::AuthorizationCode => "this sign-in uses a device code: poll it instead",
            },
        ));
    }
    let secret: FlowSecret = serde_json::from_str(&secret)
        .map_err(|e| Error::Internal(format!("a stored sign-in is not understood: {}", e)))?;
    Ok((flow, secret, directory))
}

/// Asks Entra whether the device-code sign-in `flow` is done; when it is, makes the token.
pub async fn poll(app: &App, id: DirectoryId, flow_id: EnrollmentFlowId) -> Result<PollOutcome> {
    let (flow, secret, directory) = open_flow(app, id, flow_id, FlowKind::DeviceCode).await?;
    let now = app.clock.now();
    if now < flow.poll_after {
        return Ok(PollOutcome::Pending {
            poll_after: flow.poll_after,
        });
    }
    let device_code = secret.device_code.unwrap_or_default();
    let entra = client(app)?;
    match entra
        .poll_device_code(tenant(&directory), &device_code)
        .await?
    {
        DevicePoll::Pending { slow_down } => {
            // Slow down means five seconds more from now on (RFC 8628).
            let interval = if slow_down {
                flow.interval_seconds + 5
            } else {
                flow.interval_seconds
            }
            .max(1);
            let poll_after = now + Duration::seconds(interval);
            app.store
                .set_enrollment_poll_after(flow.id, poll_after, interval)
                .await?;
            Ok(PollOutcome::Pending { poll_after })
        }
        DevicePoll::Expired => {
            app.store.delete_enrollment_flow(flow.id).await?;
            Err(Error::field(
                "flow",
                "the code expired before anyone signed in with it: start a new sign-in",
            ))
        }
        DevicePoll::Denied => {
            app.store.delete_enrollment_flow(flow.id).await?;
            Err(Error::field(
                "flow",
                "the sign-in was declined: start a new one and approve it",
            ))
        }
        DevicePoll::Token(access_token) => {
            let token = make_token(app, &entra, &flow, &access_token).await?;
            Ok(PollOutcome::Created { token })
        }
    }
}

/// Completes the browser sign-in `flow` with what the browser came back with, and makes the token.
pub async fn complete(
    app: &App,
    id: DirectoryId,
    flow_id: EnrollmentFlowId,
    request: CompleteRequest,
) -> Result<BulkTokenView> {
    let (flow, secret, directory) =
        open_flow(app, id, flow_id, FlowKind::AuthorizationCode).await?;
    if secret.state.as_deref() != Some(request.state.as_str()) {
        return Err(Error::field(
            "state",
            "does not match this sign-in: use the page the sign-in returned to",
        ));
    }
    if request.code.trim().is_empty() {
        return Err(Error::field(
            "code",
            "the code the sign-in returned is needed",
        ));
    }
    let entra = client(app)?;
    let access_token = entra
        .exchange_code(
            tenant(&directory),
            request.code.trim(),
            secret
                .redirect_uri
                .as_deref()
                .unwrap_or(DEFAULT_REDIRECT_URI),
            secret.verifier.as_deref().unwrap_or_default(),
        )
        .await?;
    make_token(app, &entra, &flow, &access_token).await
}

/// Ends the sign-in, asks for the token and stores it sealed.
async fn make_token(
    app: &App,
    entra: &EntraClient,
    flow: &EnrollmentFlow,
    access_token: &str,
) -> Result<BulkTokenView> {
    // Only one caller ends a sign-in, so two polls arriving together make one token.
    if !app.store.delete_enrollment_flow(flow.id).await? {
        return Err(Error::NotFound("sign-in"));
    }
    let created_at = app.clock.now();
    let expires_at = created_at + Duration::days(i64::from(flow.days_valid));
    let token = entra
        .request_bulk_token(access_token, &flow.display_name, expires_at)
        .await?;
    let row = BulkTokenRow {
        id: BulkTokenId::new(),
        directory: flow.directory,
        display_name: flow.display_name.clone(),
        created_at,
        expires_at,
    };
    app.store.insert_bulk_token(&row, &token).await?;
    tracing::info!(directory = %flow.directory, token = %row.id, "bulk enrollment token created");
    let listed = list(app, flow.directory).await?;
    listed
        .into_iter()
        .find(|v| v.id == row.id)
        .ok_or(Error::NotFound("bulk enrollment token"))
}

/// The tokens of the Entra directory `id`, newest first.
pub async fn list(app: &App, id: DirectoryId) -> Result<Vec<BulkTokenView>> {
    entra_directory(app, id).await?;
    let rows = app.store.bulk_tokens(id).await?;
    Ok(views(&rows, app.clock.now()))
}

/// Deletes a token of the Entra directory `id`.
pub async fn delete(app: &App, id: DirectoryId, token: BulkTokenId) -> Result<()> {
    entra_directory(app, id).await?;
    if app.store.delete_bulk_token(id, token).await? {
        Ok(())
    } else {
        Err(Error::NotFound("bulk enrollment token"))
    }
}

/// The token a device gets with an assignment of `runbook` into `target`, with when it expires:
/// the newest valid one, and only when the runbook joins Entra.
pub async fn token_for_assignment(
    app: &App,
    runbook: &Runbook,
    target: DirectoryId,
) -> Result<Option<(BulkToken, DateTime<Utc>)>> {
    if runbook.device_state.domain_join != DomainJoin::Entra {
        return Ok(None);
    }
    Ok(app
        .store
        .latest_bulk_token(target, app.clock.now())
        .await?
        .map(|(row, token)| (BulkToken(token), row.expires_at)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(name: &str, created: DateTime<Utc>, days: i64) -> BulkTokenRow {
        BulkTokenRow {
            id: BulkTokenId::new(),
            directory: DirectoryId::new(),
            display_name: name.to_string(),
            created_at: created,
            expires_at: created + Duration::days(days),
        }
    }

    #[test]
    fn the_newest_valid_token_is_latest_and_one_near_expiry_is_flagged() {
        let t0 = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        let now = t0 + Duration::days(100);
        // Newest first, as the store lists them.
        let rows = vec![
            row("expired-newest", t0 + Duration::days(95), 1),
            row("second", t0 + Duration::days(90), 100),
            row("first", t0, 110),
        ];
        let v = views(&rows, now);
        assert!(v[0].expired && !v[0].latest && !v[0].expiring_soon);
        assert_eq!(v[0].days_left, 0);
        assert!(v[1].latest && !v[1].expiring_soon);
        assert_eq!(v[1].days_left, 90);
        assert!(!v[2].latest && v[2].expiring_soon);
        assert_eq!(v[2].days_left, 10);
    }

    #[test]
    fn validity_is_one_to_180_whole_days() {
        for ok in [1, 90, 180] {
            assert_eq!(check_days(&serde_json::json!(ok)).ok(), Some(ok));
        }
        for bad in [
            serde_json::json!(0),
            serde_json::json!(181),
            serde_json::json!(-1),
            serde_json::json!(1.5),
            serde_json::json!("30"),
        ] {
            let err = check_days(&bad).expect_err("refused");
            assert!(format!("{:?}", err).contains("days_valid"), "{bad}");
        }
    }
}
