//! The real workstation: the `Workstation` primitives on Win32. What this agent does not carry
//! out on Windows yet fails with an error naming the primitive, so its step fails and the run
//! ends in Error; nothing is ever reported done that was not done.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use agent::readiness::device::{
    BitLockerState, Interference, InterferenceKind, ProfileCondition, SystemVolume,
};
use agent::workstation::AdJoin;
use agent::{CommandOutcome, Effect, Error, Facts, RegValue, Result, SecurityParts, Workstation};
use chrono::FixedOffset;
use model::plan::{JoinState, PermissionArea};
use model::protocol::{ProvisioningPackage, UserProfile};
use model::runbook::Area;
use model::status::EventLevel;
use secdesc::translate::{SidMap, TranslateOptions};
use secdesc::Sid;
use windows_sys::Win32::Security::{
    DACL_SECURITY_INFORMATION, GROUP_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PROTECTED_SACL_SECURITY_INFORMATION,
    SACL_SECURITY_INFORMATION, UNPROTECTED_DACL_SECURITY_INFORMATION,
    UNPROTECTED_SACL_SECURITY_INFORMATION,
};

use super::cache_logon;
use super::eventlog::EventLog;
use super::profiles::PROFILE_LIST;
use super::registry::{self, Key};
use super::sys::{Sys, Win32};
use super::{
    accounts, areas, bitlocker, files, groups, holders, join, lsa, mdm, profiles, readiness,
    restart, security, services, shares, system, unsupported,
};
use crate::keys::{KeyName, Root};
use crate::pipe::credentials::CredentialDesk;

const POLICIES_SYSTEM: &str =
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System";
/// Where the agent keeps what it must put back at Completion.
pub const BACKUP_KEY: &str = "HKLM\\SOFTWARE\\rehome\\Agent\\Backup";
/// The roots whose keys the Registry area re-permissions, besides every user's hive.
const REGISTRY_ROOTS: &[&str] = &["HKLM\\SOFTWARE"];

/// SE_DACL_PROTECTED and SE_SACL_PROTECTED in a descriptor's control word.
const SE_DACL_PROTECTED: u16 = 0x1000;
const SE_SACL_PROTECTED: u16 = 0x2000;

/// The Windows device this agent runs on.
pub struct WindowsWorkstation {
    /// Hives this agent loaded under `HKU`, unloaded when it is dropped.
    loaded_hives: RefCell<Vec<String>>,
    event_log: Option<EventLog>,
    /// The calls Wine does not implement (see [`Sys`]): Win32 in the service.
    sys: Box<dyn Sys>,
    /// Where the Cache Credentials dialog goes to the tray, when the service serves its pipe.
    desk: Option<CredentialDesk>,
}

impl WindowsWorkstation {
    /// The workstation, with the privileges the primitives need enabled where the account holds
    /// them (the service's LocalSystem holds all of them).
    pub fn open() -> WindowsWorkstation {
        WindowsWorkstation::with_sys(Box::new(Win32))
    }

    /// The workstation making the calls of [`Sys`] through `sys`: the tests' recording double.
    pub(super) fn with_sys(sys: Box<dyn Sys>) -> WindowsWorkstation {
        for privilege in [
            "SeBackupPrivilege",
            "SeRestorePrivilege",
            "SeSecurityPrivilege",
            "SeTakeOwnershipPrivilege",
        ] {
            // An account without one gets the call's own error where it is needed.
            let _ = security::enable_privilege(privilege);
        }
        WindowsWorkstation {
            loaded_hives: RefCell::new(Vec::new()),
            event_log: None,
            sys,
            desk: None,
        }
    }

    /// The workstation asking the signed-in user for credentials through `desk`.
    pub fn with_credential_desk(mut self, desk: CredentialDesk) -> WindowsWorkstation {
        self.desk = Some(desk);
        self
    }

