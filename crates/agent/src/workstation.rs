//! What the phase engine needs from a device. Two implementations sit behind it: [`crate::sim`]
//! (a file-backed workstation for tests, the demo and the fleet simulator) and, on Windows, the
//! real one. Every operation is idempotent: doing it again after it succeeded changes nothing and
//! succeeds, which is what lets the journal re-run a step a crash interrupted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::FixedOffset;
use model::plan::{DeviceFacts, JoinState, OsEdition, PermissionArea};
use model::protocol::{BulkToken, ProvisioningPackage, UserProfile};
use model::runbook::Area;
use model::status::EventLevel;
use secdesc::translate::{SidMap, TranslateOptions};
use secdesc::Sid;
use serde::{Deserialize, Serialize};

use crate::readiness::device::{
    unanswered, BitLockerState, Interference, InterferenceKind, ProfileCondition, SystemVolume,
};
use crate::Result;

/// A registry value, typed as Windows types it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum RegValue {
    /// `REG_SZ`.
    Sz(String),
    /// `REG_EXPAND_SZ`.
    ExpandSz(String),
    /// `REG_MULTI_SZ`.
    MultiSz(Vec<String>),
    /// `REG_DWORD`.
    Dword(u32),
    /// `REG_BINARY`.
    Binary(Vec<u8>),
}

/// The parts of a security descriptor a write replaces (`OWNER_SECURITY_INFORMATION`,
/// `GROUP_…`, `DACL_…`, `SACL_…`); the others stay as they are on the object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecurityParts {
    /// The owner.
    pub owner: bool,
    /// The primary group.
    pub group: bool,
    /// The DACL, with its protected and auto-inherited flags.
    pub dacl: bool,
    /// The SACL, with its flags.
    pub sacl: bool,
}

impl SecurityParts {
    /// Whether nothing is to be written.
    pub fn is_empty(&self) -> bool {
        !(self.owner || self.group || self.dacl || self.sacl)
    }
}

/// BitLocker on the OS volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BitLockerStatus {
    /// The volume is encrypted.
    pub encrypted: bool,
    /// Its key protectors are on (not suspended).
    pub protectors_on: bool,
}

/// How a command package's script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// Its exit code; `None` when it ran past the timeout and was stopped.
    pub exit_code: Option<i32>,
    /// What it wrote to standard output and standard error.
    pub output: String,
}

/// `FILE_ATTRIBUTE_PINNED`: always kept on this device.
pub const FILE_ATTRIBUTE_PINNED: u32 = 0x0008_0000;
/// `FILE_ATTRIBUTE_UNPINNED`: may be freed.
pub const FILE_ATTRIBUTE_UNPINNED: u32 = 0x0010_0000;
/// `FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS`: a cloud-only placeholder, its content in the cloud.
pub const FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS: u32 = 0x0040_0000;

/// How an online Active Directory join is done.
#[derive(Clone, Copy)]
pub struct AdJoin<'a> {
    /// The account that creates or takes over the computer object (`DOMAIN\\user`).
    pub account: &'a str,
    /// Its password, from the runbook's secrets.
    pub password: &'a str,
    /// The OU's DN; blank for the domain's default container.
    pub ou: &'a str,
    /// Take over an existing computer account of the same name.
    pub reuse_existing: bool,
}

impl fmt::Debug for AdJoin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password never reaches a log.
        f.debug_struct("AdJoin")
            .field("account", &self.account)
            .field("ou", &self.ou)
            .field("reuse_existing", &self.reuse_existing)
            .finish()
    }
}

/// How a scheduled task signs its principal in (`TASK_LOGON_TYPE` of `IPrincipal::LogonType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskLogon {
    /// `TASK_LOGON_INTERACTIVE_TOKEN`: only while the user is signed in.
    InteractiveToken,
    /// `TASK_LOGON_S4U`: whether the user is signed in or not, without network credentials.
    S4u,
    /// `TASK_LOGON_PASSWORD`: with the password stored for the account.
    Password,
    /// `TASK_LOGON_SERVICE_ACCOUNT`: SYSTEM, LOCAL SERVICE or NETWORK SERVICE.
    ServiceAccount,
    /// `TASK_LOGON_GROUP`: for members of a group (`GroupId`).
    Group,
}

/// Who a scheduled task runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPrincipal {
    /// The account or group (`UserId` or `GroupId`), resolved to its SID.
    pub account: Sid,
    /// How it signs in.
    pub logon: TaskLogon,
}

/// What a user typed into the Cache Credentials dialog. Debug never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct EnteredCredentials {
    /// The SID of the user signed in to the session the dialog was shown in.
    pub user: Sid,
    /// The target account as typed: `user`, `DOMAIN\user` or `user@domain`.
    pub username: String,
    /// Its password.
    pub password: String,
}

