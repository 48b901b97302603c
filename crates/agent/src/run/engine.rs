//! The phase engine: a runbook's plan run step by step through the journal, with an event for
//! every step, SIDs translated through the server, and a failed step stopping the run.

use std::collections::BTreeSet;
use std::sync::Arc;

use model::ids::RunbookId;
use model::plan::{plan, Action, PermissionArea, Refusal, Step};
use model::protocol::{AgentEvent, DeviceAssignment, Running};
use model::runbook::{
    Area, Dialogs, LockScreenImage, PermissionMode, Runbook, RunbookSecrets, UserInteraction,
};
use model::schedule::CheckInState;
use model::status::{AgentStatus, EventLevel, Phase};
use secdesc::translate::{SidMap, TranslateMode, TranslateOptions};
use secdesc::Sid;

use super::requests::RunningView;
use super::{
    actions, credentials, defaults, edge, local_groups, onedrive, profiles, restart, run_as, Agent,
};
use crate::client::{Client, Transport};
use crate::journal::RecordedTranslations;
use crate::permissions::{self, translate_options, IgnoreList};
use crate::verify;
use crate::workstation::{AdJoin, Effect, Workstation};
use crate::{Error, Result};

/// The journal's name for the restart a run ends with, when scheduling it fails.
pub(super) const RESTART_STEP: &str = "completion/restart";

/// What one event says, before the spool numbers it.
struct Note<'a> {
    level: EventLevel,
    runbook: RunbookId,
    step: Option<&'a Step>,
    status: Option<AgentStatus>,
    message: String,
}

/// Whether the directory could know `sid`: domain accounts (S-1-5-21-…) and Entra objects
/// (S-1-12-1-…). Well-known SIDs (SYSTEM, BUILTIN\Administrators …) are the same everywhere and
/// are not sent.
fn is_directory_sid(sid: &Sid) -> bool {
    let subs = sid.sub_authorities();
    match sid.authority() {
        5 => subs.first() == Some(&21) && subs.len() >= 4,
        12 => subs.first() == Some(&1),
        _ => false,
    }
}

/// Asks the server for the translations of the SIDs found on the device.
fn fetch_sid_map<W: Workstation, T: Transport>(ws: &W, client: &Client<T>) -> Result<SidMap> {
    let asked: BTreeSet<Sid> = ws
        .list_sids()?
        .into_iter()
        .filter(is_directory_sid)
        .collect();
    let mut map = SidMap::new();
    if asked.is_empty() {
        return Ok(map);
    }
    let response = client.translate(asked.iter().cloned().collect())?;
    for t in response.translations {
        // Only the SIDs asked for may be rewritten on this device.
        if asked.contains(&t.source) {
            map.insert(t.source, t.target);
        }
    }
    Ok(map)
}

impl<W: Workstation, T: Transport> Agent<W, T> {
    fn note(&mut self, note: Note<'_>) -> Result<()> {
        let line = match note.step {
            Some(step) => format!("{} [{}] {}", note.runbook, step.id, note.message),
            None => format!("{} {}", note.runbook, note.message),
        };
        // The device's own Application log keeps a copy for whoever looks at the device itself;
        // the spool is the record that reaches the server, so a log that cannot be written does
        // not stop the run.
        let _ = self.workstation.write_event_log(note.level, &line);
        self.spool
            .append(AgentEvent {
                seq: 0,
                at: self.clock.now(),
                level: note.level,
                runbook: Some(note.runbook),
                phase: note.step.map(|s| s.phase),
                step: note.step.map(|s| s.id.clone()),
                status: note.status,
                message: note.message,
            })
            .map(|_| ())
    }

