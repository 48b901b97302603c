//! The tests' recording double of [`Sys`]: it keeps the state those calls would change on a
//! Windows device (the domain joined, local accounts, group members, file descriptors written,
//! BitLocker's protectors, a pending restart) and records every call that changes something,
//! with its arguments, so that a test under Wine drives the real Windows workstation through a
//! runbook and asserts what Windows would have been asked. Passwords are kept apart from the
//! recorded calls, as the test needs to see that the runbook's secret reached the call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use agent::{CommandOutcome, Effect, Error, Result, SecurityParts};
use model::protocol::sha256_hex;
use secdesc::Sid;

use super::entra::EntraJoin;
use super::sys::Sys;

/// `NERR_SetupAlreadyJoined`.
const ALREADY_JOINED: u32 = 2691;
/// `NERR_GroupNotFound`.
const GROUP_NOT_FOUND: u32 = 2220;
/// `NERR_UserExists` and `NERR_UserNotFound`.
const USER_EXISTS: u32 = 2224;
const USER_NOT_FOUND: u32 = 2221;
/// `ERROR_MEMBER_NOT_IN_ALIAS` and `ERROR_MEMBER_IN_ALIAS`.
const NOT_MEMBER: u32 = 1377;
const ALREADY_MEMBER: u32 = 1378;
/// `ERROR_SHUTDOWN_IN_PROGRESS` and `ERROR_NO_SHUTDOWN_IN_PROGRESS`.
const SHUTDOWN_IN_PROGRESS: u32 = 1115;
const NO_SHUTDOWN_IN_PROGRESS: u32 = 1116;
/// `ERROR_LOGON_FAILURE` and `ERROR_NO_LOGON_SERVERS`.
const LOGON_FAILURE: u32 = 1326;
const NO_LOGON_SERVERS: u32 = 1311;
/// `ERROR_NO_SUCH_DOMAIN`.
const NO_SUCH_DOMAIN: u32 = 1355;
/// `NETSETUP_DOMAIN_JOIN_IF_JOINED`.
const JOIN_IF_JOINED: u32 = 0x20;

/// What the double's device holds.
#[derive(Default)]
pub struct Device {
    /// The calls that change something, in order, as `Call(arguments)`.
    pub calls: Vec<String>,
    /// The Active Directory domain joined.
    pub domain: Option<String>,
    /// The SID of that domain (`S-1-5-21-a-b-c`): leaving it takes its Domain Admins and Domain
    /// Users out of the local groups, as `NetUnjoinDomain` does.
    pub domain_sid: Option<String>,
    /// The domain an offline join blob joins.
    pub offline_domain: String,
    /// The blob `NetRequestOfflineDomainJoin` got.
    pub offline_blob: Option<Vec<u8>>,
    /// The password `NetJoinDomain` got.
    pub join_password: Option<String>,
    /// Directories whose domain controller or sign-in endpoint answers.
    pub reachable: BTreeSet<String>,
    /// Local accounts.
    pub users: BTreeSet<String>,
    /// Local groups and their members by SID.
    pub groups: BTreeMap<String, Vec<Sid>>,
    /// Members added by name (`NetLocalGroupAddMembers` level 3), by group.
    pub named_members: BTreeMap<String, Vec<String>>,
    /// File descriptors written, by path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// BitLocker on the system volume: encrypted, protectors on.
    pub bitlocker: (bool, bool),
    /// Why `SeShutdownPrivilege` cannot be enabled, when it cannot.
    pub no_shutdown: Option<String>,
    /// A restart is pending.
    pub restart_pending: bool,
    /// The accounts the target's domain controllers accept: (domain, user) in lower case, and
    /// the password; a logon checks against them when its domain is reachable.
    pub domain_accounts: BTreeMap<(String, String), String>,
    /// The Entra join the device holds.
    pub entra: Option<EntraJoin>,
    /// The join a provisioning package leaves once installed (none: it joins nothing).
    pub package_joins: Option<EntraJoin>,
    /// The exit code and output `Install-ProvisioningPackage` answers.
    pub install_answer: (i32, String),
    /// The processes Restart Manager finds holding a file open, by the file's path in lower
    /// case.
    pub file_holders: BTreeMap<String, Vec<(String, u32)>>,
    /// The computer accounts the domains hold: (domain in lower case, name in upper case).
    pub computer_accounts: BTreeSet<(String, String)>,
    /// The LDAP look-ups made, as `domain filter as account`: they change nothing, so they are
    /// kept apart from [`Device::calls`].
    pub lookups: Vec<String>,
}

/// The double: clones share one [`Device`].
#[derive(Clone, Default)]
pub struct Recording(pub Arc<Mutex<Device>>);

impl Recording {
    /// The device, to set it up or read what happened.
    pub fn device(&self) -> MutexGuard<'_, Device> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, call: String) -> MutexGuard<'_, Device> {
        let mut device = self.device();
        device.calls.push(call);
        device
    }
}

impl Sys for Recording {
    fn joined_domain(&self) -> Result<Option<String>> {
        Ok(self.device().domain.clone())
    }

