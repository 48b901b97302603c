//! Pre-flight gates: what must hold before a run makes its first change. Every failed gate is
//! reported together in one error event, and nothing on the device is changed.

use std::collections::BTreeSet;

use model::plan::{Action, PermissionArea, Step};
use model::protocol::DeviceAssignment;
use model::schedule::CheckInState;
use secdesc::translate::SidMap;
use secdesc::Sid;

use super::engine::not_carried_out;
use super::Agent;
use crate::client::Transport;
use crate::workstation::Workstation;
use crate::{Error, Result};

/// The directory a SID belongs to: its domain for AD accounts (S-1-5-21-…), the whole of Entra
/// for Entra objects (S-1-12-1-…, whose sub-authorities are the object id, not a domain).
fn domain_of(sid: &Sid) -> Option<Sid> {
    if sid.authority() == 12 {
        Sid::new(12, &[1]).ok()
    } else {
        sid.parent()
    }
}

fn missing(secret: &Option<String>) -> bool {
    secret.as_deref().map_or(true, str::is_empty)
}

impl<W: Workstation, T: Transport> Agent<W, T> {
    /// The gates `steps` of `assignment` fail; empty when the run may start. `None` when asked
    /// to stop while waiting for the server.
    pub(super) fn preflight(
        &mut self,
        assignment: &DeviceAssignment,
        steps: &[Step],
    ) -> Result<Option<Vec<String>>> {
        let runbook = &assignment.runbook;
        let facts = self.workstation.facts()?;
        let mut problems = Vec::new();
        for step in steps {
            if let Some(reason) = not_carried_out(&step.action) {
                problems.push(format!("{} ({}): {}", step.id, step.action.name(), reason));
            }
            match &step.action {
                Action::PreventLogin => {
                    if let Some(user) = &facts.logged_on_user {
                        problems.push(format!(
                            "{} is signed in, and Prevent Login needs nobody signed in: ask them to sign out",
                            user
                        ));
                    }
                }
                Action::JoinActiveDirectory { domain, options }
                    if !options.offline
                        && (options.username.is_empty()
                            || missing(&assignment.secrets.domain_join_password)) =>
                {
                    problems.push(format!(
                        "joining {} online needs the join account and its password (device_state.active_directory.username and password)",
                        domain
                    ));
                }
                Action::JoinEntra { tenant } if assignment.bulk_token.is_none() => {
                    problems.push(format!(
                        "joining the Entra tenant {} needs a valid bulk enrollment token: add one to the target directory",
                        tenant
                    ));
                }
                Action::UpdateRemoteFileShares { username, .. }
                    if username.is_empty()
                        || missing(&assignment.secrets.remote_file_shares_password) =>
                {
                    problems.push(
                        "Remote File Shares needs its account and password (permissions.remote_file_shares)"
                            .to_string(),
                    );
                }
                Action::CreateFallbackAdmin { username }
                    if missing(&assignment.secrets.admin_fallback_password) =>
                {
                    problems.push(format!(
                        "the fallback administrator {} has no password (startup.admin_fallback.password)",
                        username
                    ));
                }
                _ => {}
            }
        }
        let uninstalls = steps
            .iter()
            .any(|s| matches!(s.action, Action::UninstallAgent));
        for step in steps {
            if let Action::RemoveFallbackAdmin {
                username,
                delay_days,
            } = &step.action
            {
                if uninstalls && *delay_days > 0 {
                    problems.push(format!(
                        "the agent cannot remove itself at Completion and still delete the fallback administrator {} {} days later: set the delay to 0 or keep the agent",
                        username, delay_days
                    ));
                }
            }
        }
        let moves_profiles = steps.iter().any(|s| {
            matches!(
                s.action,
                Action::UpdatePermissions {
                    area: PermissionArea::WindowsProfiles,
                    ..
                }
            )
        });
        if moves_profiles && !runbook.permissions.skip_untranslated_profiles {
            let mut map = None;
            let mut failures = CheckInState::default();
            let map: SidMap = loop {
                match self.sid_map(runbook.id, &mut map) {
                    Ok(map) => break map.clone(),
                    Err(Error::Unreachable(_)) => {
                        failures.failed();
                        if !self.sleeper.sleep(failures.delay()) {
                            return Ok(None);
                        }
                    }
                    Err(e) => return Err(e),
                }
            };
            // A profile of a domain the translations cover, without a translation of its own,
            // would be left behind: its user would sign in to an empty profile.
            let domains: BTreeSet<_> = map.iter().filter_map(|(s, _)| domain_of(s)).collect();
            for profile in self.workstation.harvest_profiles()? {
                let covered = domain_of(&profile.sid).map_or(false, |d| domains.contains(&d));
                if covered && map.get(&profile.sid).is_none() {
                    problems.push(format!(
                        "the profile {} ({}) has no translation: match its user, or set permissions.skip_untranslated_profiles to leave it as it is",
                        profile.path, profile.sid
                    ));
                }
            }
        }
        Ok(Some(problems))
    }
}