    /// Plans `assignment` on this device and runs it. `None` when asked to stop half way.
    pub(super) fn start(&mut self, assignment: &DeviceAssignment) -> Result<Option<AgentStatus>> {
        let runbook = &assignment.runbook;
        self.secrets = Some((runbook.id, assignment.secrets.clone()));
        self.offline_join = assignment
            .offline_join
            .clone()
            .map(|join| (runbook.id, join));
        if self.journal.retry_wanted(&runbook.id, assignment.retry) {
            if let Some(status) = self.take_retry(assignment)? {
                return Ok(status);
            }
        }
        let facts = self.workstation.facts()?;
        match plan(runbook, &facts.device(), &assignment.target) {
            Ok(steps) => {
                self.journal.runbook_started(
                    runbook.id,
                    &runbook.name,
                    &steps,
                    self.clock.now(),
                )?;
                self.note(Note {
                    level: EventLevel::Info,
                    runbook: runbook.id,
                    step: None,
                    status: Some(AgentStatus::InProgress),
                    message: format!("started {} ({} steps)", runbook.name, steps.len()),
                })?;
                let problems = match self.preflight(assignment, &steps)? {
                    Some(problems) => problems,
                    None => return Ok(None),
                };
                if !problems.is_empty() {
                    return self.preflight_failed(runbook.id, &problems).map(Some);
                }
                self.execute(runbook.id, &runbook.name, steps, false)
            }
            Err(Refusal::ServerOs) => {
                let message = format!(
                    "{} does not allow a server edition of Windows; allow it in the runbook's general settings to run it here",
                    runbook.name
                );
                let now = self.clock.now();
                self.journal
                    .runbook_started(runbook.id, &runbook.name, &[], now)?;
                self.journal
                    .step_failed(runbook.id, "plan", &message, now)?;
                self.note(Note {
                    level: EventLevel::Error,
                    runbook: runbook.id,
                    step: None,
                    status: Some(AgentStatus::Error),
                    message,
                })?;
                Ok(Some(AgentStatus::Error))
            }
        }
    }

    /// Takes up the operator's retry of a run that ended in Error. A run that had changed the
    /// device goes on with the plan its journal recorded (planning again from facts its own steps
    /// changed could name steps differently), skipping the steps recorded done, after pre-flight
    /// checks of the steps left: `Some`, with `None` inside when asked to stop half way. A run
    /// that had changed nothing gives `None`: it is planned afresh, as the device and the runbook
    /// are now.
    fn take_retry(&mut self, assignment: &DeviceAssignment) -> Result<Option<Option<AgentStatus>>> {
        let runbook = &assignment.runbook;
        let (name, steps, done) = match self.journal.run(&runbook.id) {
            Some(run) => (run.name.clone(), run.steps.clone(), run.done.len()),
            None => return Ok(None),
        };
        self.journal
            .runbook_retried(runbook.id, assignment.retry, self.clock.now())?;
        let left: Vec<Step> = steps
            .iter()
            .filter(|s| !self.journal.is_done(&runbook.id, &s.id))
            .cloned()
            .collect();
        let message = if done == 0 {
            format!(
                "retried from the server (retry {}): nothing had been changed, so {} is planned afresh",
                assignment.retry, runbook.name
            )
        } else {
            format!(
                "retried from the server (retry {}): {} of {} steps were done and are not run again; going on at {}",
                assignment.retry,
                done,
                steps.len(),
                left.first().map_or("the end", |s| s.id.as_str())
            )
        };
        self.note(Note {
            level: EventLevel::Info,
            runbook: runbook.id,
            step: None,
            status: Some(AgentStatus::InProgress),
            message,
        })?;
        if done == 0 {
            return Ok(None);
        }
        let problems = match self.preflight(assignment, &left)? {
            Some(problems) => problems,
            None => return Ok(Some(None)),
        };
        if !problems.is_empty() {
            return self
                .preflight_failed(runbook.id, &problems)
                .map(|status| Some(Some(status)));
        }
        self.execute(runbook.id, &name, steps, false).map(Some)
    }

