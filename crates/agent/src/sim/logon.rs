//! The simulated Cache Credentials dialog and domain logons: what the signed-in user types, and
//! the logon cache (`HKLM\SECURITY\Cache`) a logon a domain controller accepted fills.

use std::collections::VecDeque;
use std::fmt;

use model::protocol::sha256_hex;

use super::SimWorkstation;
use crate::workstation::{EnteredCredentials, RegValue};
use crate::{Error, Result};

/// Where Windows keeps the verifiers of cached domain logons, `NL$1`, `NL$2`, ….
pub const LOGON_CACHE: &str = "HKLM\\SECURITY\\Cache";
/// `CachedLogonsCount`'s default: how many logons Windows keeps.
const CACHED_LOGONS: usize = 10;

/// `domain\user` for an account typed as `user`, `DOMAIN\user` or `user@domain`.
fn account_key(domain: &str, typed: &str) -> String {
    let typed = typed.trim();
    let user = match typed.rsplit_once('\\') {
        Some((_, user)) => user,
        None => typed.split('@').next().unwrap_or(typed),
    };
    format!("{}\\{}", domain, user).to_lowercase()
}

/// What the signed-in user answers to the next dialogs; Debug shows how many, never a password.
#[derive(Default)]
pub(super) struct Answers(VecDeque<Option<(String, String)>>);

impl fmt::Debug for Answers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answer(s)", self.0.len())
    }
}

impl SimWorkstation {
    /// Makes the domain controllers of `domain` accept `user` with `password`, and saves.
    pub fn add_domain_account(&mut self, domain: &str, user: &str, password: &str) -> Result<()> {
        self.state
            .domain_accounts
            .insert(account_key(domain, user), sha256_hex(password.as_bytes()));
        self.save()
    }

    /// What the signed-in user answers to the next Cache Credentials dialogs, in order: an
    /// account and password, or `None` for Cancel. Kept in this instance only; a dialog with no
    /// answer left is cancelled.
    pub fn answer_credential_prompts(&mut self, answers: Vec<Option<(String, String)>>) {
        self.credential_answers = Answers(answers.into_iter().collect());
    }

    /// How many of the answers given are still to be asked for.
    pub fn credential_answers_left(&self) -> usize {
        self.credential_answers.0.len()
    }

    /// The accounts whose logons Windows keeps in its cache, oldest first.
    pub fn cached_logons(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for n in 1..=CACHED_LOGONS {
            if let Some(RegValue::Sz(account)) =
                self.sim_registry_value(LOGON_CACHE, &format!("NL${}", n))?
            {
                out.push(account);
            }
        }
        Ok(out)
    }

    pub(super) fn sim_prompt_credentials(&mut self) -> Result<Option<EnteredCredentials>> {
        self.require("prompt_credentials")?;
        let name = match &self.state.logged_on_user {
            Some(user) => user.rsplit('\\').next().unwrap_or(user).to_lowercase(),
            None => return Ok(None),
        };
        let user = self
            .state
            .profile_list
            .iter()
            .find(|(_, p)| {
                p.profile_image_path
                    .rsplit('\\')
                    .next()
                    .map_or(false, |leaf| leaf.to_lowercase() == name)
            })
            .map(|(sid, _)| sid.clone())
            .ok_or_else(|| {
                Error::Device(format!(
                    "the signed-in user {} has no profile on this device",
                    name
                ))
            })?;
        Ok(self
            .credential_answers
            .0
            .pop_front()
            .flatten()
            .map(|(username, password)| EnteredCredentials {
                user,
                username,
                password,
            }))
    }

    pub(super) fn sim_cache_logon(
        &mut self,
        domain: &str,
        username: &str,
        password: &str,
    ) -> Result<bool> {
        self.require("cache_logon")?;
        if self.state.unreachable.contains(&domain.to_lowercase()) {
            return Err(Error::Device(format!(
                "no domain controller of {} answered (ERROR_NO_LOGON_SERVERS); the device must see one to cache credentials",
                domain
            )));
        }
        let key = account_key(domain, username);
        if self.state.domain_accounts.get(&key) != Some(&sha256_hex(password.as_bytes())) {
            return Ok(false);
        }
        let mut cached = self.cached_logons()?;
        if !cached.iter().any(|a| a.eq_ignore_ascii_case(&key)) {
            cached.push(key);
            // The oldest logon makes way, as Windows does past CachedLogonsCount.
            while cached.len() > CACHED_LOGONS {
                cached.remove(0);
            }
            for (i, account) in cached.iter().enumerate() {
                self.sim_set_registry_value(
                    LOGON_CACHE,
                    &format!("NL${}", i + 1),
                    &RegValue::Sz(account.clone()),
                )?;
            }
        }
        Ok(true)
    }
}
