//! The messages agents and the server exchange under `/agent/`. Registration travels as a
//! [`PskSigned`](crate::envelope::PskSigned) body; everything after it inside an
//! [`Envelope`](crate::envelope::Envelope) whose kind is the route's name.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// When users may start it.
    pub available_from: Option<ScheduledTime>,
    /// When it starts without asking.
    pub enforced_after: ScheduledTime,
}

/// The server's answer to a check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInResponse {
    /// The next runbook to run, if any.
    pub assignment: Option<DeviceAssignment>,
    /// The server's clock.
    pub server_time: DateTime<Utc>,
    /// Why the server holds back an assignment the device would otherwise get (e.g. no licence
    /// covers it). Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Blocked>,
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
}

/// The translations of the SIDs asked for that have one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslateResponse {
    /// The translations.
    pub translations: Vec<SidTranslation>,
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
}