impl Drop for EnteredCredentials {
    /// The password is zeroed once the logon used it.
    fn drop(&mut self) {
        // Safety: every byte becomes 0, which leaves valid UTF-8.
        unsafe { self.password.as_bytes_mut().iter_mut().for_each(|b| *b = 0) };
    }
}

impl fmt::Debug for EnteredCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnteredCredentials")
            .field("user", &self.user)
            .field("username", &self.username)
            .finish()
    }
}

/// What the agent reports about the device and decides with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// NetBIOS computer name.
    pub computer_name: String,
    /// BIOS serial number.
    pub serial: String,
    /// Workstation or server.
    pub os_edition: OsEdition,
    /// e.g. `Windows 11 Enterprise 23H2`.
    pub os_version: String,
    /// What the device is joined to now.
    pub join_state: JoinState,
    /// The user logged on at the console, if any.
    pub logged_on_user: Option<String>,
    /// The device wall clock's offset from UTC, which Local schedule times are read in when the
    /// time zone is not known.
    pub utc_offset: FixedOffset,
    /// The device's time zone as an IANA name (`Europe/Berlin`), when it maps to one: Local
    /// schedule times are then read with its daylight-saving rules.
    pub time_zone: Option<String>,
}

impl Facts {
    /// The part of the facts the plan is built from.
    pub fn device(&self) -> DeviceFacts {
        DeviceFacts {
            os_edition: self.os_edition,
            join_state: self.join_state.clone(),
        }
    }
}

/// What an operation did, for the step's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    /// How many things changed; 0 when there was nothing left to do (an idempotent re-run).
    pub changes: usize,
    /// What was done, in words.
    pub summary: String,
}

impl Effect {
    /// An operation that changed `changes` things.
    pub fn changed(changes: usize, summary: impl Into<String>) -> Effect {
        Effect {
            changes,
            summary: summary.into(),
        }
    }

    /// An operation that found nothing to do.
    pub fn unchanged(summary: impl Into<String>) -> Effect {
        Effect {
            changes: 0,
            summary: summary.into(),
        }
    }
}

/// A Windows device as the agent drives it. Every mutating operation is idempotent.
pub trait Workstation {
    /// Name, serial, edition, join state, logged-on user and clock offset.
    fn facts(&self) -> Result<Facts>;

