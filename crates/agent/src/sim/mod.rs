//! A simulated Windows workstation: a folder whose `workstation.json` holds what a real device
//! keeps in its registry, SAM and NTFS descriptors. Every operation changes the state in memory,
//! then writes it atomically before returning, so a crash leaves the device before or after the
//! operation, never half way: the same guarantee the journal relies on for a real device.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::FixedOffset;
use model::plan::{JoinState, PermissionArea};
use model::protocol::{sha256_hex, BulkToken, ProvisioningPackage, UserProfile};
use model::runbook::Area;
use model::status::EventLevel;
use secdesc::descriptor::control;
use secdesc::translate::{translate, SidMap, TranslateMode, TranslateOptions};
use secdesc::{SecurityDescriptor, Sid};

use crate::fsutil;
use crate::permissions::{self, IgnoreList};
use crate::readiness::device::{BitLockerState, Interference, ProfileCondition, SystemVolume};
use crate::workstation::{
    AdJoin, BitLockerStatus, CommandOutcome, Effect, EnteredCredentials, Facts, RegValue,
    SecurityParts, TaskPrincipal, Workstation,
};
use crate::{Error, Result};
pub use files::CONTENTS_DIR;
pub use logon::LOGON_CACHE;
use store::DescriptorLog;
pub use store::DESCRIPTORS_FILE;

mod device;
use device::descriptor_sids;
mod files;
mod logon;
mod primitives;
mod readiness;
mod restart;
mod services;
mod state;
mod store;
mod system;

pub use readiness::{SimProfileCondition, SimReadiness};
pub use restart::SimRestart;
pub use state::{
    Backups, BitLocker, LegalNotice, LocalUser, ProfileEntry, SimSpec, SimState, SimUser,
};
use state::{DOMAIN_ADMINS, DOMAIN_USERS};

const DACL_BITS: u16 = control::DACL_PRESENT
    | control::DACL_DEFAULTED
    | control::DACL_PROTECTED
    | control::DACL_AUTO_INHERITED
    | control::DACL_AUTO_INHERIT_REQ;
const SACL_BITS: u16 = control::SACL_PRESENT
    | control::SACL_DEFAULTED
    | control::SACL_PROTECTED
    | control::SACL_AUTO_INHERITED
    | control::SACL_AUTO_INHERIT_REQ;

/// The simulated Application event log (one event per line), beside the state: it is the
/// device's history, not its state, so it stays out of [`SimState`].
pub const EVENT_LOG_FILE: &str = "application-events.log";

/// The file a simulated workstation lives in, inside its folder.
pub const STATE_FILE: &str = "workstation.json";

/// Faults to inject, for tests of what happens when the agent dies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimFaults {
    /// Stop the thread (panic) right after the operation of this step id (e.g.
    /// `permissions/file-system`) has changed the device and saved it, before the agent can
    /// record the step done: what a power cut at that instant does.
    pub crash_after_step: Option<String>,
    /// Stop the thread (panic) right after this many descriptors were written and made durable:
    /// a power cut in the middle of a tree.
    pub crash_after_writes: Option<usize>,
    /// Stop the thread (panic) right after this many files were moved: a power cut in the middle
    /// of the OneDrive move.
    pub crash_after_moves: Option<usize>,
    /// Operations this device refuses as a workstation without that capability would (e.g.
    /// `rename_computer`): they fail with [`Error::Unsupported`].
    pub lacks: Vec<String>,
    /// Files the file system walk lists but that are gone when their descriptor is read, as a
    /// file deleted by the user or an application during a long pass.
    pub vanished_files: Vec<String>,
}

/// A simulated Windows workstation stored in a folder.
#[derive(Debug)]
pub struct SimWorkstation {
    dir: PathBuf,
    state: SimState,
    faults: SimFaults,
    log: DescriptorLog,
    writes: usize,
    moves: usize,
    /// Shares of other hosts connected in this process (lower case).
    shares: BTreeSet<String>,
    /// How many times this process asked who holds each hive file (lower case).
    hive_checks: std::cell::RefCell<BTreeMap<String, u32>>,
    /// What the signed-in user answers to the next Cache Credentials dialogs.
    credential_answers: logon::Answers,
    /// The users' hives this process loaded.
    loaded_hives: BTreeSet<Sid>,
}