    fn directory_reachable(&self, target: &str) -> Result<bool> {
        Ok(self
            .device()
            .reachable
            .iter()
            .any(|d| d.eq_ignore_ascii_case(target)))
    }

    fn net_join_domain(
        &self,
        domain: &str,
        ou: Option<&str>,
        account: &str,
        password: &str,
        options: u32,
    ) -> Result<u32> {
        let mut device = self.record(format!(
            "NetJoinDomain({}, {}, {}, 0x{:x})",
            domain,
            ou.unwrap_or("NULL"),
            account,
            options
        ));
        if device.domain.is_some() && options & JOIN_IF_JOINED == 0 {
            return Ok(ALREADY_JOINED);
        }
        device.join_password = Some(password.to_string());
        device.domain = Some(domain.to_string());
        Ok(0)
    }

    fn net_unjoin_domain(&self) -> Result<u32> {
        let mut device = self.record("NetUnjoinDomain()".to_string());
        device.domain = None;
        if let Some(domain) = device.domain_sid.take() {
            let joined: Vec<String> = ["512", "513"]
                .iter()
                .map(|rid| format!("{}-{}", domain, rid))
                .collect();
            for members in device.groups.values_mut() {
                members.retain(|m| !joined.contains(&m.to_string()));
            }
        }
        Ok(0)
    }

    fn net_request_offline_domain_join(
        &self,
        blob: &[u8],
        options: u32,
        windows: &str,
    ) -> Result<u32> {
        let mut device = self.record(format!(
            "NetRequestOfflineDomainJoin({} bytes, 0x{:x}, {})",
            blob.len(),
            options,
            windows
        ));
        device.offline_blob = Some(blob.to_vec());
        device.domain = Some(device.offline_domain.clone());
        Ok(0)
    }

    fn net_user_exists(&self, name: &str) -> Result<bool> {
        Ok(self.device().users.contains(&name.to_lowercase()))
    }

    fn net_user_add(&self, name: &str, _password: &str, flags: u32) -> Result<u32> {
        let mut device = self.record(format!("NetUserAdd({}, 0x{:x})", name, flags));
        Ok(if device.users.insert(name.to_lowercase()) {
            0
        } else {
            USER_EXISTS
        })
    }

    fn net_user_del(&self, name: &str) -> Result<u32> {
        let mut device = self.record(format!("NetUserDel({})", name));
        let lower = name.to_lowercase();
        if !device.users.remove(&lower) {
            return Ok(USER_NOT_FOUND);
        }
        for members in device.named_members.values_mut() {
            members.retain(|m| m.to_lowercase() != lower);
        }
        Ok(0)
    }

    fn net_local_group_add_name(&self, group: &str, name: &str) -> Result<u32> {
        let mut device = self.record(format!("NetLocalGroupAddMembers({}, {})", group, name));
        if !device.groups.contains_key(group) {
            return Ok(GROUP_NOT_FOUND);
        }
        let named = device.named_members.entry(group.to_string()).or_default();
        if named.iter().any(|m| m.eq_ignore_ascii_case(name)) {
            return Ok(ALREADY_MEMBER);
        }
        named.push(name.to_string());
        Ok(0)
    }

    fn net_local_group_change(&self, group: &str, member: &Sid, add: bool) -> Result<u32> {
        let call = if add {
            "NetLocalGroupAddMembers"
        } else {
            "NetLocalGroupDelMembers"
        };
        let mut device = self.record(format!("{}({}, {})", call, group, member));
        let members = match device.groups.get_mut(group) {
            Some(m) => m,
            None => return Ok(GROUP_NOT_FOUND),
        };
        let at = members.iter().position(|m| m == member);
        Ok(match (add, at) {
            (true, Some(_)) => ALREADY_MEMBER,
            (true, None) => {
                members.push(member.clone());
                0
            }
            (false, Some(at)) => {
                members.remove(at);
                0
            }
            (false, None) => NOT_MEMBER,
        })
    }

    fn local_group_names(&self) -> Result<Vec<String>> {
        Ok(self.device().groups.keys().cloned().collect())
    }

    fn local_group_members(&self, group: &str) -> Result<Vec<Sid>> {
        match self.device().groups.get(group) {
            Some(members) => Ok(members.clone()),
            None => Err(Error::NotFound(format!("the local group {}", group))),
        }
    }

    fn set_file_security(
        &self,
        path: &str,
        info: u32,
        descriptor: &[u8],
        _parts: SecurityParts,
    ) -> Result<u32> {
        let mut device = self.record(format!("SetNamedSecurityInfoW({}, 0x{:x})", path, info));
        device
            .files
            .insert(path.to_lowercase(), descriptor.to_vec());
        Ok(0)
    }

    fn file_security(&self, path: &str, sacl: bool) -> Result<Option<Vec<u8>>> {
        if let Some(written) = self.device().files.get(&path.to_lowercase()) {
            return Ok(Some(written.clone()));
        }
        // What was never written reads as Windows (here Wine) has it.
        super::security::file_descriptor(path, sacl)
    }