    /// Records that the pre-flight `problems` stop `runbook` before it changed anything.
    fn preflight_failed(&mut self, runbook: RunbookId, problems: &[String]) -> Result<AgentStatus> {
        let message = format!(
            "pre-flight checks failed, nothing was changed: {}",
            problems.join("; ")
        );
        self.journal
            .step_failed(runbook, "preflight", &message, self.clock.now())?;
        self.note(Note {
            level: EventLevel::Error,
            runbook,
            step: None,
            status: Some(AgentStatus::Error),
            message,
        })?;
        Ok(AgentStatus::Error)
    }

    /// Runs the steps of `runbook` not yet recorded done. `None` when asked to stop while
    /// waiting for the server; the step then resumes at the next start. The tray is told which
    /// step runs, and that none does once the run is over.
    pub(super) fn execute(
        &mut self,
        runbook: RunbookId,
        name: &str,
        steps: Vec<Step>,
        resumed: bool,
    ) -> Result<Option<AgentStatus>> {
        let ended = self.execute_steps(runbook, name, steps, resumed);
        self.publish_running(None);
        ended
    }

    fn execute_steps(
        &mut self,
        runbook: RunbookId,
        name: &str,
        steps: Vec<Step>,
        resumed: bool,
    ) -> Result<Option<AgentStatus>> {
        if resumed {
            self.note(Note {
                level: EventLevel::Info,
                runbook,
                step: None,
                status: Some(AgentStatus::InProgress),
                message: format!("resumed {} after a restart", name),
            })?;
        }
        let mut map: Option<SidMap> = None;
        let mut phase: Option<Phase> = None;
        for (at, step) in steps.iter().enumerate() {
            self.publish_running(Some(RunningView {
                runbook,
                name: name.to_string(),
                step: at + 1,
                steps: steps.len(),
                step_id: step.id.clone(),
            }));
            if phase.map_or(false, |p| p != step.phase) {
                // Progress reaches the console phase by phase; a failure keeps events spooled.
                let _ = self.flush();
                // A join, a leave or a rename of the phase before is reported as it happened.
                self.report_changed_facts(Some(Running {
                    runbook,
                    phase: step.phase,
                    step: step.id.clone(),
                }))?;
            }
            phase = Some(step.phase);
            if self.journal.is_done(&runbook, &step.id) {
                continue;
            }
            // Recorded before it acts: after a crash the journal shows where the agent was.
            self.journal
                .step_started(runbook, &step.id, self.clock.now())?;
            let mut failures = CheckInState::default();
            let outcome = loop {
                match self.perform(runbook, step, &mut map) {
                    // The server is needed for translations: wait for it with the unreachable
                    // backoff rather than fail the migration. Safe because the step is idempotent.
                    Err(Error::Unreachable(_)) => {
                        failures.failed();
                        if !self.sleeper.sleep(failures.delay()) {
                            return Ok(None);
                        }
                    }
                    other => break other,
                }
            };
            // The workstation makes the step's change durable before the journal calls it done.
            let outcome = outcome.and_then(|effect| {
                self.workstation.checkpoint(&step.id, effect.changes)?;
                Ok(effect)
            });
            match outcome {
                Ok(effect) => {
                    self.note(Note {
                        level: EventLevel::Info,
                        runbook,
                        step: Some(step),
                        status: None,
                        message: format!("{}: {}", step.action.name(), effect.summary),
                    })?;
                    self.journal
                        .step_done(runbook, &step.id, self.clock.now())?;
                }
                Err(e) => {
                    let message = format!("{} ({}) failed: {}", step.id, step.action.name(), e);
                    self.note(Note {
                        level: EventLevel::Error,
                        runbook,
                        step: Some(step),
                        status: Some(AgentStatus::Error),
                        message: message.clone(),
                    })?;
                    self.journal
                        .step_failed(runbook, &step.id, &message, self.clock.now())?;
                    return Ok(Some(AgentStatus::Error));
                }
            }
        }
        if restart::needed(&steps) {
            // The join, leave or rename takes effect at the next start: the run is complete
            // only once that start is on its way.
            let minutes = restart::RESTART_AFTER_MINUTES;
            let message = match self
                .workstation
                .schedule_restart(minutes, &restart::message(name))
            {
                Ok(true) => format!(
                    "the device restarts in {} minutes so the changes to its directory and name take effect",
                    minutes
                ),
                Ok(false) => "a restart was already pending; it makes the changes to the device's directory and name take effect".to_string(),
                Err(e) => {
                    let message = format!(
                        "{}: the device must restart for its new directory or name to take effect, and scheduling the restart failed: {}",
                        RESTART_STEP, e
                    );
                    self.note(Note {
                        level: EventLevel::Error,
                        runbook,
                        step: None,
                        status: Some(AgentStatus::Error),
                        message: message.clone(),
                    })?;
                    self.journal
                        .step_failed(runbook, RESTART_STEP, &message, self.clock.now())?;
                    return Ok(Some(AgentStatus::Error));
                }
            };
            self.note(Note {
                level: EventLevel::Info,
                runbook,
                step: None,
                status: None,
                message,
            })?;
        }
        self.journal.runbook_completed(runbook, self.clock.now())?;
        self.note(Note {
            level: EventLevel::Info,
            runbook,
            step: None,
            status: Some(AgentStatus::Completed),
            message: format!("{} completed", name),
        })?;
        Ok(Some(AgentStatus::Completed))
    }