impl SimWorkstation {
    /// Creates the workstation `spec` describes in `dir` (created if needed), replacing any there.
    pub fn create(dir: &Path, spec: &SimSpec) -> Result<SimWorkstation> {
        fsutil::create_dir(dir)?;
        let mut sim = SimWorkstation {
            dir: dir.to_path_buf(),
            state: state::build(spec),
            faults: SimFaults::default(),
            log: DescriptorLog::new(dir),
            writes: 0,
            moves: 0,
            shares: BTreeSet::new(),
            hive_checks: Default::default(),
            credential_answers: Default::default(),
            loaded_hives: BTreeSet::new(),
        };
        sim.log.rewrite(&sim.all_descriptors())?;
        sim.save()?;
        Ok(sim)
    }

    /// Opens the workstation stored in `dir`.
    pub fn open(dir: &Path) -> Result<SimWorkstation> {
        let mut state = SimWorkstation::load_small(dir)?;
        let mut log = DescriptorLog::new(dir);
        state.place_descriptors(log.load()?);
        let mut sim = SimWorkstation {
            dir: dir.to_path_buf(),
            state,
            faults: SimFaults::default(),
            log,
            writes: 0,
            moves: 0,
            shares: BTreeSet::new(),
            hive_checks: Default::default(),
            credential_answers: Default::default(),
            loaded_hives: BTreeSet::new(),
        };
        if !sim.state.legacy_files.is_empty() {
            let legacy = std::mem::take(&mut sim.state.legacy_files);
            for (path, sddl) in legacy {
                let sd = SecurityDescriptor::from_sddl(&sddl, None)?;
                sim.state.files.insert(path, sd.to_bytes());
            }
            sim.log.rewrite(&sim.all_descriptors())?;
            sim.save()?;
        }
        Ok(sim)
    }

    /// Reads the state stored in `dir`, e.g. to check what a run did.
    pub fn load(dir: &Path) -> Result<SimState> {
        let mut state = SimWorkstation::load_small(dir)?;
        state.place_descriptors(DescriptorLog::read(dir)?);
        for (path, sddl) in std::mem::take(&mut state.legacy_files) {
            state
                .files
                .insert(path, SecurityDescriptor::from_sddl(&sddl, None)?.to_bytes());
        }
        Ok(state)
    }