    /// Leaves the Active Directory domain (`NetUnjoinDomain`); a no-op when not AD-joined.
    fn leave_active_directory(&mut self) -> Result<Effect>;
    /// Leaves the Entra tenant (`dsregcmd /leave`); a no-op when not Entra-joined.
    fn leave_entra(&mut self) -> Result<Effect>;
    /// Joins `domain` (`NetJoinDomain` as `account` with `password`, into `ou` when not blank,
    /// switching domains when AD-joined elsewhere); a no-op when already joined to it. A computer
    /// account of the same name in the domain is taken over only with `reuse_existing`
    /// (`NETSETUP_JOIN_WITH_NEW_NAME` off, `NETSETUP_DOMAIN_JOIN_IF_JOINED`); otherwise the join
    /// fails and the device stays where it was.
    fn join_active_directory(&mut self, domain: &str, join: &AdJoin<'_>) -> Result<Effect>;
    /// Joins the Entra tenant `tenant` without a token. Superseded by
    /// [`Workstation::join_entra_with_token`], which the phase engine calls; kept so that
    /// implementations written before it still build.
    fn join_entra(&mut self, tenant: &str) -> Result<Effect> {
        let _ = tenant;
        Err(crate::Error::Unsupported {
            action: "JoinEntra".to_string(),
            reason: "an Entra join needs the bulk enrollment token".to_string(),
        })
    }
    /// Joins the Entra tenant `tenant` with its bulk enrollment `token`: a provisioning package
    /// whose `Accounts/Azure/Authority` names the tenant and `Accounts/Azure/BPRT` holds the
    /// token, written under `%ProgramData%\Microsoft\Provisioning` and applied with
    /// `Install-ProvisioningPackage -ForceInstall -QuietInstall` (or `dism /Online
    /// /Add-ProvisioningPackage`), after setting `HKLM\SOFTWARE\Microsoft\PolicyManager\current\device\Security`
    /// `AllowAddProvisioningPackage` to 1. A no-op when already joined to the tenant; a token the
    /// tenant refuses fails and leaves the device where it was.
    fn join_entra_with_token(&mut self, tenant: &str, token: &BulkToken) -> Result<Effect> {
        let _ = (tenant, token);
        Err(crate::Error::Unsupported {
            action: "JoinEntra".to_string(),
            reason:
                "this workstation cannot apply a provisioning package with a bulk enrollment token"
                    .to_string(),
        })
    }
    /// Whether this workstation joins Entra only with the provisioning package an administrator
    /// uploaded for the target directory (Windows: a `.ppkg` cannot be built on the device), so
    /// that a run without one fails its pre-flight.
    fn joins_entra_with_package(&self) -> bool {
        false
    }
    /// Joins the Entra tenant `tenant` by applying `package`, the `.ppkg` Windows Configuration
    /// Designer built for it (it embeds a bulk enrollment token): checked against its SHA-256,
    /// written to a folder only SYSTEM and administrators can read under
    /// `%ProgramData%\rehome`, applied with `Install-ProvisioningPackage -ForceInstall
    /// -QuietInstall` after setting `HKLM\SOFTWARE\Microsoft\PolicyManager\current\device\Security`
    /// `AllowAddProvisioningPackage` to 1, removed, and the join read back: a device the package
    /// did not join to `tenant` fails naming what it is joined to. A no-op when already joined.
    fn join_entra_with_package(
        &mut self,
        tenant: &str,
        package: &ProvisioningPackage,
    ) -> Result<Effect> {
        let _ = (tenant, package);
        Err(crate::Error::Unsupported {
            action: "JoinEntra".to_string(),
            reason: "this workstation cannot apply a provisioning package".to_string(),
        })
    }
    /// Joins `domain` offline from the provisioning `blob` the server prepared
    /// (`NetRequestOfflineDomainJoin` with the blob, `NETSETUP_PROVISION_ONLINE_CALLER` and the
    /// Windows folder), taking effect at the next reboot; a no-op when already joined to it. A
    /// blob for another domain is refused and nothing changes.
    fn join_active_directory_offline(&mut self, domain: &str, blob: &[u8]) -> Result<Effect> {
        let _ = (domain, blob);
        Err(crate::Error::Unsupported {
            action: "JoinActiveDirectory".to_string(),
            reason: "this workstation cannot join a domain offline".to_string(),
        })
    }

    /// Every SID found on the device: profile owners, trustees of file descriptors, local group
    /// members, and members kept by the local group backup.
    fn list_sids(&self) -> Result<BTreeSet<Sid>>;
    /// Translates the SIDs of `map` in one area.
    fn update_permissions(
        &mut self,
        area: PermissionArea,
        map: &SidMap,
        options: &TranslateOptions,
    ) -> Result<Effect>;
    /// The members of every local group (`NetLocalGroupEnum`, `NetLocalGroupGetMembers`).
    fn local_group_members(&self) -> Result<BTreeMap<String, Vec<Sid>>>;
    /// The user profiles on the device (ProfileList).
    fn harvest_profiles(&self) -> Result<Vec<UserProfile>>;

    /// Suspends BitLocker protectors so the reboots of a join do not ask for a recovery key.
    fn suspend_bitlocker(&mut self) -> Result<Effect>;
    /// Resumes BitLocker protectors.
    fn resume_bitlocker(&mut self) -> Result<Effect>;
    /// Keeps the legal notice (never overwriting an earlier copy) and shows a migration notice.
    fn backup_legal_notice(&mut self) -> Result<Effect>;
    /// Puts the kept legal notice back.
    fn restore_legal_notice(&mut self) -> Result<Effect>;
    /// Keeps the members of every local group (never overwriting an earlier copy).
    fn backup_local_groups(&mut self) -> Result<Effect>;
    /// Puts back kept members that are missing, translated through `map` where it has them.
    fn restore_local_groups(&mut self, map: &SidMap) -> Result<Effect>;
    /// Keeps the AppX packages registered for each user (never overwriting an earlier copy).
    fn backup_appx(&mut self) -> Result<Effect>;
    /// Registers the kept packages for each user's translated SID.
    fn restore_appx(&mut self, map: &SidMap) -> Result<Effect>;
    /// Removes the Windows Hello containers tied to the old identities.
    fn reset_windows_hello(&mut self) -> Result<Effect>;

    // Primitives. Registry keys are named from their root (`HKLM\SOFTWARE\…`, or
    // `HKU\<SID>\…` for a user's hive, which the Windows implementation loads with
    // `RegLoadKeyW` when the user is not logged on); key and value names compare
    // case-insensitively, as on Windows. Each returns whether it changed anything.

    /// The securable objects of `area`, in a stable order: for the file system every file and
    /// folder of the local fixed volumes (`FindFirstFileExW`), by full path.
    fn securable_objects(&self, area: Area) -> Result<Vec<String>>;
    /// The descriptor of `object` as self-relative MS-DTYP binary (`GetNamedSecurityInfoW` with
    /// owner, group, DACL and SACL, then `MakeSelfRelativeSD`).
    fn read_descriptor(&self, area: Area, object: &str) -> Result<Vec<u8>>;
    /// Writes the `parts` of `descriptor` to `object` (`SetNamedSecurityInfoW` with those
    /// `*_SECURITY_INFORMATION` flags and, for a protected DACL, `PROTECTED_DACL_…`).
    fn write_descriptor(
        &mut self,
        area: Area,
        object: &str,
        descriptor: &[u8],
        parts: SecurityParts,
    ) -> Result<()>;
    /// A system environment variable (`%SystemRoot%` …), for the Areas to Ignore.
    fn environment_variable(&self, name: &str) -> Result<Option<String>>;

    /// `RegGetValueW`: the value, or `None` when the key or the value is absent.
    fn registry_value(&self, key: &str, name: &str) -> Result<Option<RegValue>>;
    /// `RegEnumValueW`: the names of the values of `key` (none when it is absent).
    fn registry_value_names(&self, key: &str) -> Result<Vec<String>>;
    /// `RegEnumKeyExW`: the names of the subkeys of `key` (none when it is absent).
    fn registry_subkeys(&self, key: &str) -> Result<Vec<String>>;
    /// `RegCreateKeyExW` + `RegSetValueExW`.
    fn set_registry_value(&mut self, key: &str, name: &str, value: &RegValue) -> Result<bool>;
    /// `RegDeleteKeyValueW`.
    fn delete_registry_value(&mut self, key: &str, name: &str) -> Result<bool>;
    /// `RegDeleteTreeW` then `RegDeleteKeyW`: the key and everything under it.
    fn delete_registry_key(&mut self, key: &str) -> Result<bool>;
    /// `LsaAddAccountRights`: grants `right` (e.g. `SeDenyInteractiveLogonRight`) to `sid`.
    fn grant_user_right(&mut self, right: &str, sid: &Sid) -> Result<bool>;
    /// `LsaRemoveAccountRights`.
    fn revoke_user_right(&mut self, right: &str, sid: &Sid) -> Result<bool>;
    /// The user rights and privileges held by anyone on the device.
    fn user_rights(&self) -> Result<Vec<String>>;
    /// The SIDs holding `right` (`LsaEnumerateAccountsWithUserRight`).
    fn user_right_holders(&self, right: &str) -> Result<BTreeSet<Sid>>;
    /// `NetUserAdd` then `NetLocalGroupAddMembers` into S-1-5-32-544; sets the password when the
    /// account exists already.
    fn create_local_administrator(&mut self, name: &str, password: &str) -> Result<bool>;
    /// `NetUserDel`.
    fn delete_local_user(&mut self, name: &str) -> Result<bool>;
    /// Whether the local account `name` exists (`NetUserGetInfo`).
    fn local_user_exists(&self, name: &str) -> Result<bool>;
    /// `SetComputerNameExW(ComputerNamePhysicalDnsHostname)`; takes effect at the next reboot on a
    /// real device.
    fn rename_computer(&mut self, name: &str) -> Result<bool>;
    /// Writes `legalnoticecaption` and `legalnoticetext`.
    fn write_legal_notice(&mut self, caption: &str, text: &str) -> Result<bool>;
    /// Deletes a folder and everything in it (`SHFileOperationW` / `RemoveDirectoryW`); returns
    /// how many files and folders went.
    fn remove_tree(&mut self, path: &str) -> Result<usize>;
    /// Connects to the share `unc` of another host as `account` (`WNetAddConnection2W`), so its
    /// files can be listed and their descriptors read and written by UNC path.
    fn connect_share(&mut self, unc: &str, account: &str, password: &str) -> Result<()>;
    /// `WNetCancelConnection2W`.
    fn disconnect_share(&mut self, unc: &str) -> Result<()>;
    /// Every file under `folder`, recursively, by full path (`FindFirstFileExW`).
    fn list_files(&self, folder: &str) -> Result<Vec<String>>;
    /// `GetFileAttributesW`; `None` when there is no such file.
    fn file_attributes(&self, path: &str) -> Result<Option<u32>>;
    /// Frees the local copy of a synced file, leaving a cloud-only placeholder
    /// (`CfDehydratePlaceholder`); false when the file cannot be (not in sync with the cloud).
    fn dehydrate(&mut self, path: &str) -> Result<bool>;
    /// Moves a file within its volume, creating the folders it needs; fails when `to` exists
    /// (`MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`). The file keeps its descriptor.
    fn move_file(&mut self, from: &str, to: &str) -> Result<()>;
    /// Unpacks the command package `zip` (its entries already checked by
    /// [`crate::package::check`]) into a fresh folder under the agent's data folder and runs its
    /// `cmdline.cmd` as SYSTEM (`CreateProcessW` of `cmd.exe /c`), stopping it after `timeout`.
    fn run_command_package(
        &mut self,
        sha256: &str,
        zip: &[u8],
        timeout: std::time::Duration,
    ) -> Result<CommandOutcome>;
    /// Asks Windows to enrol the device in MDM now (`deviceenroller.exe /c /AutoEnrollMDM`, with
    /// the AutoEnrollMDM policy set): `Ok(true)` once it is enrolled, `Ok(false)` while the
    /// enrolment service does not accept it yet (retry later).
    fn enroll_mdm(&mut self) -> Result<bool>;
    /// Writes an event to the Application log under the source `rehome` (`ReportEventW`).
    fn write_event_log(&mut self, level: EventLevel, message: &str) -> Result<()>;
    /// Removes the agent from the device once this process has exited: its service
    /// (`DeleteService`) and its folder (`MoveFileExW` with `MOVEFILE_DELAY_UNTIL_REBOOT`).
    fn uninstall_agent(&mut self) -> Result<()>;
    /// A step finished with `changes`: a point where the workstation may make its state durable.
    fn checkpoint(&mut self, step: &str, changes: usize) -> Result<()>;

    /// Every service and the account it runs as (`EnumServicesStatusExW`, `QueryServiceConfigW`
    /// for `lpServiceStartName`, `LookupAccountNameW` for its SID), by service name.
    fn service_accounts(&self) -> Result<Vec<(String, Sid)>> {
        Err(crate::Error::Unsupported {
            action: "UpdateAreaPermissions".to_string(),
            reason: "this workstation cannot read the accounts services run as".to_string(),
        })
    }

    /// Makes `service` run as `account` (`LookupAccountSidW` for its name, `ChangeServiceConfigW`
    /// with `SERVICE_NO_CHANGE` everywhere but `lpServiceStartName`, and `lpPassword` NULL so the
    /// stored password stays), and grants the account `SeServiceLogonRight`
    /// (`LsaAddAccountRights`); false when it runs as `account` already.
    fn set_service_account(&mut self, service: &str, account: &Sid) -> Result<bool> {
        let _ = (service, account);
        Err(crate::Error::Unsupported {
            action: "UpdateAreaPermissions".to_string(),
            reason: "this workstation cannot change the account a service runs as".to_string(),
        })
    }

    /// Every scheduled task and its principal, by task path (`ITaskService::GetFolder`,
    /// `ITaskFolder::GetTasks` with `TASK_ENUM_HIDDEN` in every folder,
    /// `IRegisteredTask::get_Definition`, `IPrincipal::get_UserId` / `get_GroupId` /
    /// `get_LogonType`, `LookupAccountNameW`).
    fn task_principals(&self) -> Result<Vec<(String, TaskPrincipal)>> {
        Err(crate::Error::Unsupported {
            action: "UpdateAreaPermissions".to_string(),
            reason: "this workstation cannot read who scheduled tasks run as".to_string(),
        })
    }

    /// Makes `task` run as `principal` (`IPrincipal::put_UserId` or `put_GroupId` and
    /// `put_LogonType`, then `ITaskFolder::RegisterTaskDefinition` with `TASK_UPDATE` and that
    /// logon type, no password); false when it does already.
    fn set_task_principal(&mut self, task: &str, principal: &TaskPrincipal) -> Result<bool> {
        let _ = (task, principal);
        Err(crate::Error::Unsupported {
            action: "UpdateAreaPermissions".to_string(),
            reason: "this workstation cannot change who a scheduled task runs as".to_string(),
        })
    }

    /// Shows the Cache Credentials dialog (`title`, `message`, a user name and a password box)
    /// in the session of the user signed in at the console (`WTSGetActiveConsoleSessionId`,
    /// `WTSQueryUserToken`, the tray started there with `CreateProcessAsUserW` and asked over its
    /// named pipe) and waits for the answer: the session user's SID (`GetTokenInformation` with
    /// `TokenUser`) and what they typed, or `None` when they pressed Cancel or nobody is signed
    /// in.
    fn prompt_credentials(
        &mut self,
        title: &str,
        message: &str,
    ) -> Result<Option<EnteredCredentials>> {
        let _ = (title, message);
        Err(crate::Error::Unsupported {
            action: "CacheCredentials".to_string(),
            reason:
                "this workstation cannot show the Cache Credentials dialog to the signed-in user"
                    .to_string(),
        })
    }

    /// Signs `username` in to `domain` with `password` against one of its domain controllers
    /// (`LogonUserW` with `LOGON32_LOGON_INTERACTIVE`, `LOGON32_PROVIDER_DEFAULT`, then
    /// `CloseHandle`): an interactive logon a domain controller accepted leaves its verifier in
    /// the logon cache (`HKLM\SECURITY\Cache`, `NL$1`…`NL$<CachedLogonsCount>`), which lets the
    /// user sign in later without sight of a domain controller. `Ok(false)` when the domain
    /// controller refused the account or password (`ERROR_LOGON_FAILURE`); an error when none
    /// answered (`ERROR_NO_LOGON_SERVERS`).
    fn cache_logon(&mut self, domain: &str, username: &str, password: &str) -> Result<bool> {
        let _ = (domain, username, password);
        Err(crate::Error::Unsupported {
            action: "CacheCredentials".to_string(),
            reason: "this workstation cannot sign a user in to the target domain".to_string(),
        })
    }

    // Pre-flight primitives: read-only questions the gates ask before the first change. A
    // workstation that cannot answer one fails that gate with its reason, loudly.

    /// Whether the directory a join goes to answers from this device now: for an Active
    /// Directory domain, a domain controller found with `DsGetDcNameW` (`DS_FORCE_REDISCOVERY`,
    /// `DS_WRITABLE_REQUIRED`); for an Entra tenant, its sign-in endpoint (WinHTTP GET of
    /// `https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration`).
    fn directory_reachable(&self, target: &str) -> Result<bool> {
        let _ = target;
        Err(crate::Error::Unsupported {
            action: "directory_reachable".to_string(),
            reason: "this workstation cannot check that the target directory answers".to_string(),
        })
    }

    /// Whether `domain` has a computer account `name` already: an LDAP search for
    /// `(sAMAccountName=<name>$)` on a domain controller found with `DsGetDcNameW`, bound as the
    /// join account (`ldap_bind_sW`), which also proves the account's password.
    fn computer_account_exists(&self, domain: &str, name: &str, join: &AdJoin<'_>) -> Result<bool> {
        let _ = (domain, name, join);
        Err(crate::Error::Unsupported {
            action: "computer_account_exists".to_string(),
            reason: "this workstation cannot look up computer accounts in the target domain"
                .to_string(),
        })
    }

    /// The process holding the registry hive file `path` (a user's `NTUSER.DAT`) open, as
    /// `name (pid)`, or `None` when nothing holds it (Restart Manager: `RmStartSession`,
    /// `RmRegisterResources` with the file, `RmGetList`; a hive loaded for a signed-in user is
    /// held by the system and reported as such).
    fn hive_holder(&self, path: &str) -> Result<Option<String>> {
        let _ = path;
        Err(crate::Error::Unsupported {
            action: "hive_holder".to_string(),
            reason: "this workstation cannot tell which process holds a user's hive open"
                .to_string(),
        })
    }

    // Readiness primitives: read-only questions the readiness checks ask. A workstation that
    // cannot answer one leaves that check Unknown, never passed.

    /// Every profile of ProfileList (`HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\
    /// ProfileList\<SID>`: `ProfileImagePath`, `State`, `CentralProfile`, a `<SID>.bak` sibling,
    /// `LocalProfileLoadTimeHigh/Low`), whether its hive opens (`RegLoadAppKeyW` read-only), the
    /// account its SID names (`LookupAccountSidW`) and the container that mounts it (FSLogix's
    /// `HKLM\SOFTWARE\FSLogix\Profiles` `Enabled`, a `frxsvc` VHD path).
    fn profile_conditions(&self) -> Result<Vec<ProfileCondition>> {
        Err(unanswered("ProfileList and the profiles' hives"))
    }

    /// The processes running as a user other than SYSTEM and the services' accounts, as
    /// `name (pid)` and the user's SID (`WTSEnumerateProcessesExW` level 1, `pUserSid`).
    fn user_processes(&self) -> Result<Vec<(String, Sid)>> {
        Err(unanswered(
            "the processes running as users (WTSEnumerateProcessesExW)",
        ))
    }

    /// The system volume's BitLocker state (WMI `root\cimv2\Security\MicrosoftVolumeEncryption`
    /// `Win32_EncryptableVolume`: `GetConversionStatus`, `GetProtectionStatus`) and where its
    /// recovery password was backed up (`GetKeyProtectors` type 3, then the BitLocker-API event
    /// log's backup events 845 for AD and 843 for Entra).
    fn bitlocker_state(&self) -> Result<BitLockerState> {
        Err(unanswered("the BitLocker state (Win32_EncryptableVolume)"))
    }

    /// The TPM's specification version (`root\cimv2\Security\MicrosoftTpm` `Win32_Tpm`
    /// `SpecVersion`, its first number), or `None` when there is no TPM.
    fn tpm_version(&self) -> Result<Option<String>> {
        Err(unanswered("the TPM (Win32_Tpm)"))
    }

    /// Free and total space of the system volume (`GetDiskFreeSpaceExW` on `%SystemDrive%`) and
    /// its disk's health (`root\Microsoft\Windows\Storage` `MSFT_PhysicalDisk.HealthStatus`).
    fn system_volume(&self) -> Result<SystemVolume> {
        Err(unanswered(
            "the system volume (GetDiskFreeSpaceExW, MSFT_PhysicalDisk)",
        ))
    }

    /// Whether `url` answers an HTTPS request from the device (WinHTTP `HEAD`, any status).
    fn endpoint_reachable(&self, url: &str) -> Result<bool> {
        let _ = url;
        Err(unanswered("HTTPS endpoints (WinHTTP)"))
    }

    /// Software that gets in a migration's way: the ConfigMgr client (service `CcmExec`), MDM
    /// enrolments (`HKLM\SOFTWARE\Microsoft\Enrollments\*` with a `ProviderID`), an EDR that
    /// isolated the device (Defender for Endpoint's `root\Microsoft\Windows\Defender`
    /// `MSFT_MpComputerStatus` and the isolation firewall rules), and application control
    /// (`Win32_DeviceGuard.CodeIntegrityPolicyEnforcementStatus`, AppLocker's `Get-AppLockerPolicy
    /// -Effective` tested against the agent's path).
    fn interfering_software(&self) -> Result<Vec<Interference>> {
        Err(unanswered(
            "installed software (services, Enrollments, Win32_DeviceGuard)",
        ))
    }

    /// The kinds of interfering software [`Workstation::interference_not_checked`] cannot look
    /// for on this device, each with the reason: their checks are Unknown, not passed, when
    /// nothing of that kind is found.
    fn interference_not_checked(&self) -> Vec<(InterferenceKind, String)> {
        Vec::new()
    }

    /// Why a reboot is pending, or `None`: `Component Based Servicing\RebootPending`,
    /// `WindowsUpdate\Auto Update\RebootRequired`, `Session Manager` `PendingFileRenameOperations`.
    fn pending_reboot(&self) -> Result<Option<String>> {
        Err(unanswered("the pending reboot markers"))
    }

    /// The battery charge in percent when the device runs on battery, `None` on mains
    /// (`GetSystemPowerStatus`: `ACLineStatus`, `BatteryLifePercent`).
    fn on_battery(&self) -> Result<Option<u8>> {
        Err(unanswered("the power source (GetSystemPowerStatus)"))
    }

    /// Restarts the device in `minutes`, telling the signed-in user `message`
    /// (`InitiateSystemShutdownExW` with the reboot flag, apps not forced closed, a planned
    /// maintenance reason, after enabling `SeShutdownPrivilege`). False when a restart is
    /// already pending (`ERROR_SHUTDOWN_IN_PROGRESS`): that one stands.
    fn schedule_restart(&mut self, minutes: u32, message: &str) -> Result<bool> {
        let _ = (minutes, message);
        Err(crate::Error::Unsupported {
            action: "schedule_restart".to_string(),
            reason: "this workstation cannot schedule a restart".to_string(),
        })
    }

    /// Whether [`Workstation::schedule_restart`] can work on this device (`SeShutdownPrivilege`
    /// enabled in the agent's token), asked by the pre-flight of a runbook that joins, leaves or
    /// renames before its first change: a join the device cannot restart into would leave it
    /// half-moved. An error says why not.
    fn check_restart(&self) -> Result<()> {
        Err(crate::Error::Unsupported {
            action: "schedule_restart".to_string(),
            reason: "this workstation cannot schedule a restart".to_string(),
        })
    }

    /// Cancels the pending restart (`AbortSystemShutdownW`); false when none is pending
    /// (`ERROR_NO_SHUTDOWN_IN_PROGRESS`).
    fn cancel_restart(&mut self) -> Result<bool> {
        Err(crate::Error::Unsupported {
            action: "cancel_restart".to_string(),
            reason: "this workstation cannot cancel a restart".to_string(),
        })
    }

    // File contents: what the agent places on the device (a lock-screen image) and the
    // application files it edits (Edge's `Local State` and `Preferences`).

    /// The bytes of the file `path` (`CreateFileW` with `GENERIC_READ`, `FILE_SHARE_READ`,
    /// `OPEN_EXISTING`, then `ReadFile`), or `None` when there is no such file.
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let _ = path;
        Err(crate::Error::Unsupported {
            action: "read_file".to_string(),
            reason: "this workstation cannot read a file's contents".to_string(),
        })
    }