    /// The user profiles of ProfileList: SID, profile folder.
    fn profile_list(&self) -> Result<Vec<(Sid, String)>> {
        let list = KeyName::parse(PROFILE_LIST)?;
        let key = match registry::open(&list, registry::READ)? {
            Some(k) => k,
            None => return Ok(Vec::new()),
        };
        let mut profiles = Vec::new();
        for name in key.subkeys()? {
            // Only accounts: not SYSTEM, LOCAL SERVICE and NETWORK SERVICE (S-1-5-18/19/20).
            let sid = match name.parse::<Sid>() {
                Ok(sid) if name.starts_with("S-1-5-21-") || name.starts_with("S-1-12-1-") => sid,
                _ => continue,
            };
            let entry = match registry::open(&list.child(&name), registry::READ)? {
                Some(k) => k,
                None => continue,
            };
            let path = match entry.value("ProfileImagePath")? {
                Some(RegValue::Sz(p)) | Some(RegValue::ExpandSz(p)) => system::expand(&p)?,
                _ => continue,
            };
            profiles.push((sid, path));
        }
        Ok(profiles)
    }

    /// Makes sure the hive of a `HKU\<SID>\…` key is loaded: a user who is not logged on has it
    /// only in `NTUSER.DAT` of the profile folder (`RegLoadKeyW`).
    fn ensure_hive(&self, key: &KeyName) -> Result<()> {
        let (hive, _) = match key.user_hive() {
            Some(h) => h,
            None => return Ok(()),
        };
        let hive_key = KeyName {
            root: Root::Users,
            path: hive.to_string(),
        };
        if registry::open(&hive_key, registry::READ_CONTROL)?.is_some() {
            return Ok(());
        }
        let sid = match hive.parse::<Sid>() {
            Ok(sid) => sid,
            // `HKU\.DEFAULT`, `HKU\<SID>_Classes`: only loaded hives are reachable.
            Err(_) => return Ok(()),
        };
        let path = match self.profile_list()?.into_iter().find(|(s, _)| *s == sid) {
            Some((_, path)) => path,
            None => return Ok(()),
        };
        let file = Path::new(&path).join("NTUSER.DAT");
        if !file.exists() {
            return Err(Error::Device(format!(
                "the hive of {} is not loaded and {} does not exist",
                sid,
                file.display()
            )));
        }
        registry::load_user_hive(hive, &file.to_string_lossy())?;
        self.loaded_hives.borrow_mut().push(hive.to_string());
        Ok(())
    }

    fn open_key(&self, key: &str, access: u32) -> Result<Option<Key>> {
        let name = KeyName::parse(key)?;
        self.ensure_hive(&name)?;
        registry::open(&name, access)
    }

    fn create_key(&self, key: &str, access: u32) -> Result<Key> {
        let name = KeyName::parse(key)?;
        self.ensure_hive(&name)?;
        registry::create(&name, access)
    }