    fn bitlocker_volume(&self) -> Result<(String, (bool, bool))> {
        Ok((
            "\\\\?\\Volume{4c1b02c1-d990-11dc-99ae-806e6f6e6963}\\".to_string(),
            self.device().bitlocker,
        ))
    }

    fn bitlocker_method(&self, path: &str, method: &str, args: &[(&str, u32)]) -> Result<i64> {
        let args: Vec<String> = args.iter().map(|(n, v)| format!("{}={}", n, v)).collect();
        let mut device = self.record(format!(
            "Win32_EncryptableVolume.{}({}; {})",
            method,
            path,
            args.join(", ")
        ));
        match method {
            "DisableKeyProtectors" => device.bitlocker.1 = false,
            "EnableKeyProtectors" => device.bitlocker.1 = true,
            _ => return Ok(0x8004_1002),
        }
        Ok(0)
    }

    fn shutdown_privilege(&self) -> Result<()> {
        match &self.device().no_shutdown {
            Some(why) => Err(super::error("AdjustTokenPrivileges", why, 1300)),
            None => Ok(()),
        }
    }

    fn initiate_shutdown(&self, message: &str, seconds: u32, reason: u32) -> Result<Option<u32>> {
        let mut device = self.record(format!(
            "InitiateSystemShutdownExW({}, {}, reboot, 0x{:x})",
            message, seconds, reason
        ));
        if device.restart_pending {
            return Ok(Some(SHUTDOWN_IN_PROGRESS));
        }
        device.restart_pending = true;
        Ok(None)
    }

    fn abort_shutdown(&self) -> Result<Option<u32>> {
        let mut device = self.record("AbortSystemShutdownW()".to_string());
        if !device.restart_pending {
            return Ok(Some(NO_SHUTDOWN_IN_PROGRESS));
        }
        device.restart_pending = false;
        Ok(None)
    }

    fn logon_user(&self, user: &str, domain: Option<&str>, password: &str) -> Result<u32> {
        let device = self.record(format!(
            "LogonUserW({}, {}, LOGON32_LOGON_INTERACTIVE, LOGON32_PROVIDER_DEFAULT)",
            user,
            domain.unwrap_or("NULL")
        ));
        // A UPN names its domain after the @.
        let (user, domain) = match (domain, user.split_once('@')) {
            (Some(d), _) => (user.to_string(), d.to_string()),
            (None, Some((u, d))) => (u.to_string(), d.to_string()),
            (None, None) => return Ok(LOGON_FAILURE),
        };
        let (user, domain) = (user.to_lowercase(), domain.to_lowercase());
        // The NetBIOS name of a reachable domain answers too.
        let known = device.reachable.iter().find(|d| {
            let d = d.to_lowercase();
            d == domain || d.split('.').next() == Some(domain.as_str())
        });
        let known = match known {
            Some(d) => d.to_lowercase(),
            None => return Ok(NO_LOGON_SERVERS),
        };
        Ok(match device.domain_accounts.get(&(known, user)) {
            Some(p) if p == password => 0,
            _ => LOGON_FAILURE,
        })
    }

    fn reset_windows_hello(&self) -> Result<Effect> {
        drop(self.record("ResetWindowsHello()".to_string()));
        Ok(Effect::changed(1, "reset the Windows Hello containers"))
    }

    /// Records the path and the SHA-256 of the file there as the call found it.
    fn install_provisioning_package(&self, path: &Path) -> Result<CommandOutcome> {
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            what: "reading the provisioning package at",
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut device = self.record(format!(
            "Install-ProvisioningPackage({}, sha256={})",
            path.display(),
            sha256_hex(&bytes)
        ));
        let (code, output) = device.install_answer.clone();
        if code == 0 {
            if let Some(join) = device.package_joins.clone() {
                device.entra = Some(join);
            }
        }
        Ok(CommandOutcome {
            exit_code: Some(code),
            output,
        })
    }

    fn entra_join(&self) -> Result<Option<EntraJoin>> {
        Ok(self.device().entra.clone())
    }

    fn file_holders(&self, path: &str) -> Result<Vec<(String, u32)>> {
        Ok(self
            .device()
            .file_holders
            .get(&path.to_lowercase())
            .cloned()
            .unwrap_or_default())
    }

    fn computer_account_exists(
        &self,
        domain: &str,
        name: &str,
        account: &str,
        password: &str,
    ) -> Result<bool> {
        let mut device = self.device();
        let filter = super::ldap::account_filter(name);
        device
            .lookups
            .push(format!("{} {} as {}", domain, filter, account));
        let known = device
            .reachable
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain));
        let (user, _) = super::ldap::split_account(account);
        let accepted = device
            .domain_accounts
            .get(&(domain.to_lowercase(), user.to_lowercase()))
            .map_or(false, |p| p == password);
        if !known {
            return Err(super::error("DsGetDcNameW", domain, NO_SUCH_DOMAIN));
        }
        if !accepted {
            return Err(super::error("ldap_bind_sW", domain, LOGON_FAILURE));
        }
        Ok(device
            .computer_accounts
            .contains(&(domain.to_lowercase(), name.to_uppercase())))
    }
}