    /// Writes `bytes` as the whole content of the file `path`, creating the folders it needs
    /// (`CreateDirectoryW`): written beside it first (`CreateFileW` with `CREATE_ALWAYS`,
    /// `WriteFile`, `FlushFileBuffers`), then put in its place (`MoveFileExW` with
    /// `MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH`), so a crash leaves the old content or
    /// the new, never half of it. A new file inherits its folder's permissions. False when the
    /// file held these bytes already.
    fn write_file(&mut self, path: &str, bytes: &[u8]) -> Result<bool> {
        let _ = (path, bytes);
        Err(crate::Error::Unsupported {
            action: "write_file".to_string(),
            reason: "this workstation cannot write a file".to_string(),
        })
    }

    // Primitives under Windows Profiles, Local Groups and the default processing (BitLocker,
    // the legal notice, local group and AppX backups). The decisions are portable code above
    // them (`run::profiles`, `run::local_groups`, `run::defaults`).

    /// Points the ProfileList entry of `source` at `target`, so the target user signs in to the
    /// old profile folder: `RegCopyTreeW` of `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\<source>`
    /// to `…\ProfileList\<target>`, `RegSetValueExW` of its `Sid` (`REG_BINARY`, the target's
    /// binary SID), then `RegDeleteTreeW` of the source's key. False when `target` has the entry
    /// already and `source` none; fails, changing nothing, when `target` has a profile of its
    /// own.
    fn move_profile(&mut self, source: &Sid, target: &Sid) -> Result<bool> {
        let _ = (source, target);
        Err(crate::Error::Unsupported {
            action: "move_profile".to_string(),
            reason: "this workstation cannot re-key ProfileList".to_string(),
        })
    }