    fn load_small(dir: &Path) -> Result<SimState> {
        let path = dir.join(STATE_FILE);
        let bytes = fsutil::read_optional(&path)?.ok_or_else(|| Error::Corrupt {
            path: path.clone(),
            reason: "no simulated workstation here; create one first".to_string(),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// The folder it lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current state.
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// Injects faults into this instance only (they are not saved).
    pub fn set_faults(&mut self, faults: SimFaults) {
        self.faults = faults;
    }

    /// Sets how the script of the package `sha256` ends on this device (`None`: it never
    /// finishes), and saves.
    pub fn set_command_outcome(
        &mut self,
        sha256: &str,
        exit_code: Option<i32>,
        output: &str,
    ) -> Result<()> {
        self.state
            .command_outcomes
            .insert(sha256.to_string(), (exit_code, output.to_string()));
        self.save()
    }

    /// Makes the Entra tenant `tenant` accept only the bulk enrollment token `token`, and saves.
    pub fn accept_bulk_token(&mut self, tenant: &str, token: &str) -> Result<()> {
        self.state
            .entra_bulk_tokens
            .insert(tenant.to_lowercase(), sha256_hex(token.as_bytes()));
        self.save()
    }

    /// Makes the enrolment service turn down the next `refusals` enrolment attempts, and saves.
    pub fn refuse_mdm_enrolments(&mut self, refusals: u32) -> Result<()> {
        self.state.mdm_refusals_left = refusals;
        self.save()
    }

    /// Records that `domain` already has a computer account `name`, and saves.
    pub fn add_domain_computer_account(&mut self, domain: &str, name: &str) -> Result<()> {
        self.state
            .domain_computer_accounts
            .insert((domain.to_lowercase(), name.to_uppercase()));
        self.save()
    }

    /// Makes `target` (a domain or tenant) stop answering from this device, and saves.
    pub fn set_unreachable(&mut self, target: &str) -> Result<()> {
        self.state.unreachable.insert(target.to_lowercase());
        self.save()
    }

    /// Makes `process` hold the hive file `path` open for the next `checks` checks (`u32::MAX`:
    /// for good), and saves.
    pub fn hold_hive(&mut self, path: &str, process: &str, checks: u32) -> Result<()> {
        self.state
            .hive_holders
            .insert(path.to_lowercase(), (process.to_string(), checks));
        self.save()
    }

    /// Sets who is logged on at the console, and saves.
    pub fn set_logged_on_user(&mut self, user: Option<String>) -> Result<()> {
        self.state.logged_on_user = user;
        self.save()
    }
}

impl Workstation for SimWorkstation {
    fn facts(&self) -> Result<Facts> {
        let s = &self.state;
        let utc_offset = FixedOffset::east_opt(s.utc_offset_minutes * 60).ok_or_else(|| {
            Error::Device(format!(
                "clock offset {} minutes is out of range",
                s.utc_offset_minutes
            ))
        })?;
        Ok(Facts {
            computer_name: s.computer_name.clone(),
            serial: s.serial.clone(),
            os_edition: s.os_edition,
            os_version: s.os_version.clone(),
            join_state: s.join_state.clone(),
            logged_on_user: s.logged_on_user.clone(),
            utc_offset,
            time_zone: s.time_zone.clone(),
        })
    }

    fn leave_active_directory(&mut self) -> Result<Effect> {
        let effect = match self.state.join_state.clone() {
            JoinState::ActiveDirectory { domain } => {
                self.state.join_state = JoinState::Workgroup;
                // Leaving takes the domain's Domain Admins and Domain Users out of the local
                // groups the join put them in: the local group backup exists to put them back.
                let machine = self.state.machine_sid.clone();
                for members in self.state.local_groups.values_mut() {
                    members.retain(|m| {
                        m.is_in_domain(&machine)
                            || !matches!(m.rid(), Some(DOMAIN_ADMINS) | Some(DOMAIN_USERS))
                            || m.authority() != 5
                    });
                }
                Effect::changed(1, format!("left the domain {}", domain))
            }
            _ => Effect::unchanged("not joined to an Active Directory domain"),
        };
        self.commit("device-state/leave-ad", effect)
    }

    fn leave_entra(&mut self) -> Result<Effect> {
        let effect = match self.state.join_state.clone() {
            JoinState::Entra { tenant } => {
                self.state.join_state = JoinState::Workgroup;
                // Leaving Entra ends the MDM enrolment that came with it.
                self.state.mdm_enrolled = None;
                Effect::changed(1, format!("left the Entra tenant {}", tenant))
            }
            _ => Effect::unchanged("not joined to an Entra tenant"),
        };
        self.commit("device-state/leave-entra", effect)
    }

    fn join_active_directory(&mut self, domain: &str, join: &AdJoin<'_>) -> Result<Effect> {
        if let JoinState::ActiveDirectory { domain: current } = &self.state.join_state {
            if current.eq_ignore_ascii_case(domain) {
                return Ok(Effect::unchanged(format!("already joined to {}", domain)));
            }
        }
        if let JoinState::Entra { tenant } = &self.state.join_state {
            return Err(Error::Device(format!(
                "the device is joined to the Entra tenant {}; leave it before joining {}",
                tenant, domain
            )));
        }
        if join.account.is_empty() || join.password.is_empty() {
            return Err(Error::Device(format!(
                "joining {} needs the join account and its password",
                domain
            )));
        }
        let name = self.state.computer_name.to_uppercase();
        let account = (domain.to_lowercase(), name.clone());
        if self.state.domain_computer_accounts.contains(&account) && !join.reuse_existing {
            // NERR_UserExists from NetJoinDomain: nothing changed, the device stays where it was.
            return Err(Error::Device(format!(
                "{} already has a computer account {}; allow reusing it in the runbook (Device State, Reuse Existing Computer Account) or delete it, then retry. The device stays out of the domain until then",
                domain, name
            )));
        }
        let effect = match self.state.join_state.clone() {
            JoinState::ActiveDirectory { domain: current } => {
                // NETSETUP_DOMAIN_JOIN_IF_JOINED: the device moves without passing a workgroup.
                Effect::changed(1, format!("moved from {} to {}", current, domain))
            }
            _ => Effect::changed(
                1,
                format!(
                    "joined {} as {}{}",
                    domain,
                    name,
                    if join.ou.is_empty() {
                        String::new()
                    } else {
                        format!(" in {}", join.ou)
                    }
                ),
            ),
        };
        self.state.join_state = JoinState::ActiveDirectory {
            domain: domain.to_string(),
        };
        self.state.domain_computer_accounts.insert(account);
        self.commit("device-state/join-ad", effect)
    }

    fn join_entra_with_token(&mut self, tenant: &str, token: &BulkToken) -> Result<Effect> {
        self.require("join_entra_with_token")?;
        let used = sha256_hex(token.0.as_bytes());
        let refused = self
            .state
            .entra_bulk_tokens
            .get(&tenant.to_lowercase())
            .map_or(token.0.trim().is_empty(), |accepted| *accepted != used);
        if refused
            && !matches!(&self.state.join_state, JoinState::Entra { tenant: t } if t.eq_ignore_ascii_case(tenant))
        {
            return Err(Error::Device(format!(
                "the Entra tenant {} refused the bulk enrollment token; nothing was changed",
                tenant
            )));
        }
        let effect = self.sim_join_entra(tenant)?;
        if effect.changes > 0 {
            self.state.entra_join_token = Some(used);
        }
        self.commit("device-state/join-entra", effect)
    }

    fn joins_entra_with_package(&self) -> bool {
        self.state.entra_join_by_package
    }

    fn join_entra_with_package(&mut self, tenant: &str, p: &ProvisioningPackage) -> Result<Effect> {
        self.sim_join_entra_with_package(tenant, p)
    }

    fn list_sids(&self) -> Result<BTreeSet<Sid>> {
        let s = &self.state;
        let mut sids: BTreeSet<Sid> = s.profile_list.keys().cloned().collect();
        for (path, bytes) in s.files.iter().chain(s.area_objects.iter()) {
            descriptor_sids(path, bytes, &mut sids)?;
        }
        sids.extend(s.user_rights.values().flatten().cloned());
        sids.extend(s.local_groups.values().flatten().cloned());
        if let Some(groups) = &s.backups.local_groups {
            sids.extend(groups.values().flatten().cloned());
        }
        sids.extend(s.appx.keys().cloned());
        sids.extend(s.service_accounts.values().cloned());
        sids.extend(s.task_principals.values().map(|p| p.account.clone()));
        if let Some(appx) = &s.backups.appx {
            sids.extend(appx.keys().cloned());
        }
        Ok(sids)
    }

    fn update_permissions(
        &mut self,
        area: PermissionArea,
        map: &SidMap,
        options: &TranslateOptions,
    ) -> Result<Effect> {
        let (step, effect) = match area {
            PermissionArea::WindowsProfiles => (
                "permissions/windows-profiles",
                self.translate_profiles(map, options)?,
            ),
            PermissionArea::FileSystem => (
                "permissions/file-system",
                self.translate_files(map, options)?,
            ),
            PermissionArea::LocalGroups => (
                "permissions/local-groups",
                self.translate_groups(map, options.mode)?,
            ),
        };
        self.commit(step, effect)
    }

    fn local_group_members(&self) -> Result<BTreeMap<String, Vec<Sid>>> {
        Ok(self.state.local_groups.clone())
    }

    fn harvest_profiles(&self) -> Result<Vec<UserProfile>> {
        Ok(self
            .state
            .profile_list
            .iter()
            .map(|(sid, entry)| UserProfile {
                sid: sid.clone(),
                path: entry.profile_image_path.clone(),
                last_used: entry.last_used,
            })
            .collect())
    }

    fn suspend_bitlocker(&mut self) -> Result<Effect> {
        let b = &mut self.state.bitlocker;
        let effect = if !b.encrypted {
            Effect::unchanged("the OS volume is not encrypted")
        } else if b.protectors_suspended {
            Effect::unchanged("BitLocker protectors are already suspended")
        } else {
            b.protectors_suspended = true;
            Effect::changed(1, "suspended BitLocker protectors")
        };
        self.commit("startup/suspend-bitlocker", effect)
    }

    fn resume_bitlocker(&mut self) -> Result<Effect> {
        let b = &mut self.state.bitlocker;
        let effect = if b.encrypted && b.protectors_suspended {
            b.protectors_suspended = false;
            Effect::changed(1, "resumed BitLocker protectors")
        } else {
            Effect::unchanged("BitLocker protectors are not suspended")
        };
        self.commit("completion/resume-bitlocker", effect)
    }

    fn backup_legal_notice(&mut self) -> Result<Effect> {
        let s = &mut self.state;
        // An existing copy is the original: a re-run must not replace it with the migration notice.
        let effect = if s.backups.legal_notice.is_some() {
            Effect::unchanged("the legal notice is already kept")
        } else {
            s.backups.legal_notice = Some(s.legal_notice.clone());
            s.legal_notice = LegalNotice {
                caption: "Migration in progress".to_string(),
                text: "This computer is moving to a new directory. Please wait before signing in."
                    .to_string(),
            };
            Effect::changed(1, "kept the legal notice and showed the migration notice")
        };
        self.commit("startup/backup-legal-notice", effect)
    }

    fn restore_legal_notice(&mut self) -> Result<Effect> {
        let s = &mut self.state;
        let effect = match s.backups.legal_notice.take() {
            Some(notice) => {
                s.legal_notice = notice;
                Effect::changed(1, "restored the legal notice")
            }
            None => Effect::unchanged("no kept legal notice to restore"),
        };
        self.commit("completion/restore-legal-notice", effect)
    }

    fn backup_local_groups(&mut self) -> Result<Effect> {
        let s = &mut self.state;
        let effect = if s.backups.local_groups.is_some() {
            Effect::unchanged("local group members are already kept")
        } else {
            s.backups.local_groups = Some(s.local_groups.clone());
            Effect::changed(
                1,
                format!(
                    "kept the members of {} local group(s)",
                    s.local_groups.len()
                ),
            )
        };
        self.commit("startup/backup-local-groups", effect)
    }

    fn restore_local_groups(&mut self, map: &SidMap) -> Result<Effect> {
        let s = &mut self.state;
        let mut changes = 0;
        if let Some(kept) = s.backups.local_groups.take() {
            for (group, members) in kept {
                let current = s.local_groups.entry(group).or_default();
                for member in members {
                    let wanted = map.get(&member).cloned().unwrap_or(member);
                    if !current.contains(&wanted) {
                        current.push(wanted);
                        changes += 1;
                    }
                }
            }
        }
        let effect = if changes == 0 {
            Effect::unchanged("no local group member was missing")
        } else {
            Effect::changed(
                changes,
                format!("put back {} local group member(s)", changes),
            )
        };
        self.commit("completion/restore-local-groups", effect)
    }

    fn backup_appx(&mut self) -> Result<Effect> {
        let s = &mut self.state;
        let effect = if s.backups.appx.is_some() {
            Effect::unchanged("AppX packages are already kept")
        } else {
            s.backups.appx = Some(s.appx.clone());
            Effect::changed(
                1,
                format!("kept the AppX packages of {} user(s)", s.appx.len()),
            )
        };
        self.commit("startup/backup-appx", effect)
    }

    fn restore_appx(&mut self, map: &SidMap) -> Result<Effect> {
        let s = &mut self.state;
        let mut changes = 0;
        if let Some(kept) = s.backups.appx.take() {
            for (sid, packages) in kept {
                let owner = map.get(&sid).cloned().unwrap_or(sid);
                let registered = s.appx.entry(owner).or_default();
                for package in packages {
                    if !registered.contains(&package) {
                        registered.push(package);
                        changes += 1;
                    }
                }
            }
        }
        let effect = if changes == 0 {
            Effect::unchanged("every kept AppX package is registered")
        } else {
            Effect::changed(changes, format!("registered {} AppX package(s)", changes))
        };
        self.commit("completion/restore-appx", effect)
    }

    fn securable_objects(&self, area: Area) -> Result<Vec<String>> {
        self.sim_securable_objects(area)
    }

    fn read_descriptor(&self, area: Area, object: &str) -> Result<Vec<u8>> {
        self.sim_read_descriptor(area, object)
    }

    fn write_descriptor(
        &mut self,
        area: Area,
        object: &str,
        descriptor: &[u8],
        parts: SecurityParts,
    ) -> Result<()> {
        self.sim_write_descriptor(area, object, descriptor, parts)
    }

    fn environment_variable(&self, name: &str) -> Result<Option<String>> {
        self.sim_environment_variable(name)
    }

    fn registry_value(&self, key: &str, name: &str) -> Result<Option<RegValue>> {
        self.sim_registry_value(key, name)
    }

    fn registry_value_names(&self, key: &str) -> Result<Vec<String>> {
        self.sim_registry_value_names(key)
    }

    fn registry_subkeys(&self, key: &str) -> Result<Vec<String>> {
        self.sim_registry_subkeys(key)
    }

    fn set_registry_value(&mut self, key: &str, name: &str, value: &RegValue) -> Result<bool> {
        self.sim_set_registry_value(key, name, value)
    }

    fn delete_registry_value(&mut self, key: &str, name: &str) -> Result<bool> {
        self.sim_delete_registry_value(key, name)
    }

    fn delete_registry_key(&mut self, key: &str) -> Result<bool> {
        self.sim_delete_registry_key(key)
    }

    fn grant_user_right(&mut self, right: &str, sid: &Sid) -> Result<bool> {
        self.sim_grant_user_right(right, sid)
    }

    fn revoke_user_right(&mut self, right: &str, sid: &Sid) -> Result<bool> {
        self.sim_revoke_user_right(right, sid)
    }

    fn user_rights(&self) -> Result<Vec<String>> {
        self.sim_user_rights()
    }

    fn user_right_holders(&self, right: &str) -> Result<BTreeSet<Sid>> {
        self.sim_user_right_holders(right)
    }

    fn create_local_administrator(&mut self, name: &str, password: &str) -> Result<bool> {
        self.sim_create_local_administrator(name, password)
    }

    fn delete_local_user(&mut self, name: &str) -> Result<bool> {
        self.sim_delete_local_user(name)
    }

    fn local_user_exists(&self, name: &str) -> Result<bool> {
        self.sim_local_user_exists(name)
    }

    fn rename_computer(&mut self, name: &str) -> Result<bool> {
        model::rename::check_name(name)
            .map_err(|e| Error::Device(format!("cannot rename the computer: {}", e)))?;
        self.mutate("rename_computer", |s| {
            if s.computer_name.eq_ignore_ascii_case(name) {
                return false;
            }
            s.computer_name = name.to_string();
            true
        })
    }

    fn write_legal_notice(&mut self, caption: &str, text: &str) -> Result<bool> {
        self.mutate("write_legal_notice", |s| {
            if s.legal_notice.caption == caption && s.legal_notice.text == text {
                return false;
            }
            s.legal_notice = LegalNotice {
                caption: caption.to_string(),
                text: text.to_string(),
            };
            true
        })
    }

    fn remove_tree(&mut self, path: &str) -> Result<usize> {
        self.sim_remove_tree(path)
    }

    fn connect_share(&mut self, unc: &str, account: &str, password: &str) -> Result<()> {
        self.sim_connect_share(unc, account, password)
    }

    fn disconnect_share(&mut self, unc: &str) -> Result<()> {
        self.sim_disconnect_share(unc)
    }

    fn list_files(&self, folder: &str) -> Result<Vec<String>> {
        self.sim_list_files(folder)
    }

    fn file_attributes(&self, path: &str) -> Result<Option<u32>> {
        self.sim_file_attributes(path)
    }

    fn dehydrate(&mut self, path: &str) -> Result<bool> {
        self.sim_dehydrate(path)
    }

    fn move_file(&mut self, from: &str, to: &str) -> Result<()> {
        self.sim_move_file(from, to)
    }

    fn run_command_package(
        &mut self,
        sha256: &str,
        zip: &[u8],
        _timeout: std::time::Duration,
    ) -> Result<CommandOutcome> {
        self.require("run_command_package")?;
        let entries = crate::package::entries(sha256, zip)?.len();
        let (exit_code, output) = self
            .state
            .command_outcomes
            .get(sha256)
            .cloned()
            .unwrap_or((Some(0), String::new()));
        self.state.command_runs.push((sha256.to_string(), entries));
        self.save()?;
        Ok(CommandOutcome { exit_code, output })
    }

    fn enroll_mdm(&mut self) -> Result<bool> {
        self.require("enroll_mdm")?;
        let tenant = match &self.state.join_state {
            JoinState::Entra { tenant } => tenant.clone(),
            other => {
                return Err(Error::Device(format!(
                    "MDM enrolment needs the device joined to Entra; it is {:?}",
                    other
                )))
            }
        };
        if self.state.mdm_enrolled.as_deref() == Some(tenant.as_str()) {
            return Ok(true);
        }
        if self.state.mdm_refusals_left > 0 {
            self.state.mdm_refusals_left -= 1;
            self.save()?;
            return Ok(false);
        }
        self.state.mdm_enrolled = Some(tenant);
        self.save()?;
        Ok(true)
    }

    fn write_event_log(&mut self, level: EventLevel, message: &str) -> Result<()> {
        self.require("write_event_log")?;
        let line = format!("{:?}\t{}", level, message.replace('\n', " "));
        crate::fsutil::append_line(&self.dir.join(EVENT_LOG_FILE), line.as_bytes())
    }

    fn uninstall_agent(&mut self) -> Result<()> {
        self.require("uninstall_agent")?;
        self.state.agent_installed = false;
        self.save()
    }

    fn join_active_directory_offline(&mut self, domain: &str, blob: &[u8]) -> Result<Effect> {
        self.require("join_active_directory_offline")?;
        if let JoinState::ActiveDirectory { domain: current } = &self.state.join_state {
            if current.eq_ignore_ascii_case(domain) {
                return Ok(Effect::unchanged(format!("already joined to {}", domain)));
            }
        }
        if let JoinState::Entra { tenant } = &self.state.join_state {
            return Err(Error::Device(format!(
                "the device is joined to the Entra tenant {}; leave it before joining {}",
                tenant, domain
            )));
        }
        // The blob names its domain (as UTF-16 in a real ODJ_PROVISION_DATA, or as text).
        let wanted = domain.to_lowercase();
        let utf16: Vec<u8> = wanted
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let lower: Vec<u8> = blob.iter().map(|b| b.to_ascii_lowercase()).collect();
        let names_it = !wanted.is_empty()
            && (lower.windows(wanted.len()).any(|w| w == wanted.as_bytes())
                || lower.windows(utf16.len()).any(|w| w == utf16.as_slice()));
        if blob.is_empty() || !names_it {
            return Err(Error::Device(format!(
                "the offline join blob is not for {}; nothing was changed",
                domain
            )));
        }
        let name = self.state.computer_name.to_uppercase();
        let from = self.state.join_state.clone();
        self.state
            .domain_computer_accounts
            .insert((domain.to_lowercase(), name));
        self.state.join_state = JoinState::ActiveDirectory {
            domain: domain.to_string(),
        };
        self.save()?;
        Ok(Effect::changed(
            1,
            format!(
                "joined {} offline from the server's blob (was {:?}); it takes effect at the next restart",
                domain, from
            ),
        ))
    }

    fn service_accounts(&self) -> Result<Vec<(String, Sid)>> {
        self.sim_service_accounts()
    }

    fn set_service_account(&mut self, service: &str, account: &Sid) -> Result<bool> {
        self.sim_set_service_account(service, account)
    }

    fn task_principals(&self) -> Result<Vec<(String, TaskPrincipal)>> {
        self.sim_task_principals()
    }

    fn set_task_principal(&mut self, task: &str, principal: &TaskPrincipal) -> Result<bool> {
        self.sim_set_task_principal(task, principal)
    }

    fn prompt_credentials(
        &mut self,
        _title: &str,
        _message: &str,
    ) -> Result<Option<EnteredCredentials>> {
        self.sim_prompt_credentials()
    }

    fn cache_logon(&mut self, domain: &str, username: &str, password: &str) -> Result<bool> {
        self.sim_cache_logon(domain, username, password)
    }

    fn directory_reachable(&self, target: &str) -> Result<bool> {
        self.require("directory_reachable")?;
        Ok(!self.state.unreachable.contains(&target.to_lowercase()))
    }

    fn computer_account_exists(&self, domain: &str, name: &str, join: &AdJoin<'_>) -> Result<bool> {
        self.require("computer_account_exists")?;
        if join.account.is_empty() || join.password.is_empty() {
            return Err(Error::Device(format!(
                "looking up computer accounts in {} needs the join account and its password",
                domain
            )));
        }
        Ok(self
            .state
            .domain_computer_accounts
            .contains(&(domain.to_lowercase(), name.to_uppercase())))
    }

    fn hive_holder(&self, path: &str) -> Result<Option<String>> {
        self.require("hive_holder")?;
        let key = path.to_lowercase();
        let (process, checks) = match self.state.hive_holders.get(&key) {
            Some(holder) => holder.clone(),
            None => return Ok(None),
        };
        let mut asked = self.hive_checks.borrow_mut();
        let asked = asked.entry(key).or_insert(0);
        if checks != u32::MAX && *asked >= checks {
            return Ok(None);
        }
        *asked += 1;
        Ok(Some(process))
    }

    fn profile_conditions(&self) -> Result<Vec<ProfileCondition>> {
        self.sim_profile_conditions()
    }

    fn user_processes(&self) -> Result<Vec<(String, Sid)>> {
        self.sim_user_processes()
    }

    fn bitlocker_state(&self) -> Result<BitLockerState> {
        self.sim_bitlocker_state()
    }

    fn tpm_version(&self) -> Result<Option<String>> {
        self.sim_tpm_version()
    }

    fn system_volume(&self) -> Result<SystemVolume> {
        self.sim_system_volume()
    }

    fn endpoint_reachable(&self, url: &str) -> Result<bool> {
        self.sim_endpoint_reachable(url)
    }

    fn interfering_software(&self) -> Result<Vec<Interference>> {
        self.sim_interfering_software()
    }

    fn pending_reboot(&self) -> Result<Option<String>> {
        self.sim_pending_reboot()
    }

    fn on_battery(&self) -> Result<Option<u8>> {
        self.sim_on_battery()
    }

    fn schedule_restart(&mut self, minutes: u32, message: &str) -> Result<bool> {
        self.sim_schedule_restart(minutes, message)
    }

    fn check_restart(&self) -> Result<()> {
        self.require("schedule_restart")
    }

    fn cancel_restart(&mut self) -> Result<bool> {
        self.sim_cancel_restart()
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        self.sim_read_file(path)
    }

    fn write_file(&mut self, path: &str, bytes: &[u8]) -> Result<bool> {
        self.sim_write_file(path, bytes)
    }

    fn move_profile(&mut self, source: &Sid, target: &Sid) -> Result<bool> {
        self.sim_move_profile(source, target)
    }

    fn load_user_hive(&mut self, sid: &Sid, file: &str) -> Result<bool> {
        self.sim_load_user_hive(sid, file)
    }

    fn unload_user_hive(&mut self, sid: &Sid) -> Result<bool> {
        self.sim_unload_user_hive(sid)
    }

    fn add_local_group_member(&mut self, group: &str, member: &Sid) -> Result<bool> {
        self.sim_add_local_group_member(group, member)
    }

    fn remove_local_group_member(&mut self, group: &str, member: &Sid) -> Result<bool> {
        self.sim_remove_local_group_member(group, member)
    }

    fn bitlocker_status(&self) -> Result<BitLockerStatus> {
        self.sim_bitlocker_status()
    }

    fn set_bitlocker_protectors(&mut self, enabled: bool) -> Result<bool> {
        self.sim_set_bitlocker_protectors(enabled)
    }

    fn appx_packages(&self) -> Result<BTreeMap<Sid, Vec<String>>> {
        self.sim_appx_packages()
    }

    fn register_appx(&mut self, user: &Sid, package: &str) -> Result<bool> {
        self.sim_register_appx(user, package)
    }

    fn checkpoint(&mut self, step: &str, changes: usize) -> Result<()> {
        if changes > 0 {
            *self.state.actions.entry(step.to_string()).or_insert(0) += 1;
        }
        self.save()?;
        if self.faults.crash_after_step.as_deref() == Some(step) {
            panic!("simulated crash after {}", step);
        }
        Ok(())
    }

    fn reset_windows_hello(&mut self) -> Result<Effect> {
        self.require("reset_windows_hello")?;
        let s = &mut self.state;
        let effect = if s.hello_containers.is_empty() {
            Effect::unchanged("no Windows Hello container")
        } else {
            let n = s.hello_containers.len();
            s.hello_containers.clear();
            Effect::changed(n, format!("removed {} Windows Hello container(s)", n))
        };
        self.commit("device-state/reset-windows-hello", effect)
    }
}

#[cfg(test)]
mod tests;
