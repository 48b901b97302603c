//! Licensing: applying signed licences, listing them with the devices they counted, and the
//! check that lets a device start a migration runbook.
//!
//! Licensing is enforced only when the server trusts at least one issuer
//! ([`crate::Settings::licence_issuers`]); without one the server runs unlicensed, so a build
//! from source works on its own. Under enforcement a device needs, before its first runbook
//! starts, an applied migration licence that covers its batch's source and target domains and has
//! a free device slot. A device is counted once, ever: once counted it continues whatever happens
//! to the count, and it never takes a second slot.

use chrono::{DateTime, Utc};
use model::batch::Batch;
use model::envelope::Key32;
use model::ids::{LicenceId, RunbookId};
use model::licence::{self, Licence, LicenceError, Product};
use model::protocol::Blocked;
use serde::Serialize;

use crate::store::agents::Agent;
use crate::store::licences::{Counting, StoredLicence};
use crate::{App, Error, Result};

/// Longest licence text accepted.
pub const MAX_LICENCE_TEXT: usize = 16 * 1024;

/// Whether an applied licence counts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceStatus {
    /// Signed by a trusted issuer and not expired.
    Valid,
    /// Past its expiry.
    Expired,
    /// Its issuer is no longer trusted by this server (or the stored text no longer verifies).
    Untrusted,
}

/// An applied licence as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenceView {
    /// Its id.
    pub id: LicenceId,
    /// Who it is for.
    pub customer: String,
    /// What it grants.
    pub products: Vec<Product>,
    /// Domains devices may come from.
    pub source_domains: Vec<String>,
    /// Domains devices may move to.
    pub target_domains: Vec<String>,
    /// Devices it allows.
    pub devices: u32,
    /// Devices it has counted.
    pub devices_used: u64,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When it was applied here.
    pub applied_at: DateTime<Utc>,
    /// The issuer's public key, base64.
    pub issuer: String,
    /// Valid, expired or untrusted.
    pub status: LicenceStatus,
}

fn view(stored: &StoredLicence, trusted: &[Key32], now: DateTime<Utc>) -> Option<LicenceView> {
    let (licence, status) = match licence::open(&stored.text, trusted) {
        Ok(l) if l.is_valid_at(now) => (l, LicenceStatus::Valid),
        Ok(l) => (l, LicenceStatus::Expired),
        // Still shown, read with the key it names, so an administrator sees what stopped counting.
        Err(LicenceError::UntrustedIssuer { issuer }) => {
            let own = licence::parse_public_key(&issuer).ok()?;
            (
                licence::open(&stored.text, &[own]).ok()?,
                LicenceStatus::Untrusted,
            )
        }
        Err(_) => return None,
    };
    Some(LicenceView {
        id: stored.id,
        customer: licence.customer,
        products: licence.products,
        source_domains: licence.source_domains,
        target_domains: licence.target_domains,
        devices: licence.devices,
        devices_used: stored.devices_used,
        issued_at: licence.issued_at,
        expires_at: licence.expires_at,
        applied_at: stored.applied_at,
        issuer: licence::public_key_text(&licence.issuer),
        status,
    })
}

/// Every applied licence, oldest first. A stored text that no longer reads at all is logged and
/// left out.
pub async fn list(app: &App) -> Result<Vec<LicenceView>> {
    let now = app.clock.now();
    let mut out = Vec::new();
    for stored in app.store.licences().await? {
        match view(&stored, &app.settings.licence_issuers, now) {
            Some(v) => out.push(v),
            None => tracing::warn!(licence = %stored.id, "a stored licence no longer reads"),
        }
    }
    Ok(out)
}

/// Applies a pasted licence: it must be signed by a trusted issuer, valid now, and applied within
/// 30 days of its issue. Errors name the field `licence`; nothing is stored then.
pub async fn apply(app: &App, text: &str) -> Result<LicenceView> {
    let trusted = &app.settings.licence_issuers;
    if trusted.is_empty() {
        return Err(Error::field(
            "licence",
            "this server trusts no licence issuer, so it runs unlicensed and takes no licences; start it with --licence-issuer <public key> (or REHOME_LICENCE_ISSUERS) to enforce licences",
        ));
    }
    if text.len() > MAX_LICENCE_TEXT {
        return Err(Error::field(
            "licence",
            format!("at most {} characters", MAX_LICENCE_TEXT),
        ));
    }
    let now = app.clock.now();
    let licence =
        licence::verify(text, trusted, now).map_err(|e| Error::field("licence", e.to_string()))?;
    let whole: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if !app.store.insert_licence(licence.id, &whole, now).await? {
        return Err(Error::field("licence", "this licence is applied already"));
    }
    tracing::info!(licence = %licence.id, customer = %licence.customer, devices = licence.devices, "licence applied");
    list(app)
        .await?
        .into_iter()
        .find(|v| v.id == licence.id)
        .ok_or_else(|| Error::Internal("an applied licence was not stored".into()))
}