    /// Every key under `root`, depth first, `root` included.
    fn walk_keys(&self, root: &KeyName, out: &mut Vec<String>) -> Result<()> {
        let key = match registry::open(root, registry::READ)? {
            Some(k) => k,
            None => return Ok(()),
        };
        let mut subkeys = match key.subkeys() {
            Ok(s) => s,
            // A virtual key (performance counter text) holds no descriptor and no subkeys.
            Err(e) if registry::is_virtual_key_error(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        out.push(root.full());
        drop(key);
        subkeys.sort_by_key(|s| s.to_lowercase());
        for sub in subkeys {
            self.walk_keys(&root.child(&sub), out)?;
        }
        Ok(())
    }

    fn registry_string(&self, key: &str, name: &str) -> Result<Option<String>> {
        Ok(match self.registry_value(key, name)? {
            Some(RegValue::Sz(s)) | Some(RegValue::ExpandSz(s)) => Some(s),
            _ => None,
        })
    }

    fn entra_tenant(&self) -> Result<Option<String>> {
        Ok(self.sys.entra_join()?.map(|join| join.tenant_id))
    }

    /// The calls Wine does not implement, for the primitives kept in modules of their own.
    pub(super) fn sys(&self) -> &dyn Sys {
        &*self.sys
    }
}

impl Drop for WindowsWorkstation {
    fn drop(&mut self) {
        for hive in self.loaded_hives.borrow_mut().drain(..) {
            // A hive still in use stays loaded until the next reboot; nothing is lost.
            let _ = registry::unload_user_hive(&hive);
        }
    }
}

fn parts_info(parts: SecurityParts, control: u16) -> u32 {
    let mut info = 0;
    if parts.owner {
        info |= OWNER_SECURITY_INFORMATION;
    }
    if parts.group {
        info |= GROUP_SECURITY_INFORMATION;
    }
    if parts.dacl {
        info |= DACL_SECURITY_INFORMATION;
        info |= if control & SE_DACL_PROTECTED != 0 {
            PROTECTED_DACL_SECURITY_INFORMATION
        } else {
            UNPROTECTED_DACL_SECURITY_INFORMATION
        };
    }
    if parts.sacl {
        info |= SACL_SECURITY_INFORMATION;
        info |= if control & SE_SACL_PROTECTED != 0 {
            PROTECTED_SACL_SECURITY_INFORMATION
        } else {
            UNPROTECTED_SACL_SECURITY_INFORMATION
        };
    }
    info
}

/// Counts the files and folders under `path`, `path` included.
fn count_tree(path: &Path) -> std::io::Result<usize> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(1);
    }
    let mut n = 1;
    for entry in std::fs::read_dir(path)? {
        n += count_tree(&entry?.path())?;
    }
    Ok(n)
}