    /// The translations of `runbook`: those its journal recorded, or, the first time a step
    /// needs them, fetched from the server and recorded with the profiles as they are before
    /// any change, so a resumed run translates with the same map and `verify` can check it.
    pub(super) fn sid_map<'m>(
        &mut self,
        runbook: RunbookId,
        map: &'m mut Option<SidMap>,
    ) -> Result<&'m SidMap> {
        if map.is_none() {
            let recorded = self
                .journal
                .run(&runbook)
                .and_then(|r| r.translations.as_ref())
                .map(|t| t.pairs.iter().cloned().collect::<SidMap>());
            let fetched = match recorded {
                Some(recorded) => recorded,
                None => {
                    let fetched = fetch_sid_map(&self.workstation, &self.client)?;
                    let mut pairs: Vec<(Sid, Sid)> = fetched
                        .iter()
                        .map(|(s, t)| (s.clone(), t.clone()))
                        .collect();
                    pairs.sort();
                    let profiles = verify::baseline(&self.workstation)?;
                    self.journal.translations_recorded(
                        runbook,
                        RecordedTranslations { pairs, profiles },
                        self.clock.now(),
                    )?;
                    fetched
                }
            };
            *map = Some(fetched);
        }
        map.as_ref().ok_or(Error::NotRegistered)
    }

    /// The runbook's secrets: those of the assignment it started with, or after a restart (they
    /// are never written to disk) those the server sends again for the same runbook. The server
    /// sends passwords only in the answer to a final check-in, which a resumed run makes again
    /// right before the step that needs them (a reboot between leaving and joining a domain).
    fn secrets(&mut self, runbook: RunbookId) -> Result<RunbookSecrets> {
        if let Some((id, secrets)) = &self.secrets {
            if *id == runbook {
                return Ok(secrets.clone());
            }
        }
        let response = self.check_in(true)?;
        match response.assignment {
            Some(a) if a.runbook.id == runbook => {
                self.secrets = Some((runbook, a.secrets.clone()));
                Ok(a.secrets.clone())
            }
            _ => Err(Error::Device(
                "the server no longer assigns this runbook, so its passwords cannot be fetched again; retry the runbook from the console"
                    .to_string(),
            )),
        }
    }

    /// The assignment `runbook` runs under: the one it started with, or after a restart the one
    /// the server sends again for a final check-in.
    fn assigned(&mut self, runbook: RunbookId) -> Result<Arc<DeviceAssignment>> {
        if let Some(a) = &self.assignment {
            if a.runbook.id == runbook {
                return Ok(a.clone());
            }
        }
        match self.check_in(true)?.assignment {
            Some(a) if a.runbook.id == runbook => Ok(a),
            _ => Err(Error::Device(
                "the server no longer assigns this runbook; retry the runbook from the console"
                    .to_string(),
            )),
        }
    }

    /// The offline join blob of `runbook`: the one its assignment brought, or after a restart the
    /// one the server prepares again for a final check-in.
    fn offline_join_blob(&mut self, runbook: RunbookId) -> Result<Vec<u8>> {
        let kept = match &self.offline_join {
            Some((id, join)) if *id == runbook => Some(join.clone()),
            _ => None,
        };
        let join = match kept {
            Some(join) => join,
            None => match self.check_in(true)?.assignment {
                Some(a) if a.runbook.id == runbook => {
                    let join = a.offline_join.clone().ok_or_else(|| {
                        Error::Device("the server sent no offline join blob".to_string())
                    })?;
                    self.offline_join = Some((runbook, join.clone()));
                    join
                }
                _ => {
                    return Err(Error::Device(
                        "the server no longer assigns this runbook, so its offline join blob cannot be fetched again; retry the runbook from the console"
                            .to_string(),
                    ))
                }
            },
        };
        join.bytes()
            .map_err(|why| Error::Device(format!("no offline join blob from the server: {}", why)))
    }

    fn perform(
        &mut self,
        runbook: RunbookId,
        step: &Step,
        map: &mut Option<SidMap>,
    ) -> Result<Effect> {
        let ws = &mut self.workstation;
        // Every action is named: one this agent cannot carry out fails its step, loudly.
        match &step.action {
            Action::SuspendBitLocker => defaults::suspend_bitlocker(ws),
            Action::BackupLegalNotice => ws.backup_legal_notice(),
            Action::BackupLocalGroups => local_groups::backup(ws),
            Action::BackupAppxPackages => defaults::backup_appx(ws),
            Action::SetLegalNotice { caption, text } => {
                actions::set_legal_notice(ws, caption, text)
            }
            Action::SetLockScreenImage { image } => {
                // Fetched by its hash; bytes that do not hash to it are refused by the client.
                let custom = match image {
                    LockScreenImage::Custom { sha256, .. } => {
                        Some(self.client.lock_screen_image(sha256)?)
                    }
                    LockScreenImage::None | LockScreenImage::Builtin => None,
                };
                actions::set_lock_screen(&mut self.workstation, image, custom.as_deref())
            }
            Action::PreventLogin => {
                let map = self.sid_map(runbook, map)?;
                actions::prevent_login(&mut self.workstation, map)
            }
            Action::CreateFallbackAdmin { username } => {
                let secrets = self.secrets(runbook)?;
                actions::create_fallback_admin(
                    &mut self.workstation,
                    username,
                    secrets.admin_fallback_password.as_deref(),
                )
            }
            Action::RunCommandPackage { package } => {
                // Fetched by its hash; bytes that do not hash to it are refused by the client.
                let zip = self.client.command_package(&package.sha256)?;
                actions::run_command_package(
                    &mut self.workstation,
                    &step.id,
                    &package.name,
                    &package.sha256,
                    &zip,
                )
            }
            Action::CacheCredentials => {
                let assignment = self.assigned(runbook)?;
                let domain = assignment.target.domain.clone();
                let (title, message) = cache_dialog(&assignment.runbook, &domain);
                let prompt = credentials::Prompt {
                    title: &title,
                    message: &message,
                    interactive: assignment.runbook.startup.interaction != UserInteraction::Silent,
                };
                let map = self.sid_map(runbook, map)?;
                credentials::cache_credentials(&mut self.workstation, &domain, map, &prompt)
            }
            Action::LeaveActiveDirectory => ws.leave_active_directory(),
            Action::LeaveEntra => ws.leave_entra(),
            Action::ResetAutopilot => actions::reset_autopilot(ws),
            Action::RenameComputer { template } => {
                let chosen = self
                    .chosen_name
                    .as_ref()
                    .filter(|(id, _)| *id == runbook)
                    .map(|(_, name)| name.clone());
                actions::rename_computer(
                    &mut self.workstation,
                    template,
                    chosen.as_deref(),
                    random_digit,
                )
            }
            Action::JoinActiveDirectory { domain, options } => {
                if options.offline {
                    let blob = self.offline_join_blob(runbook)?;
                    self.workstation
                        .join_active_directory_offline(domain, &blob)
                } else {
                    let secrets = self.secrets(runbook)?;
                    let password = secrets.domain_join_password.unwrap_or_default();
                    self.workstation.join_active_directory(
                        domain,
                        &AdJoin {
                            account: &options.username,
                            password: &password,
                            ou: &options.computer_ou,
                            reuse_existing: options.reuse_existing_account,
                        },
                    )
                }
            }
            Action::JoinEntra { tenant } => {
                let assignment = self.assigned(runbook)?;
                // The uploaded package when there is one (it carries a token of its own); a
                // workstation that joins only that way never falls back to the token.
                if let Some(package) = &assignment.provisioning_package {
                    return self.workstation.join_entra_with_package(tenant, package);
                }
                if self.workstation.joins_entra_with_package() {
                    return Err(Error::Device(missing_package(tenant)));
                }
                let token = assignment.bulk_token.clone().ok_or_else(|| {
                    Error::Device(format!(
                        "the server sent no bulk enrollment token for {}: add one to the target directory, then retry the runbook",
                        tenant
                    ))
                })?;
                // A join resumed after the token expired does not try it.
                if let Some(at) = assignment
                    .bulk_token_expires_at
                    .filter(|at| *at <= self.clock.now())
                {
                    return Err(Error::Device(format!(
                        "the bulk enrollment token for {} expired at {}: create a new one for the target directory, then retry the runbook",
                        tenant,
                        at.format("%Y-%m-%d %H:%M UTC")
                    )));
                }
                self.workstation.join_entra_with_token(tenant, &token)
            }
            Action::SetHybridJoinTenant {
                tenant_name,
                tenant_id,
            } => actions::set_hybrid_join_tenant(ws, tenant_name, tenant_id),
            Action::EnrollIntune => {
                let now = self.clock.now();
                actions::enroll_intune(&mut self.workstation, now)
            }
            Action::ResetWindowsHello => ws.reset_windows_hello(),
            Action::UpdatePermissions { area, mode, ignore } => {
                let options = match translate_options(*mode) {
                    Some(options) => options,
                    None => return Ok(Effect::unchanged("permissions are left as they are")),
                };
                let map = self.sid_map(runbook, map)?;
                match area {
                    // Files go through the portable layer, which honours the Areas to Ignore.
                    PermissionArea::FileSystem => {
                        let ignore = IgnoreList::new(&self.workstation, ignore)?;
                        let (spool, clock) = (&mut self.spool, &self.clock);
                        permissions::update_area_with_progress(
                            &mut self.workstation,
                            Area::FileSystem,
                            map,
                            &options,
                            &ignore,
                            &mut |tally, total| {
                                // Progress of a long pass; a spool that cannot take it does not
                                // stop the pass, the step's own event follows.
                                let _ = spool.append(AgentEvent {
                                    seq: 0,
                                    at: clock.now(),
                                    level: EventLevel::Info,
                                    runbook: Some(runbook),
                                    phase: Some(step.phase),
                                    step: Some(step.id.clone()),
                                    status: None,
                                    message: format!(
                                        "{}: {} of {} objects checked, {} descriptors written",
                                        step.action.name(),
                                        tally.objects,
                                        total,
                                        tally.written
                                    ),
                                });
                            },
                        )
                    }
                    PermissionArea::WindowsProfiles => {
                        profiles::move_profiles(&mut self.workstation, map, &options)
                    }
                    PermissionArea::LocalGroups => {
                        local_groups::translate_members(&mut self.workstation, map, options.mode)
                    }
                }
            }
            Action::UpdateAreaPermissions { area, mode, .. } => {
                let options = match translate_options(*mode) {
                    Some(options) => options,
                    None => return Ok(Effect::unchanged("permissions are left as they are")),
                };
                let mode = options.mode;
                let map = self.sid_map(runbook, map)?;
                match area {
                    Area::UserRights => {
                        let keep = actions::managed_denials(&self.workstation)?;
                        permissions::update_user_rights(&mut self.workstation, map, mode, &keep)
                    }
                    // The Areas to Ignore are file paths: they apply to the file system only.
                    // Their descriptors, then the accounts they run as.
                    Area::Services | Area::ScheduledTasks => {
                        let descriptors = permissions::update_area(
                            &mut self.workstation,
                            *area,
                            map,
                            &options,
                            &IgnoreList::default(),
                        )?;
                        match run_as::translate_area(&mut self.workstation, *area, map)? {
                            Some(run_as) => Ok(run_as::combine(descriptors, run_as)),
                            None => Ok(descriptors),
                        }
                    }
                    Area::Registry
                    | Area::FileShares
                    | Area::Printers
                    | Area::Sql
                    | Area::Iis
                    | Area::Dcom
                    | Area::WmiNamespaces
                    | Area::FileSystem => permissions::update_area(
                        &mut self.workstation,
                        *area,
                        map,
                        &options,
                        &IgnoreList::default(),
                    ),
                    Area::WindowsProfiles | Area::LocalGroups => Err(Error::Unsupported {
                        action: step.action.name().to_string(),
                        reason: format!(
                            "{} is planned as UpdatePermissions, not as one of the other areas",
                            area.slug()
                        ),
                    }),
                }
            }
            Action::UpdateRemoteFileShares {
                username,
                paths,
                mode,
                ..
            } => {
                let mode = match mode {
                    PermissionMode::DontUpdate => {
                        return Ok(Effect::unchanged("permissions are left as they are"))
                    }
                    PermissionMode::AddOnly => TranslateMode::Add,
                    PermissionMode::AddAndRemove => TranslateMode::Replace,
                };
                let options = TranslateOptions {
                    mode,
                    owner_and_group: true,
                };
                let password = self
                    .secrets(runbook)?
                    .remote_file_shares_password
                    .unwrap_or_default();
                let map = self.sid_map(runbook, map)?;
                permissions::update_remote_shares(
                    &mut self.workstation,
                    paths,
                    username,
                    &password,
                    map,
                    &options,
                )
            }
            Action::ResetOutlook {
                zero_config_exchange,
            } => actions::reset_outlook(ws, *zero_config_exchange),
            Action::ResetM365Apps => actions::reset_m365_apps(ws),
            Action::ResetEdge => edge::reset_edge(ws),
            Action::OneDriveCloudOnly {
                source_tenants,
                target_folder_name,
            } => onedrive::cloud_only(ws, source_tenants, target_folder_name),
            Action::SetOneDriveSilentConfig { value } => {
                actions::set_onedrive_silent_config(ws, *value)
            }
            Action::ResetInformationProtection {
                source_hosts,
                target_host,
            } => actions::reset_information_protection(ws, source_hosts, target_host),
            Action::RestoreLegalNotice => ws.restore_legal_notice(),
            Action::RestoreLocalGroups => {
                let map = self.sid_map(runbook, map)?;
                local_groups::restore(&mut self.workstation, map)
            }
            Action::RestoreAppxPackages => {
                let map = self.sid_map(runbook, map)?;
                defaults::restore_appx(&mut self.workstation, map)
            }
            Action::ResumeBitLocker => defaults::resume_bitlocker(ws),
            Action::RestoreLockScreenImage => actions::restore_lock_screen(ws),
            Action::AllowLogin => actions::allow_login(ws),
            Action::RemoveFallbackAdmin {
                username,
                delay_days,
            } => {
                let now = self.clock.now();
                actions::remove_fallback_admin(&mut self.workstation, username, *delay_days, now)
            }
            Action::SetProxyAutoDetect { value } => actions::set_proxy_autodetect(ws, *value),
            Action::UninstallAgent => actions::schedule_uninstall(ws),
        }
    }
}

