//! [`FakeEntra`]: a local Entra sign-in authority and bulk token service, for tests and demos
//! (neither is reachable from a test machine). On 127.0.0.1 only; it stops when dropped.
//!
//! What it does as Entra does: the device-code endpoint; the token endpoint for device codes
//! (`authorization_pending`, `slow_down`, `expired_token`, `access_denied`) and for
//! authorization codes with PKCE (S256) and a matching redirect URI; the bulk token service's
//! `begin` (bearer access token, `pid`, `name`, `exp`) and `poll` (`resultData` as JSON in a
//! string). The "browser" part of a sign-in is a method: [`FakeEntra::approve_device`],
//! [`FakeEntra::sign_in`].

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{pkce_challenge, EntraEndpoints, DEFAULT_CLIENT_ID, DEFAULT_RESOURCE};

/// What the administrator does with a device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Device {
    Waiting,
    SlowDown,
    Approved,
    Denied,
    Expired,
}

/// A bulk token the fake handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The display name asked for.
    pub name: String,
    /// The expiry asked for, as sent (`MM/dd/yyyy`).
    pub exp: String,
    /// The token.
    pub token: String,
}

#[derive(Default)]
struct Fake {
    tenant: String,
    devices: HashMap<String, Device>,
    last_device: Option<String>,
    // code → (challenge, redirect URI)
    codes: HashMap<String, (String, String)>,
    access_tokens: HashSet<String>,
    flows: HashMap<String, (String, String)>,
    issued: Vec<IssuedToken>,
    /// Polls of the bulk token service still to answer "being made".
    pending_polls: u32,
    counter: u64,
}

impl Fake {
    fn next(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!(
            "{}-{}-{}",
            prefix,
            self.counter,
            uuid::Uuid::new_v4().simple()
        )
    }
}

/// A running fake; dropping it stops the server.
pub struct FakeEntra {
    state: Arc<Mutex<Fake>>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeEntra {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<Fake>>;

fn lock(state: &Shared) -> MutexGuard<'_, Fake> {
    // A test that panicked while holding the lock has failed already; keep serving.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

impl FakeEntra {
    /// Starts a fake for `tenant` (its id or domain) on a free port of 127.0.0.1.
    pub async fn start(tenant: &str) -> std::io::Result<FakeEntra> {
        let state: Shared = Arc::new(Mutex::new(Fake {
            tenant: tenant.to_string(),
            ..Fake::default()
        }));
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/devicecode", post(device_code))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/webapp/bulkaadjtoken/begin", post(begin))
            .route("/webapp/bulkaadjtoken/poll", get(poll))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeEntra { state, addr, task })
    }

    /// Endpoints that reach this fake.
    pub fn endpoints(&self) -> EntraEndpoints {
        EntraEndpoints {
            authority_url: format!("http://{}", self.addr),
            bulk_token_url: format!("http://{}/webapp/bulkaadjtoken", self.addr),
            client_id: DEFAULT_CLIENT_ID.to_string(),
            resource: DEFAULT_RESOURCE.to_string(),
            bulk_token_polls: 3,
        }
    }

    fn set_last_device(&self, to: Device) {
        let mut s = lock(&self.state);
        if let Some(code) = s.last_device.clone() {
            s.devices.insert(code, to);
        }
    }

    /// The administrator signs in with the newest device code.
    pub fn approve_device(&self) {
        self.set_last_device(Device::Approved);
    }

    /// The administrator declines the newest device code.
    pub fn deny_device(&self) {
        self.set_last_device(Device::Denied);
    }

    /// The newest device code expires.
    pub fn expire_device(&self) {
        self.set_last_device(Device::Expired);
    }

    /// The bulk token service answers "still being made" to the next `polls` polls.
    pub fn delay_bulk_tokens(&self, polls: u32) {
        lock(&self.state).pending_polls = polls;
    }

    /// The next poll of the newest device code is told to slow down.
    pub fn slow_down_device(&self) {
        self.set_last_device(Device::SlowDown);
    }

    /// The browser part of an authorization-code sign-in: given the authorize URL the server
    /// made, returns the `(state, code)` the browser would come back with.
    pub fn sign_in(&self, authorize_url: &str) -> Option<(String, String)> {
        let url = reqwest::Url::parse(authorize_url).ok()?;
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if param("code_challenge_method")? != "S256" || param("client_id")? != DEFAULT_CLIENT_ID {
            return None;
        }
        let mut s = lock(&self.state);
        let code = s.next("code");
        s.codes.insert(
            code.clone(),
            (param("code_challenge")?, param("redirect_uri")?),
        );
        Some((param("state")?, code))
    }

