//! Pre-flight gates: what must hold before a run makes its first change. Every failed gate is
//! reported together in one error event, and nothing on the device is changed.

use std::collections::BTreeSet;

use model::ids::RunbookId;
use model::plan::{Action, PermissionArea, Step};
use model::protocol::DeviceAssignment;
use model::runbook::UserInteraction;
use model::schedule::CheckInState;
use secdesc::translate::SidMap;
use secdesc::Sid;

use super::actions;
use super::credentials;
use super::engine::{not_carried_out, random_digit};
use super::restart;
use super::Agent;
use crate::client::Transport;
use crate::workstation::{AdJoin, Workstation};
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

/// How many new computer names a `%RAND:X%` template is drawn for before the gate fails.
const NAME_DRAWS: usize = 5;

/// How many times a held hive is asked about before the gate fails.
const HIVE_CHECKS: u32 = 3;

/// What the hive gate found.
enum HiveCheck {
    /// Nothing holds it.
    Free,
    /// Still held, or it could not be checked: the problem to report.
    Held(String),
    /// The agent was asked to stop while waiting.
    Stopped,
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
        let rename = steps.iter().find_map(|s| match &s.action {
            Action::RenameComputer { template } => Some(template.clone()),
            _ => None,
        });
        let renames = rename.is_some();
        let prevents_login = steps
            .iter()
            .any(|s| matches!(s.action, Action::PreventLogin));
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
                Action::JoinEntra { tenant } if assignment.provisioning_package.is_some() => {
                    if let Some(Err(why)) =
                        assignment.provisioning_package.as_ref().map(|p| p.bytes())
                    {
                        problems.push(why);
                    }
                    if let Some(problem) = self.unreachable(tenant) {
                        problems.push(problem);
                    }
                }
                Action::JoinEntra { tenant } if self.workstation.joins_entra_with_package() => {
                    problems.push(super::engine::missing_package(tenant));
                }
                Action::JoinEntra { tenant } if assignment.bulk_token.is_none() => {
                    problems.push(format!(
                        "joining the Entra tenant {} needs a valid bulk enrollment token: add one to the target directory",
                        tenant
                    ));
                }
                Action::JoinEntra { tenant } => {
                    if let Some(expired) = assignment
                        .bulk_token_expires_at
                        .filter(|at| *at <= self.clock.now())
                    {
                        problems.push(format!(
                            "the bulk enrollment token for {} expired at {}: create a new one for the target directory",
                            tenant,
                            expired.format("%Y-%m-%d %H:%M UTC")
                        ));
                    }
                    if let Some(problem) = self.unreachable(tenant) {
                        problems.push(problem);
                    }
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
                Action::CacheCredentials => {
                    let domain = &assignment.target.domain;
                    if !credentials::any_cached(&self.workstation, domain)? {
                        let reason = if runbook.startup.interaction == UserInteraction::Silent {
                            Some("the runbook is Silent, so nobody can be asked".to_string())
                        } else if prevents_login {
                            Some("Prevent Login in the same runbook keeps the users from signing in to answer".to_string())
                        } else if facts.logged_on_user.is_none() {
                            Some("nobody is signed in to answer the dialog".to_string())
                        } else {
                            None
                        };
                        if let Some(reason) = reason {
                            problems.push(format!(
                                "{} (CacheCredentials): no user has cached credentials for {} on this device yet and {}: cache them in a prerequisite runbook, or have the primary user signed in when this one starts",
                                step.id, domain, reason
                            ));
                        }
                        if let Some(problem) = self.unreachable(domain) {
                            problems.push(problem);
                        }
                    }
                }
                Action::JoinActiveDirectory { domain, options } if options.offline => {
                    if renames {
                        problems.push(format!(
                            "an offline join into {} is prepared for the computer's current name: rename it in a runbook that runs before, or join online",
                            domain
                        ));
                    }
                    match assignment.offline_join.as_ref().map(|j| j.bytes()) {
                        Some(Ok(blob)) if !blob.is_empty() => {}
                        Some(Ok(_)) => problems.push(format!(
                            "the server sent an empty offline join blob for {}",
                            domain
                        )),
                        Some(Err(why)) => problems.push(format!(
                            "the server could not prepare the offline join blob for {}: {}",
                            domain, why
                        )),
                        None => problems.push(format!(
                            "the server sent no offline join blob for {}: it needs a rehome server that prepares them",
                            domain
                        )),
                    }
                }
                Action::JoinActiveDirectory { domain, options } if !options.offline => {
                    if let Some(problem) = self.unreachable(domain) {
                        problems.push(problem);
                        continue;
                    }
                    let password = assignment
                        .secrets
                        .domain_join_password
                        .clone()
                        .unwrap_or_default();
                    let join = AdJoin {
                        account: &options.username,
                        password: &password,
                        ou: &options.computer_ou,
                        reuse_existing: options.reuse_existing_account,
                    };
                    let problem = match &rename {
                        // The join takes the name the rename gives the computer.
                        Some(template) => {
                            self.choose_name(runbook.id, template, &facts.serial, domain, &join)?
                        }
                        None => self.name_taken(domain, &facts.computer_name, &join),
                    };
                    problems.extend(problem);
                }
                _ => {}
            }
        }
        // The restart that makes a join, leave or rename take effect is checked before any of
        // them is made.
        if restart::needed(steps) {
            if let Err(e) = self.workstation.check_restart() {
                problems.push(format!(
                    "{}: the device must restart for its new directory or name to take effect, and it cannot schedule a restart: {}",
                    super::engine::RESTART_STEP,
                    e
                ));
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
        if moves_profiles {
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
            let profiles = self.workstation.harvest_profiles()?;
            for profile in &profiles {
                let covered = domain_of(&profile.sid).map_or(false, |d| domains.contains(&d));
                if covered
                    && map.get(&profile.sid).is_none()
                    && !runbook.permissions.skip_untranslated_profiles
                {
                    problems.push(format!(
                        "the profile {} ({}) has no translation: match its user, or set permissions.skip_untranslated_profiles to leave it as it is",
                        profile.path, profile.sid
                    ));
                }
            }
            // A hive another process holds open could be translated only in part: wait for it
            // a little, then stop before anything changes.
            for profile in profiles.iter().filter(|p| map.get(&p.sid).is_some()) {
                let hive = format!("{}\\NTUSER.DAT", profile.path.trim_end_matches('\\'));
                match self.hive_held(&hive)? {
                    HiveCheck::Free => {}
                    HiveCheck::Held(problem) => problems.push(problem),
                    HiveCheck::Stopped => return Ok(None),
                }
            }
        }
        Ok(Some(problems))
    }

    /// Why `target` cannot be joined from here now, when it does not answer.
    fn unreachable(&self, target: &str) -> Option<String> {
        match self.workstation.directory_reachable(target) {
            Ok(true) => None,
            Ok(false) => Some(format!(
                "{} does not answer from this device: check its DNS and the network path to it, then retry",
                target
            )),
            Err(e) => Some(format!("cannot check that {} answers: {}", target, e)),
        }
    }

    /// Why joining `domain` as `name` would fail, when an account of that name is there already
    /// and the runbook does not reuse it.
    fn name_taken(&self, domain: &str, name: &str, join: &AdJoin<'_>) -> Option<String> {
        if join.reuse_existing {
            return None;
        }
        match self.workstation.computer_account_exists(domain, name, join) {
            Ok(false) => None,
            Ok(true) => Some(format!(
                "{} already has a computer account {}: allow reusing it (device_state.active_directory.reuse_existing_computer_account) or delete it, then retry",
                domain,
                name.to_uppercase()
            )),
            Err(e) => Some(format!(
                "cannot check whether {} has a computer account {}: {}",
                domain, name, e
            )),
        }
    }

    /// Picks the name the rename will give the computer and checks it is free in `domain`:
    /// the name an earlier attempt recorded, else up to [`NAME_DRAWS`] expansions of `template`
    /// (a template without `%RAND:X%` gives one). The free name is kept for the rename step;
    /// the problem when none is.
    fn choose_name(
        &mut self,
        runbook: RunbookId,
        template: &str,
        serial: &str,
        domain: &str,
        join: &AdJoin<'_>,
    ) -> Result<Option<String>> {
        self.chosen_name = None;
        if let Some(name) = actions::recorded_rename(&self.workstation)? {
            return Ok(self.name_taken(domain, &name, join));
        }
        let draws = if template.to_ascii_uppercase().contains("%RAND:") {
            NAME_DRAWS
        } else {
            1
        };
        let mut tried = Vec::new();
        for _ in 0..draws {
            let name = match model::rename::expand(template, serial, &mut random_digit) {
                Ok(name) => name,
                Err(e) => {
                    return Ok(Some(format!(
                        "the new computer name cannot be made from {:?}: {}",
                        template, e
                    )))
                }
            };
            let taken = !join.reuse_existing
                && match self
                    .workstation
                    .computer_account_exists(domain, &name, join)
                {
                    Ok(taken) => taken,
                    Err(_) => return Ok(self.name_taken(domain, &name, join)),
                };
            if !taken {
                self.chosen_name = Some((runbook, name));
                return Ok(None);
            }
            tried.push(name.to_uppercase());
        }
        Ok(Some(format!(
            "{} already has a computer account for every new name drawn from {:?} ({}): allow reusing it (device_state.active_directory.reuse_existing_computer_account), or change the rename template, then retry",
            domain,
            template,
            tried.join(", ")
        )))
    }

    /// Asks who holds the hive file `hive` open, [`HIVE_CHECKS`] times a minute apart.
    fn hive_held(&mut self, hive: &str) -> Result<HiveCheck> {
        let mut holder = None;
        for attempt in 0..HIVE_CHECKS {
            if attempt > 0 && !self.sleeper.sleep(chrono::Duration::minutes(1)) {
                return Ok(HiveCheck::Stopped);
            }
            holder = match self.workstation.hive_holder(hive) {
                Ok(None) => return Ok(HiveCheck::Free),
                Ok(Some(process)) => Some(process),
                Err(e) => {
                    return Ok(HiveCheck::Held(format!(
                        "cannot check that nothing holds {} open: {}",
                        hive, e
                    )))
                }
            };
        }
        Ok(HiveCheck::Held(format!(
            "{} is held open by {} (checked {} times, a minute apart): close that program or restart the device, then retry; the profile is never translated in part",
            hive,
            holder.unwrap_or_default(),
            HIVE_CHECKS
        )))
    }
}
