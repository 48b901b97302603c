//! The HTTP side of Graph: the client-credentials token, cached and refreshed, and GETs that wait
//! out throttling and say which request failed and why — never with the secret in the message.

use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;

use super::GraphSource;
use crate::{Error, Result, Upstream};

/// An access token and when to stop using it.
pub(super) struct Token {
    value: String,
    refresh_at: DateTime<Utc>,
}

/// The longest a single Retry-After is honoured: a bogus hour-long value should not stall an
/// import silently; after the retries run out the error says what happened.
const MAX_WAIT: Duration = Duration::from_secs(300);

impl GraphSource {
    /// The token endpoint: `{authority}/{tenant}/oauth2/v2.0/token`.
    fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.config.authority_url.trim_end_matches('/'),
            self.config.tenant_id
        )
    }

    /// A valid access token: the cached one, or a new one when it is (nearly) expired.
    async fn token(&self) -> Result<String> {
        // Held across the request so that concurrent callers wait for one new token.
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            if self.clock.now() < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        let token = self.request_token().await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Drops `used` from the cache after Graph refused it, unless another request replaced it.
    async fn forget_token(&self, used: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == used) {
            *cached = None;
        }
    }

    async fn request_token(&self) -> Result<Token> {
        let c = &self.config;
        let url = self.token_url();
        let what = format!("the token request to {}", url);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("scope", c.scope.as_str()),
        ];
        let (status, body) = self
            .send_with_retries(&what, "authority_url", || self.http.post(&url).form(&form))
            .await?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            let code = json.get("error").and_then(Value::as_str).unwrap_or("");
            let description = json
                .get("error_description")
                .and_then(Value::as_str)
                .and_then(|d| d.lines().next())
                .unwrap_or("");
            let (field, advice) = match code {
                "invalid_client" => (
                    "client_secret",
                    "check the client secret (its value, not its id) and that it has not expired",
                ),
                "unauthorized_client" => (
                    "client_id",
                    "check the application (client) id and that it is registered in this tenant",
                ),
                "invalid_request"
                    if description.contains("AADSTS900023")
                        || description.contains("AADSTS90002") =>
                {
                    ("tenant_id", "check the tenant id")
                }
                _ => ("authority_url", "check the tenant id, client id and secret"),
            };
            return Err(self.failure(
                field,
                format!(
                    "{} was refused ({} {}: {}); {}",
                    what,
                    status.as_u16(),
                    code,
                    description,
                    advice
                ),
            ));
        }
        let value = json
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                self.failure(
                    "authority_url",
                    format!("{} answered without an access_token", what),
                )
            })?;
        // Azure AD sends a number; some proxies re-encode it as a string.
        let expires_in = match json.get("expires_in") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3599)
        .max(0);
        // Renew a little early, so a token never expires between the check and Graph's answer.
        let margin = (expires_in / 10).min(300);
        Ok(Token {
            value: value.to_string(),
            refresh_at: self.clock.now() + chrono::Duration::seconds(expires_in - margin),
        })
    }

    /// GETs `url` (a Graph URL, or a link Graph gave, followed exactly) as JSON, with the token,
    /// refreshing it once if Graph says it is no longer valid.
    pub(super) async fn get_json(&self, url: &str, page_size: Option<u32>) -> Result<Value> {
        self.check_origin(url)?;
        let what = format!("GET {}", without_query(url));
        let mut refreshed = false;
        loop {
            let token = self.token().await?;
            let (status, body) = self
                .send_with_retries(&what, "graph_url", || {
                    let request = self.http.get(url).bearer_auth(&token);
                    match page_size {
                        // Delta queries take their page size from this header, not from $top.
                        Some(n) => request.header("Prefer", format!("odata.maxpagesize={}", n)),
                        None => request,
                    }
                })
                .await?;
            if status.is_success() {
                return serde_json::from_slice(&body).map_err(|e| {
                    self.failure(
                        "graph_url",
                        format!("{} answered with something that is not JSON: {}", what, e),
                    )
                });
            }
            let (code, message) = graph_error(&body);
            if status == StatusCode::UNAUTHORIZED
                && code == "InvalidAuthenticationToken"
                && !refreshed
            {
                tracing::info!(request = %what, "Graph refused the access token; requesting a new one");
                refreshed = true;
                self.forget_token(&token).await;
                continue;
            }
            let (field, advice) = match status {
                StatusCode::FORBIDDEN => ("client_id", "; grant the application the Microsoft Graph application permissions User.Read.All, Group.Read.All, Device.Read.All and Directory.Read.All, with admin consent"),
                StatusCode::GONE => ("cursor", "; the delta link has expired, run a full import"),
                _ => ("graph_url", ""),
            };
            return Err(self.failure(
                field,
                format!(
                    "{} failed ({} {}: {}){}",
                    what,
                    status.as_u16(),
                    code,
                    message,
                    advice
                ),
            ));
        }
    }

    /// Sends `method` to `url` (a Graph URL) with a JSON `body`, with the token (refreshed once
    /// when Graph says it is no longer valid), waiting out throttling like every read. Returns
    /// Graph's status and its JSON answer (`Null` when it sent none): what a refusal means is the
    /// caller's to decide. Only a failure to reach Graph at all is an `Err`.
    pub(crate) async fn send_json(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value)> {
        self.check_origin(url)?;
        let what = format!("{} {}", method, without_query(url));
        let mut refreshed = false;
        loop {
            let token = self.token().await?;
            let (status, answer) = self
                .send_with_retries(&what, "graph_url", || {
                    let request = self.http.request(method.clone(), url).bearer_auth(&token);
                    match body {
                        Some(b) => request.json(b),
                        None => request,
                    }
                })
                .await?;
            if status == StatusCode::UNAUTHORIZED
                && graph_error(&answer).0 == "InvalidAuthenticationToken"
                && !refreshed
            {
                refreshed = true;
                self.forget_token(&token).await;
                continue;
            }
            let json = if answer.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&answer).unwrap_or(Value::Null)
            };
            return Ok((status, json));
        }
    }

    /// Requests sent to Graph and its token endpoint so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends the request `build` makes, again after the wait Graph asks for when it answers 429
    /// or 503 (or 504), at most `max_retries` times; any other answer is returned as it is.
    async fn send_with_retries(
        &self,
        what: &str,
        field: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Bytes)> {
        let mut retries = 0;
        loop {
            self.requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let response = build()
                .send()
                .await
                .map_err(|e| self.failure(field, format!("{} failed: {}", what, describe(&e))))?;
            let status = response.status();
            let wait = retry_after(response.headers());
            let body = response.bytes().await.map_err(|e| {
                self.failure(
                    field,
                    format!("{} failed while reading the answer: {}", what, describe(&e)),
                )
            })?;
            let throttled = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            );
            if !throttled {
                return Ok((status, body));
            }
            if retries >= self.config.max_retries {
                let (code, message) = graph_error(&body);
                return Err(self.failure(
                    field,
                    format!(
                        "{} was still refused after {} retries ({} {}: {}); Graph is throttling this application, try again later",
                        what,
                        retries,
                        status.as_u16(),
                        code,
                        message
                    ),
                ));
            }
            retries += 1;
            // Without Retry-After, back off exponentially as Microsoft's guidance says.
            let wait = wait
                .unwrap_or_else(|| Duration::from_secs(1 << retries.min(6)))
                .min(MAX_WAIT);
            tracing::info!(request = %what, status = status.as_u16(), wait_s = wait.as_secs(),
                retry = retries, "Graph asked to wait; retrying");
            self.sleeper.sleep(wait).await;
        }
    }

    /// Refuses links to any other origin than the Graph URL's: the bearer token goes nowhere else.
    fn check_origin(&self, url: &str) -> Result<()> {
        let origin = |u: &str| reqwest::Url::parse(u).ok().map(|u| u.origin());
        match (origin(url), origin(&self.config.graph_url)) {
            (Some(a), Some(b)) if a == b => Ok(()),
            _ => Err(self.failure(
                "graph_url",
                format!(
                    "Graph linked to {} outside {}; refusing to send the token there",
                    without_query(url),
                    self.config.graph_url
                ),
            )),
        }
    }

    /// An error about `field`, with the secret blanked out in case an answer ever echoed it.
    pub(crate) fn failure(&self, field: &str, message: String) -> Error {
        let secret = &self.config.client_secret;
        let message = if secret.is_empty() {
            message
        } else {
            message.replace(secret.as_str(), "<hidden>")
        };
        Error::upstream(Upstream::GRAPH, field, message)
    }
}

/// Graph's error of a JSON answer as `code: message`, for messages about a refused write.
pub(crate) fn error_text(answer: &Value) -> String {
    let error = answer.get("error");
    let field = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    format!("{}: {}", field("code"), field("message"))
}

/// Graph's `{"error": {"code": …, "message": …}}`, or the status text when the body is not that.
fn graph_error(body: &[u8]) -> (String, String) {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = json.get("error");
    let field = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let message = field("message");
    let message = if message.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
    } else {
        message
    };
    (field("code"), message)
}

/// Retry-After in seconds (the form Graph sends); an HTTP date is not worth parsing here.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A transport error with its causes (reqwest's own text is only "error sending request").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `https://graph.microsoft.com/v1.0/users?$select=…` → `https://graph.microsoft.com/v1.0/users`.
pub(super) fn without_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}
