//! The HTTP side of making a bulk enrollment token: Entra's device-code and authorization-code
//! flows for an administrator's access token to the device registration service, then the
//! bulk-token request that service answers in two steps (begin, then poll). Access tokens and
//! bulk tokens are passed through, never logged, never part of an error.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::EntraEndpoints;
use crate::sleeper::{Sleeper, TokioSleeper};
use crate::{Error, Result, Upstream};

/// What Entra answered to the start of a device-code sign-in.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    /// Kept secret: whoever holds it may collect the token.
    pub device_code: String,
    /// What the administrator types at `verification_uri`.
    pub user_code: String,
    /// Microsoft's device login page.
    pub verification_uri: String,
    /// Seconds until the codes expire.
    pub expires_in: i64,
    /// Seconds to wait between polls.
    #[serde(default = "default_interval")]
    pub interval: i64,
    /// Entra's own instruction for the administrator.
    #[serde(default)]
    pub message: Option<String>,
}

fn default_interval() -> i64 {
    5
}

/// One poll of the token endpoint for a device code.
#[derive(Debug)]
pub enum DevicePoll {
    /// Nobody has signed in yet; ask again after the interval (longer when `slow_down`).
    Pending {
        /// Entra asked to poll less often.
        slow_down: bool,
    },
    /// Signed in: the access token.
    Token(String),
    /// The codes expired before anyone signed in.
    Expired,
    /// The administrator declined.
    Denied,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// A flow error named on `flow`, with Entra's explanation when it gave one.
fn refused(what: &str, error: Option<&str>, description: Option<&str>) -> Error {
    let mut message = format!("Entra refused {}", what);
    if let Some(e) = error {
        message.push_str(&format!(" ({})", e));
    }
    if let Some(d) = description {
        // Entra's descriptions end with trace ids over several lines: the first line is enough.
        message.push_str(&format!(": {}", d.lines().next().unwrap_or_default()));
    }
    Error::upstream(Upstream::ENTRA, "flow", message)
}

fn unreachable(what: &str, e: reqwest::Error) -> Error {
    // reqwest's message holds the URL, which holds no secret here (they travel in bodies).
    Error::upstream(
        Upstream::ENTRA,
        "flow",
        format!("{} failed: {}", what, e.without_url()),
    )
}

/// A client for the Entra endpoints.
#[derive(Clone)]
pub struct EntraClient {
    endpoints: EntraEndpoints,
    http: reqwest::Client,
    sleeper: Arc<dyn Sleeper>,
}

impl EntraClient {
    /// A client for `endpoints`, 60 s per request.
    pub fn new(endpoints: EntraEndpoints) -> Result<EntraClient> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Internal(format!("cannot build an HTTP client: {}", e)))?;
        Ok(EntraClient {
            endpoints,
            http,
            sleeper: Arc::new(TokioSleeper),
        })
    }

    /// The same client waiting between polls through `sleeper`.
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> EntraClient {
        self.sleeper = sleeper;
        self
    }

    fn tenant_url(&self, tenant: &str, path: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{}",
            self.endpoints.authority_url.trim_end_matches('/'),
            tenant,
            path
        )
    }

    fn scope(&self) -> String {
        format!("{}/.default offline_access", self.endpoints.resource)
    }

    /// Starts a device-code sign-in.
    pub async fn start_device_code(&self, tenant: &str) -> Result<DeviceCode> {
        let what = "the device-code request";
        let response = self
            .http
            .post(self.tenant_url(tenant, "devicecode"))
            .form(&[
                ("client_id", self.endpoints.client_id.as_str()),
                ("scope", self.scope().as_str()),
            ])
            .send()
            .await
            .map_err(|e| unreachable(what, e))?;
        let ok = response.status().is_success();
        let body: Value = response.json().await.map_err(|e| unreachable(what, e))?;
        if !ok {
            return Err(refused(
                what,
                body["error"].as_str(),
                body["error_description"].as_str(),
            ));
        }
        serde_json::from_value(body).map_err(|e| {
            Error::upstream(
                Upstream::ENTRA,
                "flow",
                format!("Entra's answer to {} is not understood: {}", what, e),
            )
        })
    }

    /// Asks once whether the device-code sign-in is done.
    pub async fn poll_device_code(&self, tenant: &str, device_code: &str) -> Result<DevicePoll> {
        let answer = self
            .token_request(
                tenant,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", self.endpoints.client_id.as_str()),
                    ("device_code", device_code),
                ],
            )
            .await?;
        if let Some(token) = answer.access_token {
            return Ok(DevicePoll::Token(token));
        }
        match answer.error.as_deref() {
            Some("authorization_pending") => Ok(DevicePoll::Pending { slow_down: false }),
            Some("slow_down") => Ok(DevicePoll::Pending { slow_down: true }),
            Some("expired_token") | Some("code_expired") => Ok(DevicePoll::Expired),
            Some("access_denied") | Some("authorization_declined") => Ok(DevicePoll::Denied),
            other => Err(refused(
                "the sign-in",
                other,
                answer.error_description.as_deref(),
            )),
        }
    }

    /// The URL that sends the administrator's browser to sign in.
    pub fn authorize_url(
        &self,
        tenant: &str,
        redirect_uri: &str,
        state: &str,
        verifier: &str,
    ) -> Result<String> {
        let mut url = reqwest::Url::parse(&self.tenant_url(tenant, "authorize"))
            .map_err(|e| Error::Internal(format!("the authority URL is not valid: {}", e)))?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.endpoints.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", &self.scope())
            .append_pair("state", state)
            .append_pair("code_challenge", &pkce_challenge(verifier))
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "select_account");
        Ok(url.into())
    }

    /// Exchanges the code the browser came back with for an access token.
    pub async fn exchange_code(
        &self,
        tenant: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<String> {
        let answer = self
            .token_request(
                tenant,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", self.endpoints.client_id.as_str()),
                    ("code", code),
                    ("redirect_uri", redirect_uri),
                    ("code_verifier", verifier),
                    ("scope", self.scope().as_str()),
                ],
            )
            .await?;
        match answer.access_token {
            Some(token) => Ok(token),
            None => Err(refused(
                "the sign-in code",
                answer.error.as_deref(),
                answer.error_description.as_deref(),
            )),
        }
    }

    async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> Result<TokenAnswer> {
        let what = "the token request";
        let response = self
            .http
            .post(self.tenant_url(tenant, "token"))
            .form(form)
            .send()
            .await
            .map_err(|e| unreachable(what, e))?;
        response.json().await.map_err(|e| unreachable(what, e))
    }

    /// Asks the device registration service for a bulk enrollment token named `display_name`
    /// that expires on `expires`, as the administrator `access_token` signed in.
    pub async fn request_bulk_token(
        &self,
        access_token: &str,
        display_name: &str,
        expires: DateTime<Utc>,
    ) -> Result<String> {
        let base = self.endpoints.bulk_token_url.trim_end_matches('/');
        let begin = serde_json::json!({
            "pid": uuid::Uuid::new_v4().to_string(),
            "name": display_name,
            "exp": expires.format("%m/%d/%Y").to_string(),
        });
        let what = "the bulk enrollment token request";
        let answer: Value = self
            .http
            .post(format!("{}/begin", base))
            .bearer_auth(access_token)
            .json(&begin)
            .send()
            .await
            .map_err(|e| unreachable(what, e))?
            .json()
            .await
            .map_err(|e| unreachable(what, e))?;
        check_state(what, &answer)?;
        let flow_token = answer["flowToken"]
            .as_str()
            .ok_or_else(|| {
                Error::upstream(
                    Upstream::ENTRA,
                    "flow",
                    format!("{} got no flow token back", what),
                )
            })?
            .to_string();
        for _ in 0..self.endpoints.bulk_token_polls.max(1) {
            let answer: Value = self
                .http
                .get(format!("{}/poll", base))
                .query(&[("flowToken", flow_token.as_str())])
                .bearer_auth(access_token)
                .send()
                .await
                .map_err(|e| unreachable(what, e))?
                .json()
                .await
                .map_err(|e| unreachable(what, e))?;
            check_state(what, &answer)?;
            let result = result_data(&answer);
            if let Some(token) = result["refresh_token"].as_str() {
                return Ok(token.to_string());
            }
            if let Some(description) = result["error_description"].as_str() {
                return Err(refused(what, result["error"].as_str(), Some(description)));
            }
            // Still being made: the service answers within seconds.
            self.sleeper.sleep(Duration::from_secs(1)).await;
        }
        Err(Error::upstream(
            Upstream::ENTRA,
            "flow",
            "the device registration service did not hand out the token in time: try again",
        ))
    }
}

/// `resultData` is JSON inside a string.
fn result_data(answer: &Value) -> Value {
    match &answer["resultData"] {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    }
}

fn check_state(what: &str, answer: &Value) -> Result<()> {
    let state = answer["state"].as_str().unwrap_or_default();
    if state.contains("Error") {
        let result = result_data(answer);
        return Err(refused(
            what,
            result["error"].as_str(),
            result["error_description"].as_str(),
        ));
    }
    Ok(())
}

/// A random string for `state` or a PKCE verifier (RFC 7636 allows 43 to 128 characters).
pub fn random_secret(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The S256 PKCE challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_the_rfc_7636_example() {
        // Appendix B of RFC 7636.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let verifier = random_secret(64);
        assert_eq!(verifier.len(), 64);
        assert_ne!(verifier, random_secret(64));
    }
}