    /// Loads the hive file `file` (a user's `NTUSER.DAT`) at `HKU\<sid>` (`RegLoadKeyW` under
    /// `HKEY_USERS`, with `SE_RESTORE_NAME` and `SE_BACKUP_NAME` enabled by
    /// `AdjustTokenPrivileges`), so the user's keys can be read and written while they are not
    /// signed in. False when it is loaded already (the user is signed in, or an earlier call
    /// loaded it).
    fn load_user_hive(&mut self, sid: &Sid, file: &str) -> Result<bool> {
        let _ = (sid, file);
        Err(crate::Error::Unsupported {
            action: "load_user_hive".to_string(),
            reason: "this workstation cannot load a user's hive".to_string(),
        })
    }

    /// Unloads the hive [`Workstation::load_user_hive`] loaded at `HKU\<sid>` (`RegUnLoadKeyW`,
    /// after every handle to it is closed). False when the agent did not load it.
    fn unload_user_hive(&mut self, sid: &Sid) -> Result<bool> {
        let _ = sid;
        Err(crate::Error::Unsupported {
            action: "unload_user_hive".to_string(),
            reason: "this workstation cannot unload a user's hive".to_string(),
        })
    }

    /// Adds `member` to the local group `group` (`NetLocalGroupAddMembers` level 0 with its SID;
    /// `ERROR_MEMBER_IN_ALIAS` answers false).
    fn add_local_group_member(&mut self, group: &str, member: &Sid) -> Result<bool> {
        let _ = (group, member);
        Err(crate::Error::Unsupported {
            action: "add_local_group_member".to_string(),
            reason: "this workstation cannot add local group members".to_string(),
        })
    }

