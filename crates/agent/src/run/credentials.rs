//! Cache User Credentials: a migrating user signs in to the target domain once while a domain
//! controller answers, so Windows keeps their logon verifier and they can sign in after an
//! offline join with no domain controller in sight. Which user cached which account is recorded
//! in the agent's work key (never the password), so a re-run, a resumed run or a later runbook
//! after a prerequisite finds the work done.

use secdesc::translate::SidMap;
use secdesc::Sid;

use super::actions::profiles;
use crate::workstation::{Effect, RegValue, Workstation};
use crate::{Error, Result};

/// Value name = the source SID of a user who cached credentials; value = `domain|account`.
pub const CACHED_CREDENTIALS: &str = "HKLM\\SOFTWARE\\rehome\\Agent\\CachedCredentials";
/// How many times the dialog asks again after the domain controller refused what was typed.
pub const CREDENTIAL_ATTEMPTS: usize = 3;

/// The account and domain recorded for `sid`, when it cached credentials for `domain`.
fn recorded<W: Workstation>(ws: &W, sid: &Sid, domain: &str) -> Result<Option<String>> {
    match ws.registry_value(CACHED_CREDENTIALS, &sid.to_string())? {
        Some(RegValue::Sz(text)) => Ok(text
            .split_once('|')
            .filter(|(d, _)| d.eq_ignore_ascii_case(domain))
            .map(|(_, account)| account.to_string())),
        _ => Ok(None),
    }
}

/// The migrating users (profile owners the server translated) who cached credentials for
/// `domain` on this device, with the account they used.
pub fn cached_for<W: Workstation>(
    ws: &W,
    map: &SidMap,
    domain: &str,
) -> Result<Vec<(Sid, String)>> {
    let mut out = Vec::new();
    for (sid, _) in profiles(ws)? {
        if map.get(&sid).is_some() {
            if let Some(account) = recorded(ws, &sid, domain)? {
                out.push((sid, account));
            }
        }
    }
    Ok(out)
}

/// Whether any user has cached credentials for `domain` on this device (any SID: after the
/// profiles moved to their target SIDs the record still names the source).
pub fn any_cached<W: Workstation>(ws: &W, domain: &str) -> Result<bool> {
    for name in ws.registry_value_names(CACHED_CREDENTIALS)? {
        if let Some(RegValue::Sz(text)) = ws.registry_value(CACHED_CREDENTIALS, &name)? {
            if text
                .split_once('|')
                .map_or(false, |(d, _)| d.eq_ignore_ascii_case(domain))
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// What the Cache Credentials dialog shows.
pub struct Prompt<'a> {
    /// The window title.
    pub title: &'a str,
    /// The main message, `{TargetDomain}` already filled in.
    pub message: &'a str,
    /// False when the runbook is Silent: no dialog may be shown.
    pub interactive: bool,
}

/// Caches a migrating user's credentials for `domain`: done already when one of them did (here
/// or in a prerequisite runbook); otherwise the signed-in user is asked, and what they type is
/// checked by a domain controller of `domain`, which leaves it in Windows' logon cache. A wrong
/// password is asked again, [`CREDENTIAL_ATTEMPTS`] times in all; a Cancel, nobody signed in, a
/// user who is not migrating, or a Silent runbook fail the step, loudly: an offline join without
/// cached credentials would leave the users unable to sign in.
pub fn cache_credentials<W: Workstation>(
    ws: &mut W,
    domain: &str,
    map: &SidMap,
    prompt: &Prompt<'_>,
) -> Result<Effect> {
    if let Some((sid, account)) = cached_for(ws, map, domain)?.into_iter().next() {
        return Ok(Effect::unchanged(format!(
            "{} already cached the credentials of {} for {}",
            sid, account, domain
        )));
    }
    if !prompt.interactive {
        return Err(Error::Device(format!(
            "no migrating user has cached credentials for {} yet, and the runbook is Silent, so nobody can be asked: set Show Progress, or cache them in a prerequisite runbook",
            domain
        )));
    }
    for attempt in 1..=CREDENTIAL_ATTEMPTS {
        let entered = ws
            .prompt_credentials(prompt.title, prompt.message)?
            .ok_or_else(|| {
                Error::Device(format!(
                    "no credentials for {} were cached: nobody signed in answered the Cache Credentials dialog (signed out or pressed Cancel); the primary user must sign in and enter their {} account, then retry the runbook",
                    domain, domain
                ))
            })?;
        if map.get(&entered.user).is_none() {
            return Err(Error::Device(format!(
                "{} answered the Cache Credentials dialog but has no profile the server translates on this device; the primary user must sign in and answer it, then retry the runbook",
                entered.user
            )));
        }
        let account = entered.username.trim().to_string();
        if ws.cache_logon(domain, &account, &entered.password)? {
            ws.set_registry_value(
                CACHED_CREDENTIALS,
                &entered.user.to_string(),
                &RegValue::Sz(format!("{}|{}", domain, account)),
            )?;
            return Ok(Effect::changed(
                1,
                format!(
                    "{} entered their new credentials: signed in to {} as {} (attempt {}), which Windows keeps for sign-in without a domain controller",
                    entered.user, domain, account, attempt
                ),
            ));
        }
    }
    Err(Error::Device(format!(
        "a domain controller of {} refused the credentials typed into the Cache Credentials dialog {} times; nothing was cached: check the account and password, then retry the runbook",
        domain, CREDENTIAL_ATTEMPTS
    )))
}
