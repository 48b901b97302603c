//! Making PSK registration less of a master key: a PSK may expire and may be limited to the
//! computers of one batch, and the address every agent registered from is kept, so the console can
//! point out a registration from an address that had been refused before (a sign of someone
//! trying PSKs or computer names).

use chrono::{DateTime, Utc};
use model::ids::{DirectoryId, ObjectGuid, PskId};

use crate::migration::keys::{create_psk, NewPsk};
use crate::store::psk_limits::PskLimits;
use crate::{App, Error, Result};

/// Makes a PSK with `limits`, after checking them: an expiry in the future, a batch that exists.
pub async fn create_limited_psk(app: &App, limits: PskLimits) -> Result<NewPsk> {
    let now = app.clock.now();
    if limits.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::field("expires_at", "must be in the future"));
    }
    if let Some(batch) = limits.batch {
        if app.store.batch(batch).await?.is_none() {
            return Err(Error::field("batch", "no batch has this id"));
        }
    }
    let psk = create_psk(app).await?;
    app.store.set_psk_limits(psk.id, &limits).await?;
    Ok(psk)
}

/// Why `psk` may not register the computer `guid` of `directory` at `now`, if it may not: the
/// refusal code and the message for the failed communication.
pub async fn refusal(
    app: &App,
    psk: PskId,
    directory: DirectoryId,
    guid: &ObjectGuid,
    now: DateTime<Utc>,
) -> Result<Option<(&'static str, String)>> {
    let limits = app.store.psk_limits(psk).await?;
    if limits.expires_at.is_some_and(|at| at <= now) {
        return Ok(Some((
            "psk_expired",
            "the PSK has expired; reinstall the agent with a current PSK".to_string(),
        )));
    }
    if let Some(batch) = limits.batch {
        let selected = match app.store.batch(batch).await? {
            Some(b) => b.source_directory == directory && b.computers.includes(guid),
            None => false,
        };
        if !selected {
            return Ok(Some((
                "psk_wrong_batch",
                "this PSK registers only the computers of its batch".to_string(),
            )));
        }
    }
    Ok(None)
}

/// Whether an agent's registration address is one that had been refused agent requests before
/// it registered.
pub async fn unexpected_address(
    app: &App,
    address: Option<&str>,
    registered_at: DateTime<Utc>,
) -> Result<bool> {
    match address {
        Some(address) => app.store.was_refused_before(address, registered_at).await,
        None => Ok(false),
    }
}