    /// Removes `member` from the local group `group` (`NetLocalGroupDelMembers` level 0;
    /// `ERROR_MEMBER_NOT_IN_ALIAS` answers false).
    fn remove_local_group_member(&mut self, group: &str, member: &Sid) -> Result<bool> {
        let _ = (group, member);
        Err(crate::Error::Unsupported {
            action: "remove_local_group_member".to_string(),
            reason: "this workstation cannot remove local group members".to_string(),
        })
    }

    /// BitLocker on the OS volume: `Win32_EncryptableVolume` of `%SystemDrive%` in
    /// `root\CIMV2\Security\MicrosoftVolumeEncryption`, `GetConversionStatus` (encrypted) and
    /// `GetProtectionStatus` (protectors on).
    fn bitlocker_status(&self) -> Result<BitLockerStatus> {
        Err(crate::Error::Unsupported {
            action: "bitlocker_status".to_string(),
            reason: "this workstation cannot read BitLocker's state".to_string(),
        })
    }

    /// Turns the OS volume's key protectors off until turned on again
    /// (`Win32_EncryptableVolume.DisableKeyProtectors` with `DisableCount` 0) or on
    /// (`EnableKeyProtectors`); false when they are so already.
    fn set_bitlocker_protectors(&mut self, enabled: bool) -> Result<bool> {
        let _ = enabled;
        Err(crate::Error::Unsupported {
            action: "set_bitlocker_protectors".to_string(),
            reason: "this workstation cannot suspend or resume BitLocker".to_string(),
        })
    }