    /// Every bulk token handed out, oldest first.
    pub fn issued(&self) -> Vec<IssuedToken> {
        lock(&self.state).issued.clone()
    }
}

async fn device_code(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    if tenant != s.tenant {
        return oauth_error("invalid_tenant", "AADSTS90002: Tenant not found.");
    }
    if form.get("client_id").map(String::as_str) != Some(DEFAULT_CLIENT_ID) {
        return oauth_error(
            "unauthorized_client",
            "AADSTS700016: Application not found.",
        );
    }
    let code = s.next("device");
    s.devices.insert(code.clone(), Device::Waiting);
    s.last_device = Some(code.clone());
    Json(json!({
        "device_code": code,
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": 900,
        "interval": 5,
        "message": "Sign in at https://microsoft.com/devicelogin with the code ABCD-EFGH.",
    }))
    .into_response()
}

async fn token(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    if tenant != s.tenant {
        return oauth_error("invalid_tenant", "AADSTS90002: Tenant not found.");
    }
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let approved = match field("grant_type").as_str() {
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let code = field("device_code");
            match s.devices.get(&code).copied() {
                None => return oauth_error("invalid_grant", "AADSTS70000: Unknown code."),
                Some(Device::Waiting) => {
                    return oauth_error("authorization_pending", "AADSTS70016: Pending.")
                }
                Some(Device::SlowDown) => {
                    s.devices.insert(code, Device::Waiting);
                    return oauth_error("slow_down", "Poll less often.");
                }
                Some(Device::Denied) => {
                    return oauth_error("access_denied", "AADSTS70000: Declined.")
                }
                Some(Device::Expired) => {
                    return oauth_error("expired_token", "AADSTS70020: Expired.")
                }
                Some(Device::Approved) => {
                    // A device code is good for one token.
                    s.devices.remove(&code);
                    true
                }
            }
        }
        "authorization_code" => match s.codes.remove(&field("code")) {
            Some((challenge, redirect)) => {
                if pkce_challenge(&field("code_verifier")) != challenge {
                    return oauth_error("invalid_grant", "AADSTS501481: Code verifier mismatch.");
                }
                if field("redirect_uri") != redirect {
                    return oauth_error("invalid_grant", "AADSTS50148: Redirect URI mismatch.");
                }
                true
            }
            None => false,
        },
        _ => return oauth_error("unsupported_grant_type", "Unsupported grant type."),
    };
    if !approved {
        return oauth_error("invalid_grant", "AADSTS54005: Code already redeemed.");
    }
    let access = s.next("access");
    s.access_tokens.insert(access.clone());
    Json(json!({"token_type": "Bearer", "expires_in": 3600, "access_token": access}))
        .into_response()
}

fn authorized(s: &Fake, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| s.access_tokens.contains(t))
        .unwrap_or(false)
}

fn failed(description: &str) -> Response {
    let data = json!({"error": "invalid_request", "error_description": description});
    Json(json!({"state": "Error", "resultData": data.to_string()})).into_response()
}

async fn begin(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut s = lock(&state);
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let (Some(name), Some(exp), Some(_)) = (
        body["name"].as_str(),
        body["exp"].as_str(),
        body["pid"].as_str(),
    ) else {
        return failed("pid, name and exp are required");
    };
    let (name, exp) = (name.to_string(), exp.to_string());
    let flow = s.next("flow");
    s.flows.insert(flow.clone(), (name, exp));
    Json(json!({"state": "Pending", "flowToken": flow})).into_response()
}

async fn poll(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let flow = query.get("flowToken").cloned().unwrap_or_default();
    if !s.flows.contains_key(&flow) {
        return failed("unknown flow token");
    }
    if s.pending_polls > 0 {
        s.pending_polls -= 1;
        return Json(json!({"state": "Pending", "resultData": "{}"})).into_response();
    }
    let Some((name, exp)) = s.flows.remove(&flow) else {
        return failed("unknown flow token");
    };
    let token = s.next("bprt");
    s.issued.push(IssuedToken {
        name,
        exp,
        token: token.clone(),
    });
    let data = json!({"refresh_token": token, "id_token": "not-checked", "token_type": "Bearer"});
    Json(json!({"state": "CompleteSuccess", "resultData": data.to_string()})).into_response()
}
