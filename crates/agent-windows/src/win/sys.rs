//! The seam between the Windows workstation and the Win32 calls Wine does not implement: joins
//! (`NetJoinDomain`, `NetUnjoinDomain`, `NetRequestOfflineDomainJoin`, `DsGetDcNameW`, the LDAP
//! look-up of a computer account), local
//! accounts and group members (`NetUserAdd`, `NetUserDel`, `NetLocalGroup*`), file DACLs
//! (`SetNamedSecurityInfoW`), BitLocker's WMI methods, restarts (`InitiateSystemShutdownExW`),
//! the Cache Credentials logon (`LogonUserW`), Restart Manager (`RmGetList`), Windows Hello, and the provisioning package's
//! install (`powershell.exe Install-ProvisioningPackage`) with the Entra join it leaves. [`Win32`] makes the real calls and is what the service uses; the
//! tests drive the same workstation code through a recording double (`sys_recording.rs`), so what
//! the workstation decides around each call (already joined, read back, errors by name) runs
//! under Wine too. Every other primitive calls Win32 directly.
//!
//! Each method is one call, or one read of what a call changed; its answer is the call's own
//! (a Win32 error code where the call returns one), so the workstation maps it the same way
//! whichever implementation answered.

use std::path::Path;

use agent::{CommandOutcome, Effect, Result, SecurityParts};
use secdesc::Sid;

use super::entra::EntraJoin;

/// One Win32 call the workstation makes through the seam.
pub trait Sys: Send {
    /// `NetGetJoinInformation`: the Active Directory domain the device is joined to.
    fn joined_domain(&self) -> Result<Option<String>>;
    /// `DsGetDcNameW` (`DS_FORCE_REDISCOVERY | DS_WRITABLE_REQUIRED`) for an Active Directory
    /// domain, or the sign-in endpoint of an Entra tenant: whether `target` answers.
    fn directory_reachable(&self, target: &str) -> Result<bool>;
    /// `NetJoinDomain(NULL, domain, ou or NULL, account, password, options)`: its return code.
    fn net_join_domain(
        &self,
        domain: &str,
        ou: Option<&str>,
        account: &str,
        password: &str,
        options: u32,
    ) -> Result<u32>;
    /// `NetUnjoinDomain(NULL, NULL, NULL, 0)`: its return code.
    fn net_unjoin_domain(&self) -> Result<u32>;
    /// `NetRequestOfflineDomainJoin(blob, options, windows)`: its return code.
    fn net_request_offline_domain_join(
        &self,
        blob: &[u8],
        options: u32,
        windows: &str,
    ) -> Result<u32>;
    /// `NetUserGetInfo` level 0: whether the local account `name` exists.
    fn net_user_exists(&self, name: &str) -> Result<bool>;
    /// `NetUserAdd` level 1 (`USER_PRIV_USER`, `flags`): its return code.
    fn net_user_add(&self, name: &str, password: &str, flags: u32) -> Result<u32>;
    /// `NetUserDel`: its return code.
    fn net_user_del(&self, name: &str) -> Result<u32>;
    /// `NetLocalGroupAddMembers` level 3 (`DOMAIN\name` or a local name): its return code.
    fn net_local_group_add_name(&self, group: &str, name: &str) -> Result<u32>;
    /// `NetLocalGroupAddMembers` / `NetLocalGroupDelMembers` level 0 (by SID): the return code.
    fn net_local_group_change(&self, group: &str, member: &Sid, add: bool) -> Result<u32>;
    /// `NetLocalGroupEnum` level 0: the local groups' names.
    fn local_group_names(&self) -> Result<Vec<String>>;
    /// `NetLocalGroupGetMembers` level 0: the members of `group`.
    fn local_group_members(&self, group: &str) -> Result<Vec<Sid>>;
    /// `SetNamedSecurityInfoW(path, SE_FILE_OBJECT, info, …)` with the `parts` of the
    /// self-relative `descriptor`: its return code.
    fn set_file_security(
        &self,
        path: &str,
        info: u32,
        descriptor: &[u8],
        parts: SecurityParts,
    ) -> Result<u32>;
    /// `GetNamedSecurityInfoW(path, SE_FILE_OBJECT, …)`, with the SACL when `sacl`.
    fn file_security(&self, path: &str, sacl: bool) -> Result<Option<Vec<u8>>>;
    /// The system volume's `Win32_EncryptableVolume`: its DeviceID and (encrypted, protectors
    /// on).
    fn bitlocker_volume(&self) -> Result<(String, (bool, bool))>;
    /// `Win32_EncryptableVolume.<method>` on the volume at the object path `path`: its
    /// ReturnValue.
    fn bitlocker_method(&self, path: &str, method: &str, args: &[(&str, u32)]) -> Result<i64>;
    /// Enables `SeShutdownPrivilege`: `Ok` when this process may restart the device.
    fn shutdown_privilege(&self) -> Result<()>;
    /// `InitiateSystemShutdownExW(NULL, message, seconds, FALSE, TRUE, reason)`: the last error
    /// when it returned FALSE.
    fn initiate_shutdown(&self, message: &str, seconds: u32, reason: u32) -> Result<Option<u32>>;
    /// `AbortSystemShutdownW(NULL)`, with `SeShutdownPrivilege` enabled: the last error when it
    /// returned FALSE.
    fn abort_shutdown(&self) -> Result<Option<u32>>;
    /// `LogonUserW(user, domain or NULL, password, LOGON32_LOGON_INTERACTIVE,
    /// LOGON32_PROVIDER_DEFAULT)`, the token closed at once: 0, or the last error.
    fn logon_user(&self, user: &str, domain: Option<&str>, password: &str) -> Result<u32>;
    /// Removes the Windows Hello containers of the device (the NGC store), each named by its
    /// owner's SID.
    fn reset_windows_hello(&self) -> Result<Effect>;
    /// `powershell.exe -NoProfile -NonInteractive -Command Install-ProvisioningPackage
    /// -PackagePath <path> -ForceInstall -QuietInstall`, stopped after
    /// [`super::entra::INSTALL_TIMEOUT`]: its exit code and bounded output.
    fn install_provisioning_package(&self, path: &Path) -> Result<CommandOutcome>;
    /// The Entra join the device holds (`CloudDomainJoin\JoinInfo`), if any.
    fn entra_join(&self) -> Result<Option<EntraJoin>>;
    /// Restart Manager's `RmGetList` for the file `path`: the processes holding it open, by
    /// name and process id.
    fn file_holders(&self, path: &str) -> Result<Vec<(String, u32)>>;
    /// `DsGetDcNameW` for a domain controller of `domain`, bound to with wldap32 as `account`
    /// (`ldap_bind_sW`, Negotiate): whether `ldap_search_sW` finds `(sAMAccountName=<NAME>$)`
    /// under the domain's `defaultNamingContext`.
    fn computer_account_exists(
        &self,
        domain: &str,
        name: &str,
        account: &str,
        password: &str,
    ) -> Result<bool>;
}