    /// The legal notice shown before sign-in: `legalnoticecaption` and `legalnoticetext` of
    /// `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System` (`RegGetValueW`),
    /// blank when absent.
    fn legal_notice(&self) -> Result<(String, String)> {
        Err(crate::Error::Unsupported {
            action: "legal_notice".to_string(),
            reason: "this workstation cannot read the legal notice".to_string(),
        })
    }

    /// The AppX packages registered for each user, by SID, as package full names
    /// (`PackageManager.FindPackagesForUser` for each ProfileList SID).
    fn appx_packages(&self) -> Result<BTreeMap<Sid, Vec<String>>> {
        Err(crate::Error::Unsupported {
            action: "appx_packages".to_string(),
            reason: "this workstation cannot list AppX packages".to_string(),
        })
    }

    /// Registers the package `package` for `user` at their first sign-in after the migration:
    /// an Active Setup entry (`HKLM\SOFTWARE\Microsoft\Active Setup\Installed Components\rehome-appx`,
    /// `StubPath` running `Add-AppxPackage -DisableDevelopmentMode -Register <InstallLocation>\AppxManifest.xml`)
    /// that runs in the user's context. False when it is registered already.
    fn register_appx(&mut self, user: &Sid, package: &str) -> Result<bool> {
        let _ = (user, package);
        Err(crate::Error::Unsupported {
            action: "register_appx".to_string(),
            reason: "this workstation cannot register AppX packages for a user".to_string(),
        })
    }
}
