//! Console sessions (cookie + CSRF token, idle expiry) and API tokens (bearer, fixed expiry), and
//! the extractors that turn a request into a [`Caller`].
//!
//! Tokens are 32 random bytes, handed out once and stored only as their SHA-256, so the database
//! alone logs nobody in.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::Method;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use model::ids::UserId;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::Caller;
pub use crate::store::users::SessionKind;
use crate::store::users::SessionRow;
use crate::{App, Error, Result};

/// Name of the console's session cookie.
pub const SESSION_COOKIE: &str = "rehome_session";
/// Header carrying the CSRF token on cookie-authenticated unsafe requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A console session ends after this long without a request.
pub fn console_idle() -> Duration {
    Duration::hours(8)
}
/// An API token ends this long after login.
pub fn api_token_lifetime() -> Duration {
    Duration::days(30)
}
/// Last-use times are written at most this often, so every request is not a write.
fn touch_every() -> Duration {
    Duration::minutes(1)
}

/// A session just issued: the only time the token exists outside the client.
#[derive(Clone)]
pub struct NewSession {
    /// The bearer token or cookie value.
    pub token: String,
    /// The CSRF token (console sessions; empty for API tokens).
    pub csrf_token: String,
    /// When it expires unless used (console) or at all (API).
    pub expires_at: DateTime<Utc>,
}

// Debug output may reach a log: it shows who and when, never a token, hash or CSRF value.
impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Identified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identified")
            .field("caller", &self.caller)
            .field("must_change_password", &self.must_change_password)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token.
pub(crate) fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issues a session of `kind` for `user`.
pub async fn start_session(app: &App, user: UserId, kind: SessionKind) -> Result<NewSession> {
    let now = app.clock.now();
    let token = random_token();
    let (csrf_token, expires_at) = match kind {
        SessionKind::Console => (random_token(), now + console_idle()),
        SessionKind::Api => (String::new(), now + api_token_lifetime()),
    };
    app.store
        .insert_session(&SessionRow {
            token_hash: token_hash(&token),
            user_id: user,
            kind,
            csrf_token: csrf_token.clone(),
            created_at: now,
            last_used_at: now,
            expires_at,
        })
        .await?;
    Ok(NewSession {
        token,
        csrf_token,
        expires_at,
    })
}

/// Deletes sessions and tokens that have expired; for the background jobs. Expired ones are
/// refused anyway, so this only keeps the table small.
pub async fn sweep_expired(app: &App) -> Result<u64> {
    app.store.delete_expired_sessions(app.clock.now()).await
}

