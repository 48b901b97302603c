//! The messages agents and the server exchange under `/agent/`. Registration travels as a
//! [`PskSigned`](crate::envelope::PskSigned) body; everything after it inside an
//! [`Envelope`](crate::envelope::Envelope) whose kind is the route's name.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::batch::ScheduledTime;
use crate::directory::ObjectKind;
use crate::envelope::{AgentCertificate, PublicKeys};
use crate::ids::{AgentId, BatchId, CertificateId, RunbookId};
use crate::plan::{JoinState, OsEdition, TargetFacts};
use crate::runbook::{Runbook, RunbookSecrets};
use crate::status::{AgentStatus, EventLevel, Phase};
use secdesc::Sid;

/// The agent's version, reported at registration and every check-in.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Route and purpose names, shared so the two sides cannot drift apart.
pub mod kinds {
    /// PSK-authenticated registration request.
    pub const REGISTER: &str = "register";
    /// PSK-authenticated registration response.
    pub const REGISTER_RESPONSE: &str = "register-response";
    /// Check-in (regular or final).
    pub const CHECK_IN: &str = "check-in";
    /// SIDs found on the device, for translation.
    pub const TRANSLATE: &str = "translate";
    /// Event upload.
    pub const EVENTS: &str = "events";
    /// Profile harvest upload.
    pub const PROFILES: &str = "profiles";
    /// Download of a command package by its hash.
    pub const COMMAND_PACKAGE: &str = "command-package";
    /// The device's readiness checks for its batch.
    pub const READINESS: &str = "readiness";
    /// Download of the custom lock-screen image of the device's runbook by its hash (the same
    /// request and response as a command package).
    pub const LOCK_SCREEN_IMAGE: &str = "lock-screen-image";

    /// The kind of the response to a request of kind `request`.
    pub fn response(request: &str) -> String {
        format!("{}-response", request)
    }
}

/// First contact: who the device is and the public keys it made for itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// NetBIOS computer name.
    pub computer_name: String,
    /// BIOS serial number.
    pub serial: String,
    /// Workstation or server.
    pub os_edition: OsEdition,
    /// e.g. `Windows 11 Enterprise 23H2`.
    pub os_version: String,
    /// The agent's version.
    pub agent_version: String,
    /// What the device is joined to now.
    pub join_state: JoinState,
    /// The agent's own public keys.
    pub keys: PublicKeys,
}

/// The server's signing and encryption identity for agents, as an agent pins it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerIdentity {
    /// The agent certificate's id.
    pub certificate: CertificateId,
    /// Its public keys.
    pub keys: PublicKeys,
    /// When it expires.
    pub not_after: DateTime<Utc>,
}

/// What a registered agent gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// Its id, named in every later message.
    pub agent: AgentId,
    /// Its certificate, signed by the server.
    pub certificate: AgentCertificate,
    /// The server identity to encrypt to and to check responses against.
    pub server: ServerIdentity,
}

/// A runbook the agent is running right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    /// The runbook.
    pub runbook: RunbookId,
    /// Its current phase.
    pub phase: Phase,
    /// The step id.
    pub step: String,
}

/// A regular or final check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInRequest {
    /// True for the check-in right before a runbook starts: the newest assignment wins.
    pub final_check: bool,
    /// The agent's version.
    pub agent_version: String,
    /// What the device is joined to now.
    pub join_state: JoinState,
    /// The user logged on at the console, if any.
    #[serde(default)]
    pub logged_on_user: Option<String>,
    /// What it is running, if anything.
    #[serde(default)]
    pub running: Option<Running>,
    /// Runbooks that have Completed on this device.
    #[serde(default)]
    pub completed: Vec<RunbookId>,
    /// The computer name now (it changes with a rename). Absent from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    /// The Windows version now (it changes with an upgrade). Absent from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// The digest of the assignment the agent last received in full (see
    /// [`CheckInResponse::assignment_digest`]): when the server's assignment has the same digest,
    /// it is not sent again. The agent's client sets it. Absent from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_assignment: Option<String>,
}