/// Why this agent cannot carry out `action` on any workstation yet; `None` when it can.
pub(super) fn not_carried_out(action: &Action) -> Option<String> {
    match action {
        // Named one by one, so a new action must be placed on one side or the other.
        Action::SuspendBitLocker
        | Action::BackupLegalNotice
        | Action::BackupLocalGroups
        | Action::BackupAppxPackages
        | Action::SetLegalNotice { .. }
        | Action::SetLockScreenImage { .. }
        | Action::PreventLogin
        | Action::CreateFallbackAdmin { .. }
        | Action::RunCommandPackage { .. }
        | Action::CacheCredentials
        | Action::LeaveActiveDirectory
        | Action::LeaveEntra
        | Action::ResetAutopilot
        | Action::RenameComputer { .. }
        | Action::JoinActiveDirectory { .. }
        | Action::JoinEntra { .. }
        | Action::SetHybridJoinTenant { .. }
        | Action::EnrollIntune
        | Action::ResetWindowsHello
        | Action::UpdatePermissions { .. }
        | Action::UpdateAreaPermissions { .. }
        | Action::UpdateRemoteFileShares { .. }
        | Action::ResetOutlook { .. }
        | Action::ResetM365Apps
        | Action::ResetEdge
        | Action::OneDriveCloudOnly { .. }
        | Action::SetOneDriveSilentConfig { .. }
        | Action::ResetInformationProtection { .. }
        | Action::RestoreLegalNotice
        | Action::RestoreLocalGroups
        | Action::RestoreAppxPackages
        | Action::ResumeBitLocker
        | Action::RestoreLockScreenImage
        | Action::AllowLogin
        | Action::RemoveFallbackAdmin { .. }
        | Action::SetProxyAutoDetect { .. }
        | Action::UninstallAgent => None,
    }
}