/// The `Set-Cookie` value that stores `token` in the browser.
pub fn session_cookie(app: &App, token: &str) -> String {
    let secure = if app.settings.tls { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(app: &App) -> String {
    let secure = if app.settings.tls { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// A request whose token or cookie is valid, before the CSRF check; see [`CsrfPending`].
#[derive(Clone)]
struct Identified {
    caller: Caller,
    must_change_password: bool,
    kind: SessionKind,
    token_hash: String,
    csrf_token: String,
}

fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Finds and checks the session of the request; `Ok(None)` when it carries none.
async fn identify(parts: &Parts, app: &App) -> Result<Option<Identified>> {
    let (token, kind) = if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| Error::Unauthenticated)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(Error::Unauthenticated)?;
        (token.trim(), SessionKind::Api)
    } else if let Some(token) = cookie_value(parts, SESSION_COOKIE) {
        (token, SessionKind::Console)
    } else {
        return Ok(None);
    };
    let hash = token_hash(token);
    let Some(session) = app.store.session(&hash).await? else {
        return Ok(None);
    };
    // A console cookie is not a bearer token, nor the other way round.
    if session.kind != kind {
        return Ok(None);
    }
    let now = app.clock.now();
    if now >= session.expires_at {
        app.store.delete_session(&hash).await?;
        return Ok(None);
    }
    let Some(user) = app.store.user(session.user_id).await? else {
        return Ok(None);
    };
    if now - session.last_used_at >= touch_every() {
        let expires_at = match kind {
            SessionKind::Console => now + console_idle(),
            SessionKind::Api => session.expires_at,
        };
        app.store.touch_session(&hash, now, expires_at).await?;
    }
    if let Some(actor) = parts.extensions.get::<crate::audit::Actor>() {
        actor.set(&user.name);
    }
    Ok(Some(Identified {
        caller: Caller {
            user: user.id,
            name: user.name,
            roles: user.roles,
        },
        must_change_password: user.must_change_password,
        kind,
        token_hash: hash,
        csrf_token: session.csrf_token,
    }))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn same_secret(a: &str, b: &str) -> bool {
    // Constant time in the length of the expected value, so the comparison leaks no prefix.
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

const CSRF_REFUSED: Error =
    Error::Forbidden("missing or wrong CSRF token: reload the page and try again");

/// An authenticated request that may still owe its CSRF token: a console form handler extracts
/// this, then calls [`CsrfPending::verify`] with the form's `csrf` field. Needed because a form
/// field lives in the body, which an extractor of request parts cannot read.
#[derive(Debug, Clone)]
pub struct CsrfPending {
    identified: Identified,
    needs_token: bool,
}

impl CsrfPending {
    /// Who is calling, before the token is checked: a handler that reads a large body refuses a
    /// caller whose roles do not allow the form before it reads any of it.
    pub fn caller(&self) -> &Caller {
        &self.identified.caller
    }

    /// Whether the user must change their password before anything else.
    pub fn must_change_password(&self) -> bool {
        self.identified.must_change_password
    }

    /// Checks the form's CSRF token (when one is owed) and yields the session.
    pub fn verify(self, form_token: Option<&str>) -> Result<Authenticated> {
        if self.needs_token
            && !form_token.is_some_and(|t| same_secret(t, &self.identified.csrf_token))
        {
            return Err(CSRF_REFUSED);
        }
        Ok(Authenticated(self.identified))
    }
}

impl FromRequestParts<App> for CsrfPending {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<CsrfPending> {
        let identified = identify(parts, app).await?.ok_or(Error::Unauthenticated)?;
        let needs_token = identified.kind == SessionKind::Console && is_unsafe(&parts.method);
        let header_ok = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| same_secret(t, &identified.csrf_token));
        Ok(CsrfPending {
            identified,
            needs_token: needs_token && !header_ok,
        })
    }
}

/// A valid session whose CSRF token (if owed) was checked, whether or not the user must change
/// their password: for whoami, logout and change-password only. Other routes take [`Caller`].
#[derive(Debug, Clone)]
pub struct Authenticated(Identified);

impl Authenticated {
    /// Who is calling.
    pub fn caller(&self) -> &Caller {
        &self.0.caller
    }

    /// Whether every route but whoami, logout and change-password refuses them for now.
    pub fn must_change_password(&self) -> bool {
        self.0.must_change_password
    }

    /// Whether this is a console (cookie) session rather than an API token.
    pub fn is_console(&self) -> bool {
        self.0.kind == SessionKind::Console
    }

    /// The CSRF token of a console session (empty for API tokens), for pages and whoami.
    pub fn csrf_token(&self) -> &str {
        &self.0.csrf_token
    }

    /// Ends this session.
    pub async fn end(&self, app: &App) -> Result<()> {
        app.store.delete_session(&self.0.token_hash).await
    }

    /// The stored hash of this session's token, to keep it when revoking the others.
    pub(crate) fn token_hash(&self) -> &str {
        &self.0.token_hash
    }
}

impl FromRequestParts<App> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Authenticated> {
        // Header-only here: a form post goes through CsrfPending and supplies the field.
        CsrfPending::from_request_parts(parts, app)
            .await?
            .verify(None)
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller> {
        let session = Authenticated::from_request_parts(parts, app).await?;
        if session.must_change_password() {
            return Err(Error::PasswordChangeRequired);
        }
        Ok(session.0.caller)
    }
}