/// What the device should run and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAssignment {
    /// The batch it comes from.
    pub batch: BatchId,
    /// The runbook in full, less its passwords.
    pub runbook: Runbook,
    /// The runbook's passwords: they travel only here, inside the encrypted envelope.
    #[serde(default)]
    pub secrets: RunbookSecrets,
    /// The directory the device joins.
    pub target: TargetFacts,
    /// The target directory's newest valid bulk enrollment token, when the runbook joins Entra.
    /// Like the passwords, it travels only here, inside the encrypted envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_token: Option<BulkToken>,
    /// When the bulk enrollment token expires: the device checks it is still valid before the
    /// first change, and a join resumed later does not try an expired one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_token_expires_at: Option<DateTime<Utc>>,
    /// The offline domain join the server prepared for this device, when the runbook joins its
    /// domain offline: sent only with the final check-in, inside the encrypted envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_join: Option<OfflineJoin>,
    /// The provisioning package an administrator uploaded for the target Entra directory, when
    /// the runbook joins it: what a Windows device applies to join (the package embeds the bulk
    /// enrollment token). Sent only with the final check-in, inside the encrypted envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_package: Option<ProvisioningPackage>,
    /// When users may start it.
    pub available_from: Option<ScheduledTime>,
    /// When it starts without asking.
    pub enforced_after: ScheduledTime,
    /// How many times an operator asked to retry this runbook on this device after it failed.
    /// A device whose run of it ended in Error runs it again (resuming from its journal) when
    /// this is higher than the retry it last honoured.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A bulk enrollment token (BPRT): joins devices to an Entra tenant. Debug never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BulkToken(pub String);

impl fmt::Debug for BulkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BulkToken(<hidden>)")
    }
}

/// An offline domain join blob (`ODJ_PROVISION_DATA` as `net offlinejoin provision` or `djoin
/// /provision` write it), or why the server could not prepare one. Debug never shows the blob.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfflineJoin {
    /// The blob, base64 (standard alphabet, padded).
    Blob(String),
    /// What went wrong on the server, for the device's pre-flight error.
    Unavailable(String),
}

impl OfflineJoin {
    /// The blob for `bytes`.
    pub fn blob(bytes: &[u8]) -> OfflineJoin {
        OfflineJoin::Blob(B64.encode(bytes))
    }

    /// The blob's bytes, or why there are none.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            OfflineJoin::Blob(text) => B64
                .decode(text.as_bytes())
                .map_err(|_| "the offline join blob is not base64".to_string()),
            OfflineJoin::Unavailable(why) => Err(why.clone()),
        }
    }
}

impl fmt::Debug for OfflineJoin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OfflineJoin::Blob(_) => f.write_str("OfflineJoin::Blob(<hidden>)"),
            OfflineJoin::Unavailable(why) => write!(f, "OfflineJoin::Unavailable({:?})", why),
        }
    }
}

/// A provisioning package (`.ppkg`, built by Windows Configuration Designer) that joins devices
/// to an Entra tenant. It embeds a bulk enrollment token: Debug never shows its content.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningPackage {
    /// The file name it was uploaded as, e.g. `join-contoso.ppkg`.
    pub name: String,
    /// Lower-case hex SHA-256 of its bytes, checked by the device before it applies it.
    pub sha256: String,
    /// Its bytes, base64 (standard alphabet, padded).
    pub content: String,
    /// The target tenant's id, when the server knows it: what the device's join must name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The tenant's domains as the server knows them (the directory's domain, the tenant named
    /// in its Graph connection): without a tenant id, the account that joined the device must be
    /// in one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenant_domains: Vec<String>,
}

impl ProvisioningPackage {
    /// The package `name` with these `bytes`.
    pub fn new(name: &str, bytes: &[u8]) -> ProvisioningPackage {
        ProvisioningPackage {
            name: name.to_string(),
            sha256: sha256_hex(bytes),
            content: B64.encode(bytes),
            tenant_id: None,
            tenant_domains: Vec::new(),
        }
    }