/// The Cache Credentials dialog of `runbook`'s default culture, `{TargetDomain}` filled in.
fn cache_dialog(runbook: &Runbook, domain: &str) -> (String, String) {
    let ux = &runbook.user_experience;
    let dialog = ux
        .culture(&ux.default_culture)
        .or_else(|| ux.cultures.first())
        .map(|c| c.dialogs.cache_credentials.clone())
        .unwrap_or_else(|| Dialogs::default().cache_credentials);
    (
        dialog.title.replace("{TargetDomain}", domain),
        dialog.message.as_str().replace("{TargetDomain}", domain),
    )
}

/// A random decimal digit for `%RAND:X%`, unbiased (bytes of 250 and above are drawn again).
pub(super) fn random_digit() -> u8 {
    loop {
        for b in uuid::Uuid::new_v4().as_bytes() {
            if *b < 250 {
                return b % 10;
            }
        }
    }
}

/// Why a device that joins Entra only with a provisioning package cannot join `tenant`.
pub(super) fn missing_package(tenant: &str) -> String {
    format!(
        "joining the Entra tenant {} on this device needs the provisioning package (.ppkg) of the target directory, and the server has none: build it with Windows Configuration Designer and upload it (rehome directory provisioning-package upload, or PUT /api/v1/directories/{{id}}/provisioning-package), then retry the runbook",
        tenant
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directory_sids_are_sent_for_translation() {
        let sid = |s: &str| s.parse::<Sid>().expect("sid");
        assert!(is_directory_sid(&sid("S-1-5-21-1-2-3-1001")));
        assert!(is_directory_sid(&sid(
            "S-1-12-1-1943430372-1249052806-2496021943-3034400218"
        )));
        assert!(!is_directory_sid(&sid("S-1-5-18")));
        assert!(!is_directory_sid(&sid("S-1-5-32-544")));
    }
}