/// The real Win32 calls: what the service uses.
pub struct Win32;

impl Sys for Win32 {
    fn joined_domain(&self) -> Result<Option<String>> {
        super::system::joined_domain()
    }

    fn directory_reachable(&self, target: &str) -> Result<bool> {
        super::readiness::directory_reachable(target)
    }

    fn net_join_domain(
        &self,
        domain: &str,
        ou: Option<&str>,
        account: &str,
        password: &str,
        options: u32,
    ) -> Result<u32> {
        super::join::win32_join(domain, ou, account, password, options)
    }

    fn net_unjoin_domain(&self) -> Result<u32> {
        super::join::win32_unjoin()
    }

    fn net_request_offline_domain_join(
        &self,
        blob: &[u8],
        options: u32,
        windows: &str,
    ) -> Result<u32> {
        super::join::win32_offline(blob, options, windows)
    }

    fn net_user_exists(&self, name: &str) -> Result<bool> {
        super::accounts::win32_exists(name)
    }

    fn net_user_add(&self, name: &str, password: &str, flags: u32) -> Result<u32> {
        super::accounts::win32_add(name, password, flags)
    }

    fn net_user_del(&self, name: &str) -> Result<u32> {
        super::accounts::win32_delete(name)
    }

    fn net_local_group_add_name(&self, group: &str, name: &str) -> Result<u32> {
        super::accounts::win32_add_to_group(group, name)
    }

    fn net_local_group_change(&self, group: &str, member: &Sid, add: bool) -> Result<u32> {
        super::groups::win32_change(group, member, add)
    }

    fn local_group_names(&self) -> Result<Vec<String>> {
        super::groups::win32_names()
    }

    fn local_group_members(&self, group: &str) -> Result<Vec<Sid>> {
        super::groups::win32_members_of(group)
    }

    fn set_file_security(
        &self,
        path: &str,
        info: u32,
        descriptor: &[u8],
        parts: SecurityParts,
    ) -> Result<u32> {
        super::files::win32_set_security(path, info, descriptor, parts)
    }

    fn file_security(&self, path: &str, sacl: bool) -> Result<Option<Vec<u8>>> {
        super::security::file_descriptor(path, sacl)
    }

    fn bitlocker_volume(&self) -> Result<(String, (bool, bool))> {
        super::readiness::bitlocker_volume()
    }

    fn bitlocker_method(&self, path: &str, method: &str, args: &[(&str, u32)]) -> Result<i64> {
        super::wmi::connect(super::readiness::BITLOCKER_NAMESPACE)?.call(
            super::bitlocker::CLASS,
            path,
            method,
            args,
        )
    }

    fn shutdown_privilege(&self) -> Result<()> {
        super::restart::win32_privilege()
    }

    fn initiate_shutdown(&self, message: &str, seconds: u32, reason: u32) -> Result<Option<u32>> {
        super::restart::win32_initiate(message, seconds, reason)
    }

    fn abort_shutdown(&self) -> Result<Option<u32>> {
        super::restart::win32_abort()
    }

    fn logon_user(&self, user: &str, domain: Option<&str>, password: &str) -> Result<u32> {
        super::cache_logon::win32_logon(user, domain, password)
    }

    fn reset_windows_hello(&self) -> Result<Effect> {
        super::hello::reset(&super::hello::store()?)
    }

    fn install_provisioning_package(&self, path: &Path) -> Result<CommandOutcome> {
        super::entra::win32_install(path)
    }

    fn entra_join(&self) -> Result<Option<EntraJoin>> {
        super::entra::win32_join_info()
    }

    fn file_holders(&self, path: &str) -> Result<Vec<(String, u32)>> {
        super::holders::win32_file_holders(path)
    }

    fn computer_account_exists(
        &self,
        domain: &str,
        name: &str,
        account: &str,
        password: &str,
    ) -> Result<bool> {
        super::ldap::win32_computer_account_exists(domain, name, account, password)
    }
}