    /// Its bytes, checked against its SHA-256; the error says which check failed.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        let bytes = B64
            .decode(self.content.as_bytes())
            .map_err(|_| format!("the provisioning package {} is not base64", self.name))?;
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(&self.sha256) {
            return Err(format!(
                "the provisioning package {} arrived damaged: its SHA-256 is {}, the server sent {}",
                self.name, actual, self.sha256
            ));
        }
        Ok(bytes)
    }
}

impl fmt::Debug for ProvisioningPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvisioningPackage")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .field("content", &"<hidden>")
            .field("tenant_id", &self.tenant_id)
            .field("tenant_domains", &self.tenant_domains)
            .finish()
    }
}

/// The server's answer to a check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInResponse {
    /// The next runbook to run, if any. Shared, so a client that fills in an assignment it holds,
    /// and an agent that keeps the one it runs, do not copy the whole runbook each check-in.
    pub assignment: Option<Arc<DeviceAssignment>>,
    /// The server's clock.
    pub server_time: DateTime<Utc>,
    /// Why the server holds back an assignment the device would otherwise get (e.g. no licence
    /// covers it). Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Blocked>,
    /// The server wants the device's readiness checks for its assignment now: it has none yet
    /// for this runbook, or someone asked for them again. Absent from older servers.
    #[serde(default, skip_serializing_if = "is_false")]
    pub readiness_due: bool,
    /// An opaque text that changes whenever the assignment does. With `assignment`, the digest of
    /// the one sent; without it, the assignment is the one the check-in said it holds
    /// ([`CheckInRequest::held_assignment`]) and was not sent again: a steady check-in carries no
    /// runbook. Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_digest: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// An assignment the server holds back, and why: the agent records it as a warning, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    /// The batch the assignment comes from.
    pub batch: BatchId,
    /// The runbook held back.
    pub runbook: RunbookId,
    /// Stable, e.g. `no_licence`, `licence_full`, `licence_expired`.
    pub code: String,
    /// What is wrong and what to do, for the device's events.
    pub message: String,
}

/// SIDs found on the device; only their translations come back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslateRequest {
    /// The SIDs.
    pub sids: Vec<Sid>,
}

/// One source SID and what it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidTranslation {
    /// User or group.
    pub kind: ObjectKind,
    /// The SID found on the device.
    pub source: Sid,
    /// The target object's SID.
    pub target: Sid,
    /// The target object's name, for logs.
    pub target_name: String,
    /// The target object's UPN, for profile and app settings.
    #[serde(default)]
    pub target_upn: Option<String>,
    /// Why this target SID: which of the target's SIDs the device will use after the runbook's
    /// join (`Entra join: the target's Entra SID, …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The translations of the SIDs asked for that have one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslateResponse {
    /// The translations.
    pub translations: Vec<SidTranslation>,
}

/// Asks for a command package (or the lock-screen image) of the device's current runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandPackageRequest {
    /// Lower-case hex SHA-256 of the zip, as the runbook names it.
    pub sha256: String,
}

/// A command package's (or lock-screen image's) bytes; the agent checks them against the hash
/// it asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandPackageResponse {
    /// The hash asked for.
    pub sha256: String,
    /// The zip, base64 (standard alphabet, padded).
    pub content: String,
}

impl CommandPackageResponse {
    /// The response carrying `bytes` as the package `sha256`.
    pub fn new(sha256: &str, bytes: &[u8]) -> CommandPackageResponse {
        CommandPackageResponse {
            sha256: sha256.to_string(),
            content: B64.encode(bytes),
        }
    }