/// Removes an applied licence; false when there was none. Devices it counted stay counted.
pub async fn remove(app: &App, id: LicenceId) -> Result<bool> {
    let removed = app.store.delete_licence(id).await?;
    if removed {
        tracing::info!(licence = %id, "licence removed");
    }
    Ok(removed)
}

/// A migration licence that covers a batch, with its stored count.
struct Covering {
    licence: Licence,
    used: u64,
}

/// Whether `agent` may be given `runbook` of `batch` now, by the licences of `config`. `None`
/// lets it; `Some` is the reason to hold the assignment back. On the final check-in before a
/// start, a device not yet counted takes a slot of the covering licence that expires first (the
/// store counts it, so a count read stale from `config` never lets more devices in).
pub async fn admit(
    app: &App,
    config: &crate::agent_api::cache::Config,
    agent: &Agent,
    batch: &Batch,
    runbook: RunbookId,
    final_check: bool,
) -> Result<Option<Blocked>> {
    if app.settings.licence_issuers.is_empty() {
        return Ok(None);
    }
    let now = app.clock.now();
    let source = config.domain(batch.source_directory);
    let target = config.domain(batch.target_directory);
    let mut valid = Vec::new();
    let mut expired: Option<DateTime<Utc>> = None;
    for opened in &config.licences {
        let licence = &opened.licence;
        if !licence.grants(Product::Migration, &source, &target) {
            continue;
        }
        if now >= licence.expires_at {
            expired = expired.max(Some(licence.expires_at));
        } else if licence.is_valid_at(now) {
            valid.push(Covering {
                licence: licence.clone(),
                used: opened.stored.devices_used,
            });
        }
    }
    valid.sort_by_key(|c| c.licence.expires_at);
    let (free, full): (Vec<&Covering>, Vec<&Covering>) = valid
        .iter()
        .partition(|c| c.used < u64::from(c.licence.devices));
    // A device with a free slot before its final check needs no look at whether it is counted.
    if (!free.is_empty() && !final_check)
        || app
            .store
            .device_counted(agent.directory, agent.computer_guid)
            .await?
    {
        return Ok(None);
    }
    let describe = |c: &Covering| (c.licence.devices, c.licence.customer.clone());
    let mut full = full.first().map(|c| describe(c));
    for c in free {
        let counting = app
            .store
            .count_device(
                c.licence.id,
                u64::from(c.licence.devices),
                agent.directory,
                agent.computer_guid,
                agent.id,
                now,
            )
            .await?;
        if counting == Counting::Full {
            full = full.or_else(|| Some(describe(c)));
            continue;
        }
        tracing::info!(licence = %c.licence.id, agent = %agent.id, computer = ?agent.computer_name, "device counted against the migration licence");
        return Ok(None);
    }
    let (code, message) = match (full, expired) {
        (Some((devices, customer)), _) => (
            "licence_full",
            format!(
                "the migration licence of {} for {} to {} allows {} devices and all are in use; a tenant administrator can apply a licence for more devices",
                customer, source, target, devices
            ),
        ),
        (None, Some(at)) => (
            "licence_expired",
            format!(
                "the migration licence for {} to {} expired on {}; a tenant administrator can apply a renewed licence",
                source,
                target,
                at.format("%Y-%m-%d")
            ),
        ),
        (None, None) => (
            "no_licence",
            format!(
                "no applied licence covers workstation migration from {} to {}; a tenant administrator applies one under Licences",
                source, target
            ),
        ),
    };
    tracing::debug!(agent = %agent.id, code, "assignment held back");
    Ok(Some(Blocked {
        batch: batch.id,
        runbook,
        code: code.to_string(),
        message,
    }))
}