fn collect_files(path: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(path).map_err(|e| Error::Io {
        what: "listing",
        path: path.to_path_buf(),
        source: e,
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io {
            what: "listing",
            path: path.to_path_buf(),
            source: e,
        })?;
        let p = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            collect_files(&p, out)?;
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

impl Workstation for WindowsWorkstation {
    fn facts(&self) -> Result<Facts> {
        let (os_edition, os_version) = readiness::os()?;
        let join_state = match self.sys.joined_domain()? {
            Some(domain) => JoinState::ActiveDirectory { domain },
            None => match self.entra_tenant()? {
                Some(tenant) => JoinState::Entra { tenant },
                None => JoinState::Workgroup,
            },
        };
        let (zone, minutes) = system::time_zone()?;
        let utc_offset = FixedOffset::east_opt(minutes * 60).ok_or_else(|| {
            Error::Device(format!("the clock's UTC offset of {} minutes", minutes))
        })?;
        Ok(Facts {
            computer_name: system::computer_name()?,
            serial: system::firmware_serial().ok().flatten().unwrap_or_default(),
            os_edition,
            os_version,
            join_state,
            logged_on_user: system::console_user()?,
            utc_offset,
            time_zone: crate::time_zones::iana(&zone).map(str::to_string),
        })
    }

    fn leave_active_directory(&mut self) -> Result<Effect> {
        join::leave(&*self.sys)
    }

    fn leave_entra(&mut self) -> Result<Effect> {
        match self.entra_tenant()? {
            None => Ok(Effect::unchanged("the device is not joined to Entra")),
            Some(_) => Err(unsupported("dsregcmd /leave")),
        }
    }

    fn join_active_directory(&mut self, domain: &str, ad: &AdJoin<'_>) -> Result<Effect> {
        join::join(&*self.sys, domain, ad)
    }

    fn join_active_directory_offline(&mut self, domain: &str, blob: &[u8]) -> Result<Effect> {
        join::join_offline(&*self.sys, domain, blob)
    }

    fn joins_entra_with_package(&self) -> bool {
        true
    }

    fn join_entra_with_package(
        &mut self,
        tenant: &str,
        package: &ProvisioningPackage,
    ) -> Result<Effect> {
        super::entra::join(self, tenant, package)
    }

    fn list_sids(&self) -> Result<BTreeSet<Sid>> {
        let mut sids: BTreeSet<Sid> = self
            .profile_list()?
            .into_iter()
            .map(|(sid, _)| sid)
            .collect();
        // Members of the local groups, and those kept before the device left its domain (which
        // took the domain's groups out of them): restored at Completion as their translations.
        sids.extend(groups::all_members(&*self.sys)?);
        let kept = agent::run::local_groups::GROUPS_BACKUP;
        for group in self.registry_value_names(kept)? {
            if let Some(RegValue::MultiSz(members)) = self.registry_value(kept, &group)? {
                sids.extend(members.iter().filter_map(|m| m.parse::<Sid>().ok()));
            }
        }
        Ok(sids)
    }

    fn update_permissions(
        &mut self,
        area: PermissionArea,
        map: &SidMap,
        options: &TranslateOptions,
    ) -> Result<Effect> {
        // The portable decisions over this workstation's primitives, as the phase engine runs
        // them.
        match area {
            PermissionArea::WindowsProfiles => {
                agent::run::profiles::move_profiles(self, map, options)
            }
            PermissionArea::FileSystem => agent::permissions::update_area(
                self,
                Area::FileSystem,
                map,
                options,
                &agent::permissions::IgnoreList::default(),
            ),
            PermissionArea::LocalGroups => {
                agent::run::local_groups::translate_members(self, map, options.mode)
            }
        }
    }

    fn local_group_members(&self) -> Result<BTreeMap<String, Vec<Sid>>> {
        groups::members(&*self.sys)
    }

    fn harvest_profiles(&self) -> Result<Vec<UserProfile>> {
        Ok(self
            .profile_list()?
            .into_iter()
            .map(|(sid, path)| UserProfile {
                sid,
                path,
                last_used: None,
            })
            .collect())
    }

    fn suspend_bitlocker(&mut self) -> Result<Effect> {
        agent::run::defaults::suspend_bitlocker(self)
    }

    fn resume_bitlocker(&mut self) -> Result<Effect> {
        agent::run::defaults::resume_bitlocker(self)
    }

    fn bitlocker_status(&self) -> Result<agent::BitLockerStatus> {
        bitlocker::status(&*self.sys)
    }

    fn set_bitlocker_protectors(&mut self, enabled: bool) -> Result<bool> {
        bitlocker::set_protectors(&*self.sys, enabled)
    }

    fn backup_legal_notice(&mut self) -> Result<Effect> {
        // An existing copy is the original: a re-run must not replace it with the migration notice.
        if self
            .registry_value(BACKUP_KEY, "LegalNoticeKept")?
            .is_some()
        {
            return Ok(Effect::unchanged("the legal notice is already kept"));
        }
        for name in ["legalnoticecaption", "legalnoticetext"] {
            let value = self
                .registry_string(POLICIES_SYSTEM, name)?
                .unwrap_or_default();
            self.set_registry_value(BACKUP_KEY, name, &RegValue::Sz(value))?;
        }
        self.set_registry_value(BACKUP_KEY, "LegalNoticeKept", &RegValue::Dword(1))?;
        self.write_legal_notice(
            "Migration in progress",
            "This computer is moving to a new directory. Please wait before signing in.",
        )?;
        Ok(Effect::changed(
            1,
            "kept the legal notice and showed the migration notice",
        ))
    }

    fn restore_legal_notice(&mut self) -> Result<Effect> {
        if self
            .registry_value(BACKUP_KEY, "LegalNoticeKept")?
            .is_none()
        {
            return Ok(Effect::unchanged("no kept legal notice to restore"));
        }
        let caption = self
            .registry_string(BACKUP_KEY, "legalnoticecaption")?
            .unwrap_or_default();
        let text = self
            .registry_string(BACKUP_KEY, "legalnoticetext")?
            .unwrap_or_default();
        self.write_legal_notice(&caption, &text)?;
        for name in ["legalnoticecaption", "legalnoticetext", "LegalNoticeKept"] {
            self.delete_registry_value(BACKUP_KEY, name)?;
        }
        Ok(Effect::changed(1, "restored the legal notice"))
    }

    fn backup_local_groups(&mut self) -> Result<Effect> {
        agent::run::local_groups::backup(self)
    }

    fn restore_local_groups(&mut self, map: &SidMap) -> Result<Effect> {
        agent::run::local_groups::restore(self, map)
    }

    fn backup_appx(&mut self) -> Result<Effect> {
        super::appx::backup(BACKUP_KEY)
    }

    fn restore_appx(&mut self, map: &SidMap) -> Result<Effect> {
        super::appx::restore(BACKUP_KEY, map)
    }

    fn reset_windows_hello(&mut self) -> Result<Effect> {
        self.sys.reset_windows_hello()
    }

    fn securable_objects(&self, area: Area) -> Result<Vec<String>> {
        if area != Area::Registry {
            return areas::objects(area);
        }
        let mut keys = Vec::new();
        for root in REGISTRY_ROOTS {
            self.walk_keys(&KeyName::parse(root)?, &mut keys)?;
        }
        for (sid, _) in self.profile_list()? {
            let hive = KeyName {
                root: Root::Users,
                path: sid.to_string(),
            };
            self.ensure_hive(&hive)?;
            self.walk_keys(&hive, &mut keys)?;
        }
        Ok(keys)
    }

    fn read_descriptor(&self, area: Area, object: &str) -> Result<Vec<u8>> {
        if area != Area::Registry {
            return areas::read(&*self.sys, area, object);
        }
        let with_sacl = registry::READ_CONTROL | registry::ACCESS_SYSTEM_SECURITY;
        // Without SeSecurityPrivilege the SACL cannot be read: the rest still can.
        let (key, sacl) = match self.open_key(object, with_sacl) {
            Ok(k) => (k, true),
            Err(e) if registry::is_privilege_error(&e) => {
                (self.open_key(object, registry::READ_CONTROL)?, false)
            }
            Err(e) => return Err(e),
        };
        match key {
            Some(k) => k.security(sacl),
            None => Err(Error::NotFound(object.to_string())),
        }
    }

    fn write_descriptor(
        &mut self,
        area: Area,
        object: &str,
        descriptor: &[u8],
        parts: SecurityParts,
    ) -> Result<()> {
        if parts.is_empty() {
            return Ok(());
        }
        let control = descriptor
            .get(2..4)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .ok_or_else(|| Error::Device(format!("the descriptor for {} is truncated", object)))?;
        if area != Area::Registry {
            return areas::write(
                &*self.sys,
                area,
                object,
                descriptor,
                parts_info(parts, control),
                parts,
            );
        }
        let mut access = 0;
        if parts.owner || parts.group {
            access |= registry::WRITE_OWNER;
        }
        if parts.dacl {
            access |= registry::WRITE_DAC;
        }
        if parts.sacl {
            access |= registry::ACCESS_SYSTEM_SECURITY;
        }
        let key = self
            .open_key(object, access)?
            .ok_or_else(|| Error::NotFound(object.to_string()))?;
        key.set_security(parts_info(parts, control), descriptor)?;
        drop(key);
        let back = self.read_descriptor(area, object)?;
        security::verify_written("RegSetKeySecurity", object, descriptor, parts, &back)
    }

    fn environment_variable(&self, name: &str) -> Result<Option<String>> {
        Ok(std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    fn registry_value(&self, key: &str, name: &str) -> Result<Option<RegValue>> {
        match self.open_key(key, registry::READ)? {
            Some(k) => k.value(name),
            None => Ok(None),
        }
    }

    fn registry_value_names(&self, key: &str) -> Result<Vec<String>> {
        match self.open_key(key, registry::READ)? {
            Some(k) => k.value_names(),
            None => Ok(Vec::new()),
        }
    }

    fn registry_subkeys(&self, key: &str) -> Result<Vec<String>> {
        match self.open_key(key, registry::READ)? {
            Some(k) => k.subkeys(),
            None => Ok(Vec::new()),
        }
    }

    fn set_registry_value(&mut self, key: &str, name: &str, value: &RegValue) -> Result<bool> {
        if self.registry_value(key, name)?.as_ref() == Some(value) {
            return Ok(false);
        }
        self.create_key(key, registry::WRITE)?
            .set_value(name, value)?;
        Ok(true)
    }

    fn delete_registry_value(&mut self, key: &str, name: &str) -> Result<bool> {
        let k = KeyName::parse(key)?;
        self.ensure_hive(&k)?;
        registry::delete_value(&k, name)
    }

    fn delete_registry_key(&mut self, key: &str) -> Result<bool> {
        let k = KeyName::parse(key)?;
        self.ensure_hive(&k)?;
        registry::delete_tree(&k)
    }

    fn grant_user_right(&mut self, right: &str, sid: &Sid) -> Result<bool> {
        lsa::grant(sid, right)
    }

    fn revoke_user_right(&mut self, right: &str, sid: &Sid) -> Result<bool> {
        lsa::revoke(sid, right)
    }

    fn user_rights(&self) -> Result<Vec<String>> {
        lsa::in_use()
    }

    fn user_right_holders(&self, right: &str) -> Result<BTreeSet<Sid>> {
        lsa::holders(right)
    }

    fn service_accounts(&self) -> Result<Vec<(String, Sid)>> {
        services::accounts()?
            .into_iter()
            .map(|(service, account)| Ok((service, services::account_sid(&account)?)))
            .collect()
    }

    fn task_principals(&self) -> Result<Vec<(String, agent::workstation::TaskPrincipal)>> {
        readiness::task_principals()
    }

    fn profile_conditions(&self) -> Result<Vec<ProfileCondition>> {
        readiness::profile_conditions()
    }

    fn user_processes(&self) -> Result<Vec<(String, Sid)>> {
        readiness::user_processes()
    }

    fn bitlocker_state(&self) -> Result<BitLockerState> {
        let domain = system::joined_domain()?;
        let tenant = self.entra_tenant()?;
        readiness::bitlocker_state(domain.as_deref(), tenant.as_deref())
    }

    fn tpm_version(&self) -> Result<Option<String>> {
        readiness::tpm_version()
    }

    fn system_volume(&self) -> Result<SystemVolume> {
        readiness::system_volume()
    }

    fn endpoint_reachable(&self, url: &str) -> Result<bool> {
        readiness::endpoint_reachable(url)
    }

    fn directory_reachable(&self, target: &str) -> Result<bool> {
        self.sys.directory_reachable(target)
    }

    fn computer_account_exists(&self, domain: &str, name: &str, join: &AdJoin<'_>) -> Result<bool> {
        if join.account.is_empty() || join.password.is_empty() {
            return Err(Error::Device(format!(
                "looking up computer accounts in {} needs the join account and its password",
                domain
            )));
        }
        self.sys
            .computer_account_exists(domain, name, join.account, join.password)
    }

    fn hive_holder(&self, path: &str) -> Result<Option<String>> {
        holders::hive_holder(&*self.sys, &self.profile_list()?, path)
    }

    fn interfering_software(&self) -> Result<Vec<Interference>> {
        readiness::interfering_software()
    }

    fn interference_not_checked(&self) -> Vec<(InterferenceKind, String)> {
        readiness::interference_not_checked()
    }

    fn pending_reboot(&self) -> Result<Option<String>> {
        readiness::pending_reboot()
    }

    fn on_battery(&self) -> Result<Option<u8>> {
        readiness::on_battery()
    }

    fn schedule_restart(&mut self, minutes: u32, message: &str) -> Result<bool> {
        restart::schedule(&*self.sys, minutes, message)
    }

    fn check_restart(&self) -> Result<()> {
        restart::check(&*self.sys)
    }

    fn prompt_credentials(
        &mut self,
        title: &str,
        message: &str,
    ) -> Result<Option<agent::EnteredCredentials>> {
        cache_logon::prompt(self.desk.as_ref(), title, message)
    }

    fn cache_logon(&mut self, domain: &str, username: &str, password: &str) -> Result<bool> {
        cache_logon::cache_logon(&*self.sys, domain, username, password)
    }

    fn cancel_restart(&mut self) -> Result<bool> {
        restart::cancel(&*self.sys)
    }

    fn set_service_account(&mut self, service: &str, account: &Sid) -> Result<bool> {
        let name = services::account_name(account)?;
        if services::account(service)?.map_or(false, |a| a.eq_ignore_ascii_case(&name)) {
            return Ok(false);
        }
        // The right first: a service whose account may not log on as a service cannot start.
        if !services::is_builtin(account) {
            lsa::grant(account, "SeServiceLogonRight")?;
        }
        services::set_account(service, &name)
    }

    fn create_local_administrator(&mut self, name: &str, password: &str) -> Result<bool> {
        accounts::create_administrator(&*self.sys, name, password)
    }

    fn delete_local_user(&mut self, name: &str) -> Result<bool> {
        accounts::delete(&*self.sys, name)
    }

    fn local_user_exists(&self, name: &str) -> Result<bool> {
        accounts::exists(&*self.sys, name)
    }

    fn rename_computer(&mut self, name: &str) -> Result<bool> {
        let pending = system::pending_computer_name()?;
        let now = system::computer_name()?;
        let current = pending.unwrap_or(now);
        if current.eq_ignore_ascii_case(name) {
            return Ok(false);
        }
        system::set_computer_name(name)?;
        // Read back: the NetBIOS name is the first 15 characters of the host name.
        let netbios: String = name.chars().take(15).collect();
        match system::pending_computer_name()? {
            Some(p) if p.eq_ignore_ascii_case(&netbios) => Ok(true),
            other => Err(Error::Device(format!(
                "SetComputerNameExW to {} reported success but the name for the next start reads {}",
                name,
                other.as_deref().unwrap_or("nothing")
            ))),
        }
    }

    fn write_legal_notice(&mut self, caption: &str, text: &str) -> Result<bool> {
        let a = self.set_registry_value(
            POLICIES_SYSTEM,
            "legalnoticecaption",
            &RegValue::Sz(caption.to_string()),
        )?;
        let b = self.set_registry_value(
            POLICIES_SYSTEM,
            "legalnoticetext",
            &RegValue::Sz(text.to_string()),
        )?;
        Ok(a || b)
    }

    fn remove_tree(&mut self, path: &str) -> Result<usize> {
        let p = PathBuf::from(path);
        if !p.exists() {
            return Ok(0);
        }
        let io = |e| Error::Io {
            what: "removing",
            path: p.clone(),
            source: e,
        };
        let n = count_tree(&p).map_err(io)?;
        std::fs::remove_dir_all(&p).map_err(io)?;
        Ok(n)
    }

    fn connect_share(&mut self, unc: &str, account: &str, password: &str) -> Result<()> {
        shares::connect(unc, account, password)
    }

    fn disconnect_share(&mut self, unc: &str) -> Result<()> {
        shares::disconnect(unc)
    }

    fn list_files(&self, folder: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if Path::new(folder).is_dir() {
            collect_files(Path::new(folder), &mut out)?;
        }
        out.sort();
        Ok(out)
    }

    fn file_attributes(&self, path: &str) -> Result<Option<u32>> {
        use std::os::windows::fs::MetadataExt;
        match std::fs::symlink_metadata(path) {
            Ok(m) => Ok(Some(m.file_attributes())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io {
                what: "reading the attributes of",
                path: PathBuf::from(path),
                source: e,
            }),
        }
    }

    fn dehydrate(&mut self, path: &str) -> Result<bool> {
        super::onedrive::dehydrate(path)
    }

    fn move_file(&mut self, from: &str, to: &str) -> Result<()> {
        system::move_file(from, to)
    }

    fn run_command_package(
        &mut self,
        sha256: &str,
        zip: &[u8],
        timeout: std::time::Duration,
    ) -> Result<CommandOutcome> {
        let base = super::service::state_dir()?.join("packages");
        super::command::run(&base, sha256, zip, timeout)
    }

    fn enroll_mdm(&mut self) -> Result<bool> {
        mdm::enroll()
    }

    fn write_event_log(&mut self, level: EventLevel, message: &str) -> Result<()> {
        if self.event_log.is_none() {
            self.event_log = Some(EventLog::open()?);
        }
        match &self.event_log {
            Some(log) => log.write(level, message),
            None => Err(unsupported("RegisterEventSourceW")),
        }
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        files::read(path)
    }

    fn write_file(&mut self, path: &str, bytes: &[u8]) -> Result<bool> {
        files::write(path, bytes)
    }

    fn move_profile(&mut self, source: &Sid, target: &Sid) -> Result<bool> {
        profiles::move_profile(source, target)
    }

    fn load_user_hive(&mut self, sid: &Sid, file: &str) -> Result<bool> {
        let hive = KeyName {
            root: Root::Users,
            path: sid.to_string(),
        };
        if registry::open(&hive, registry::READ_CONTROL)?.is_some() {
            return Ok(false);
        }
        registry::load_user_hive(&hive.path, file)?;
        self.loaded_hives.borrow_mut().push(hive.path);
        Ok(true)
    }

    fn unload_user_hive(&mut self, sid: &Sid) -> Result<bool> {
        let name = sid.to_string();
        let mut loaded = self.loaded_hives.borrow_mut();
        let at = match loaded.iter().position(|h| h.eq_ignore_ascii_case(&name)) {
            Some(at) => at,
            None => return Ok(false),
        };
        registry::unload_user_hive(&name)?;
        loaded.remove(at);
        Ok(true)
    }

    fn add_local_group_member(&mut self, group: &str, member: &Sid) -> Result<bool> {
        groups::change(&*self.sys, group, member, true)
    }

    fn remove_local_group_member(&mut self, group: &str, member: &Sid) -> Result<bool> {
        groups::change(&*self.sys, group, member, false)
    }

    fn legal_notice(&self) -> Result<(String, String)> {
        Ok((
            self.registry_string(POLICIES_SYSTEM, "legalnoticecaption")?
                .unwrap_or_default(),
            self.registry_string(POLICIES_SYSTEM, "legalnoticetext")?
                .unwrap_or_default(),
        ))
    }

    fn set_task_principal(
        &mut self,
        task: &str,
        principal: &agent::workstation::TaskPrincipal,
    ) -> Result<bool> {
        super::task_principal::set(task, principal)
    }

    fn appx_packages(&self) -> Result<BTreeMap<Sid, Vec<String>>> {
        super::appx::packages()
    }

    fn register_appx(&mut self, user: &Sid, package: &str) -> Result<bool> {
        super::appx::register(user, package)
    }

    fn uninstall_agent(&mut self) -> Result<()> {
        super::service::remove_after_exit()
    }

    fn checkpoint(&mut self, _step: &str, _changes: usize) -> Result<()> {
        // Every primitive above is durable when it returns (the registry and NTFS journal
        // their own writes).
        Ok(())
    }
}