    /// The zip's bytes, when they are the package `expected` names; otherwise an error.
    pub fn verified_bytes(&self, expected: &str) -> crate::Result<Vec<u8>> {
        let bytes = B64
            .decode(self.content.as_bytes())
            .map_err(|_| crate::Error::Malformed("the package is not base64".to_string()))?;
        if sha256_hex(&bytes) != expected.to_ascii_lowercase() {
            return Err(crate::Error::Malformed(format!(
                "the package received is not {}",
                expected
            )));
        }
        Ok(bytes)
    }
}

/// Lower-case hex SHA-256 of `bytes`, as command packages are named.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(bytes).iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// One event the agent recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEvent {
    /// The agent's own increasing sequence number: the server stores each once.
    pub seq: u64,
    /// When it happened, by the device's clock.
    pub at: DateTime<Utc>,
    /// Severity.
    pub level: EventLevel,
    /// The runbook it concerns.
    #[serde(default)]
    pub runbook: Option<RunbookId>,
    /// The phase it concerns.
    #[serde(default)]
    pub phase: Option<Phase>,
    /// The step id it concerns.
    #[serde(default)]
    pub step: Option<String>,
    /// The runbook's status after this event, when it changed.
    #[serde(default)]
    pub status: Option<AgentStatus>,
    /// What happened, in words.
    pub message: String,
}

/// A batch of spooled events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsUpload {
    /// The events, in sequence order.
    pub events: Vec<AgentEvent>,
}

/// The server has every event up to and including `through`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsAck {
    /// Highest sequence number stored.
    pub through: u64,
    /// How many of the uploaded events were new.
    pub stored: u64,
}

/// A user profile found on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// The profile owner's SID.
    pub sid: Sid,
    /// Profile folder, e.g. `C:\Users\alice`.
    pub path: String,
    /// Last use, if known.
    #[serde(default)]
    pub last_used: Option<DateTime<Utc>>,
}

/// The profiles harvested from a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfilesUpload {
    /// Every profile on the device.
    pub profiles: Vec<UserProfile>,
}

/// Acknowledges an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// How many items were accepted.
    pub accepted: u64,
}

/// The body of a refused request: a stable code and words for the log. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// Stable, e.g. `not_imported`, `already_registered`, `bad_psk`, `replay`.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// The server's clock (seconds since the Unix epoch) when a message was refused as stale
    /// ([`STALE`]): an agent whose clock is off corrects its messages' time by the difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<i64>,
}

/// The refusal code of a message whose timestamp is too far from the server's clock.
pub const STALE: &str = "stale";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_is_accepted_only_with_the_hash_asked_for() {
        let zip = b"PK\x03\x04 not really a zip".to_vec();
        let sha = sha256_hex(&zip);
        let response = CommandPackageResponse::new(&sha, &zip);
        assert_eq!(response.verified_bytes(&sha).ok(), Some(zip.clone()));
        assert_eq!(
            response.verified_bytes(&sha.to_ascii_uppercase()).ok(),
            Some(zip)
        );
        assert!(response.verified_bytes(&sha256_hex(b"other")).is_err());
        let tampered = CommandPackageResponse {
            content: "!!".to_string(),
            ..response
        };
        assert!(tampered.verified_bytes(&sha).is_err());
    }

    #[test]
    fn a_provisioning_package_is_checked_against_its_hash_and_hidden_in_debug() {
        let package = ProvisioningPackage::new("join.ppkg", b"PK-secret-bprt");
        assert_eq!(package.bytes().as_deref(), Ok(&b"PK-secret-bprt"[..]));
        assert!(!format!("{:?}", package).contains(&package.content));
        let mut damaged = package.clone();
        damaged.content = B64.encode(b"PK-other");
        let err = damaged.bytes().expect_err("refused");
        assert!(
            err.contains("join.ppkg") && err.contains("damaged"),
            "{}",
            err
        );
    }

    #[test]
    fn a_bulk_token_never_shows_in_debug() {
        let assignment_part = Some(BulkToken("secret-bprt".to_string()));
        assert!(!format!("{:?}", assignment_part).contains("secret-bprt"));
    }
}
