//! The simulated workstation's state, laid out like the Windows places it models so that a
//! Windows implementation maps one to one, and the builder that creates one.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use model::plan::{JoinState, OsEdition};
use secdesc::{SecurityDescriptor, Sid};
use serde::{Deserialize, Serialize};

use crate::workstation::{
    RegValue, TaskLogon, TaskPrincipal, FILE_ATTRIBUTE_PINNED,
    FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS, FILE_ATTRIBUTE_UNPINNED,
};

/// Everything a simulated workstation is, stored as one JSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimState {
    /// NetBIOS computer name (`HKLM\SYSTEM\CurrentControlSet\Control\ComputerName`).
    pub computer_name: String,
    /// BIOS serial number (`Win32_BIOS.SerialNumber`).
    pub serial: String,
    /// Workstation or server (`ProductType`).
    pub os_edition: OsEdition,
    /// e.g. `Windows 11 Enterprise 23H2`.
    pub os_version: String,
    /// Minutes the device's wall clock is ahead of UTC (its time zone).
    pub utc_offset_minutes: i32,
    /// Its time zone's IANA name, if set.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The user logged on at the console (`WTSGetActiveConsoleSessionId`), if any.
    pub logged_on_user: Option<String>,
    /// `NetGetJoinInformation` / `NetGetAadJoinInformation`.
    pub join_state: JoinState,
    /// The machine's own domain SID: local accounts are this SID plus a RID.
    pub machine_sid: Sid,
    /// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList`, keyed by the owner's SID.
    pub profile_list: BTreeMap<Sid, ProfileEntry>,
    /// NTFS security descriptors (self-relative binary), keyed by Windows path. Kept in
    /// `descriptors.log`, not in `workstation.json`.
    #[serde(skip)]
    pub files: BTreeMap<String, Vec<u8>>,
    /// The securable objects of the other areas (registry keys, services, shares, printers, DCOM,
    /// scheduled tasks, SQL Server, IIS) by `area-slug|name`, also kept in `descriptors.log`.
    #[serde(skip)]
    pub area_objects: BTreeMap<String, Vec<u8>>,
    /// Descriptors in SDDL as devices created before the descriptor log kept them; moved into the
    /// log when such a device is opened.
    #[serde(default, rename = "files", skip_serializing)]
    pub(crate) legacy_files: BTreeMap<String, String>,
    /// SAM local groups (`NetLocalGroupGetMembers`): name → member SIDs.
    pub local_groups: BTreeMap<String, Vec<Sid>>,
    /// The OS volume's BitLocker state (`Win32_EncryptableVolume`).
    pub bitlocker: BitLocker,
    /// `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System` legalnotice values.
    pub legal_notice: LegalNotice,
    /// AppX packages registered per user SID (the StateRepository).
    pub appx: BTreeMap<Sid, Vec<String>>,
    /// Users with a Windows Hello container (`…\ServiceProfiles\LocalService\…\Ngc`).
    pub hello_containers: BTreeSet<Sid>,
    /// What Startup kept for Completion to put back (the agent's work key).
    pub backups: Backups,
    /// How many times each step changed something, keyed by the plan's step ids
    /// (`device-state/join-ad`): a re-run that finds nothing to do does not count.
    pub actions: BTreeMap<String, u32>,
    /// The registry: key path (lower case, `HKLM\…`) → value name (lower case) → value.
    #[serde(default)]
    pub registry: BTreeMap<String, BTreeMap<String, RegValue>>,
    /// LSA user rights: right → holders.
    #[serde(default)]
    pub user_rights: BTreeMap<String, BTreeSet<Sid>>,
    /// SAM local user accounts, keyed by lower-case name.
    #[serde(default)]
    pub local_users: BTreeMap<String, LocalUser>,
    /// File attributes other than 0, by path (OneDrive's pinned, unpinned, cloud-only).
    #[serde(default)]
    pub file_attributes: BTreeMap<String, u32>,
    /// Files whose changes OneDrive has not uploaded yet: they cannot be made cloud-only.
    #[serde(default)]
    pub out_of_sync: BTreeSet<String>,
    /// The MDM (Intune) enrolment, by tenant, when enrolled.
    #[serde(default)]
    pub mdm_enrolled: Option<String>,
    /// How many more enrolment attempts the enrolment service turns down (a test's fault).
    #[serde(default)]
    pub mdm_refusals_left: u32,
    /// The accounts the target domains' controllers accept, by `domain\\user` (lower case):
    /// the SHA-256 of the password, never the password. A test's setting.
    #[serde(default)]
    pub domain_accounts: BTreeMap<String, String>,
    /// The bulk enrollment token each Entra tenant accepts, by lower-case tenant: its SHA-256. A
    /// tenant not listed accepts any token that is not blank. A test's setting.
    #[serde(default)]
    pub entra_bulk_tokens: BTreeMap<String, String>,
    /// The SHA-256 of the bulk enrollment token the device joined Entra with, if it did.
    #[serde(default)]
    pub entra_join_token: Option<String>,
    /// The device joins Entra only with a provisioning package, as Windows does. A test's
    /// setting.
    #[serde(default)]
    pub entra_join_by_package: bool,
    /// The provisioning package each Entra tenant accepts, by lower-case tenant: its SHA-256. A
    /// tenant not listed accepts any package that arrived whole. A test's setting.
    #[serde(default)]
    pub entra_packages: BTreeMap<String, String>,
    /// The SHA-256 of the provisioning package the device joined Entra with, if it did.
    #[serde(default)]
    pub entra_join_package: Option<String>,
    /// The account each service runs as (`HKLM\SYSTEM\CurrentControlSet\Services\<name>`,
    /// `ObjectName`), resolved to its SID, by service name.
    #[serde(default)]
    pub service_accounts: BTreeMap<String, Sid>,
    /// Who each scheduled task runs as (`<Principal>` of `%windir%\System32\Tasks\<path>`), by
    /// task path.
    #[serde(default)]
    pub task_principals: BTreeMap<String, TaskPrincipal>,
    /// Computer accounts that already exist in the domains the device may join (domain, upper-case
    /// name): what a domain controller would answer.
    #[serde(default)]
    pub domain_computer_accounts: BTreeSet<(String, String)>,
    /// Domains and tenants that do not answer from this device now (a test's fault).
    #[serde(default)]
    pub unreachable: BTreeSet<String>,
    /// Processes holding a user's hive file open, by the file's path: the process (`name (pid)`)
    /// and how many more checks still find it open (`u32::MAX`: it never lets go). A test's
    /// fault.
    #[serde(default)]
    pub hive_holders: BTreeMap<String, (String, u32)>,
    /// Whether the agent is installed (it removes itself at the end of a runbook that asks).
    #[serde(default = "installed")]
    pub agent_installed: bool,
    /// The content of files the agent wrote or reads (a lock-screen image, Edge's `Local
    /// State`), by path: the SHA-256 of the bytes, which are kept once each under `contents/`
    /// beside `workstation.json`. Other files have no content here.
    #[serde(default)]
    pub file_contents: BTreeMap<String, String>,
    /// Command packages run, in order: their SHA-256 and entry count. The simulation does not
    /// execute scripts; it records that one ran.
    #[serde(default)]
    pub command_runs: Vec<(String, usize)>,
    /// How a package's script ends here, by SHA-256 (exit code, output); exit 0 and no output
    /// when not given, `None` for a script that never finishes.
    #[serde(default)]
    pub command_outcomes: BTreeMap<String, (Option<i32>, String)>,
    /// What the readiness checks find (ready unless set otherwise).
    #[serde(default)]
    pub readiness: super::readiness::SimReadiness,
    /// The restart the agent scheduled, until it is cancelled or the device starts again.
    #[serde(default)]
    pub scheduled_restart: Option<super::restart::SimRestart>,
    /// How many scheduled restarts the device has carried out.
    #[serde(default)]
    pub restarts: u32,
}

/// A local user account. The password itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalUser {
    /// The account name as created.
    pub name: String,
    /// The machine SID plus the account's RID.
    pub sid: Sid,
    /// A password was set.
    pub password_set: bool,
}

impl SimState {
    /// Puts the descriptors read from the log where they belong.
    pub(crate) fn place_descriptors(&mut self, all: BTreeMap<String, Vec<u8>>) {
        for (key, descriptor) in all {
            if key.contains('|') {
                self.area_objects.insert(key, descriptor);
            } else {
                self.files.insert(key, descriptor);
            }
        }
    }
}

fn installed() -> bool {
    true
}

/// One ProfileList entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEntry {
    /// `ProfileImagePath`, e.g. `C:\Users\alice`.
    pub profile_image_path: String,
    /// `State` bitmask (0x800 = temporary profile).
    pub state: u32,
    /// When the profile was last loaded.
    pub last_used: Option<DateTime<Utc>>,
}

/// BitLocker on the OS volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BitLocker {
    /// The volume is encrypted.
    pub encrypted: bool,
    /// Key protectors are suspended (`DisableKeyProtectors`).
    pub protectors_suspended: bool,
}

/// `legalnoticecaption` and `legalnoticetext`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalNotice {
    /// The caption.
    pub caption: String,
    /// The text.
    pub text: String,
}

/// Copies kept by the Startup backups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backups {
    /// The legal notice before the migration.
    pub legal_notice: Option<LegalNotice>,
    /// Local group members before the device left its domain.
    pub local_groups: Option<BTreeMap<String, Vec<Sid>>>,
    /// AppX packages per user before the migration.
    pub appx: Option<BTreeMap<Sid, Vec<String>>>,
}

/// A user of a simulated workstation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    /// The user's SID in the source directory.
    pub sid: Sid,
    /// The user name, which names the profile folder.
    pub name: String,
}

/// What to build a simulated workstation from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSpec {
    /// NetBIOS computer name.
    pub computer_name: String,
    /// BIOS serial number.
    pub serial: String,
    /// Workstation or server.
    pub os_edition: OsEdition,
    /// e.g. `Windows 11 Enterprise 23H2`.
    pub os_version: String,
    /// What it is joined to.
    pub join_state: JoinState,
    /// Users with a profile on it.
    pub users: Vec<SimUser>,
    /// Directory groups in the local Administrators group (e.g. the domain's Domain Admins).
    pub admin_groups: Vec<Sid>,
    /// The user logged on at the console, if any.
    pub logged_on_user: Option<String>,
    /// Minutes the wall clock is ahead of UTC.
    pub utc_offset_minutes: i32,
    /// The time zone's IANA name, if the device reports one.
    pub time_zone: Option<String>,
    /// Whether the OS volume is BitLocker-encrypted.
    pub bitlocker: bool,
    /// A OneDrive for Business account of this tenant (its id) linked for each user, with files
    /// in every state: synced, pinned, already cloud-only, not yet uploaded; and a personal
    /// OneDrive beside it.
    pub onedrive_tenant: Option<String>,
    /// Shares of other hosts (`\\\\nas01\\users`) holding a folder per user, for Remote File
    /// Shares.
    pub remote_shares: Vec<String>,
    /// Extra files in each profile's Documents (most inheriting, every tenth with an explicit
    /// grant to its user): the size of tree a benchmark or a mid-tree crash test needs.
    pub files_per_profile: usize,
}

impl SimSpec {
    /// A Windows 11 workstation joined to the AD `domain`, with a profile per user, BitLocker on,
    /// nobody logged on, and the domain's Domain Admins (the users' domain SID plus 512) in the
    /// local Administrators group.
    pub fn active_directory(
        computer_name: &str,
        serial: &str,
        domain: &str,
        users: Vec<SimUser>,
    ) -> SimSpec {
        let admin_groups = users
            .first()
            .and_then(|u| u.sid.parent())
            .and_then(|domain_sid| domain_sid.with_rid(DOMAIN_ADMINS).ok())
            .into_iter()
            .collect();
        SimSpec {
            computer_name: computer_name.to_string(),
            serial: serial.to_string(),
            os_edition: OsEdition::Workstation,
            os_version: "Windows 11 Enterprise 23H2".to_string(),
            join_state: JoinState::ActiveDirectory {
                domain: domain.to_string(),
            },
            users,
            admin_groups,
            logged_on_user: None,
            utc_offset_minutes: 0,
            time_zone: None,
            bitlocker: true,
            onedrive_tenant: None,
            remote_shares: Vec::new(),
            files_per_profile: 0,
        }
    }
}

/// RID of a domain's Domain Admins group.
pub(crate) const DOMAIN_ADMINS: u32 = 512;
/// RID of a domain's Domain Users group.
pub(crate) const DOMAIN_USERS: u32 = 513;

// The well-known local groups every Windows has; names are localised on real devices, which is why
// a Windows implementation resolves them from S-1-5-32-x rather than by name.
pub(crate) const ADMINISTRATORS: &str = "Administrators";
pub(crate) const USERS: &str = "Users";
pub(crate) const REMOTE_DESKTOP_USERS: &str = "Remote Desktop Users";

/// Where the simulation keeps key `tail` of the hive of the profile at `profile_path`.
pub(crate) fn hive_key(profile_path: &str, tail: &str) -> String {
    let root = format!("hive\\{}", profile_path.to_lowercase());
    if tail.is_empty() {
        root
    } else {
        format!("{}\\{}", root, tail.to_lowercase())
    }
}

/// A machine SID derived from the serial, so the same spec always builds the same device.
fn machine_sid(serial: &str) -> Sid {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in serial.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let parts = [
        (hash >> 33) as u32 | 0x1000_0000,
        (hash >> 1) as u32 & 0x7fff_ffff,
        (hash.rotate_left(17) as u32) & 0x7fff_ffff,
    ];
    // 21 plus three 32-bit values is a valid SID by construction.
    Sid::new(5, &[21, parts[0], parts[1], parts[2]]).unwrap_or_else(|_| unreachable!())
}

/// The state `spec` describes.
pub(crate) fn build(spec: &SimSpec) -> SimState {
    let machine = machine_sid(&spec.serial);
    let mut profile_list = BTreeMap::new();
    let mut files = BTreeMap::new();
    let mut appx = BTreeMap::new();
    let mut hello = BTreeSet::new();
    let mut admins: Vec<Sid> = machine.with_rid(500).into_iter().collect();
    admins.extend(spec.admin_groups.iter().cloned());
    let mut users_group = Vec::new();
    let mut rdp = Vec::new();
    let mut shared = String::from("O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");
    let mut registry: BTreeMap<String, BTreeMap<String, RegValue>> = BTreeMap::new();
    let mut file_attributes = BTreeMap::new();
    let mut out_of_sync = BTreeSet::new();

    for user in &spec.users {
        let sid = &user.sid;
        let home = format!("C:\\Users\\{}", user.name);
        profile_list.insert(
            sid.clone(),
            ProfileEntry {
                profile_image_path: home.clone(),
                state: 0,
                last_used: None,
            },
        );
        // The profile root: protected, explicit ACEs for SYSTEM, Administrators and the user (what
        // the User Profile Service needs, or it falls back to a TEMP profile).
        files.insert(
            home.clone(),
            format!(
                "O:{s}G:{s}D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;{s})",
                s = sid
            ),
        );
        let hive = format!(
            "O:{s}G:{s}D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;{s})",
            s = sid
        );
        files.insert(format!("{}\\NTUSER.DAT", home), hive.clone());
        files.insert(
            format!("{}\\AppData\\Local\\Microsoft\\Windows\\UsrClass.dat", home),
            hive,
        );
        // Inherited ACEs only: translation leaves them to be recomputed from the parent.
        files.insert(
            format!("{}\\Documents\\Notes.txt", home),
            format!(
                "O:{s}G:{s}D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;{s})",
                s = sid
            ),
        );
        // One explicit grant beside the inherited ones.
        files.insert(
            format!("{}\\Documents\\Budget.xlsx", home),
            format!(
                "O:{s}G:{s}D:AI(A;;0x1301bf;;;{s})(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;{s})",
                s = sid
            ),
        );
        let inherited = format!(
            "O:{s}G:{s}D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;{s})",
            s = sid
        );
        let explicit = format!(
            "O:{s}G:{s}D:AI(A;;0x1301bf;;;{s})(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;{s})",
            s = sid
        );
        if let Some(tenant) = &spec.onedrive_tenant {
            let folder = format!("{}\\OneDrive - Contoso", home);
            let accounts = hive_key(&home, "Software\\Microsoft\\OneDrive\\Accounts");
            let mut business = BTreeMap::new();
            business.insert("userfolder".to_string(), RegValue::Sz(folder.clone()));
            business.insert(
                "configuredtenantid".to_string(),
                RegValue::Sz(tenant.clone()),
            );
            registry.insert(format!("{}\\business1", accounts), business);
            let mut personal = BTreeMap::new();
            personal.insert(
                "userfolder".to_string(),
                RegValue::Sz(format!("{}\\OneDrive", home)),
            );
            registry.insert(format!("{}\\personal", accounts), personal);
            for (name, attributes, synced) in [
                ("Documents\\Plan.docx", 0, true),
                ("Documents\\Pinned.xlsx", FILE_ATTRIBUTE_PINNED, true),
                (
                    "Photos\\Old.jpg",
                    FILE_ATTRIBUTE_UNPINNED | FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS,
                    true,
                ),
                ("Drafts\\Unsent.txt", 0, false),
            ] {
                let path = format!("{}\\{}", folder, name);
                files.insert(path.clone(), inherited.clone());
                if attributes != 0 {
                    file_attributes.insert(path.clone(), attributes);
                }
                if !synced {
                    out_of_sync.insert(path);
                }
            }
            files.insert(
                format!("{}\\OneDrive\\Personal\\Diary.txt", home),
                inherited.clone(),
            );
        }
        for i in 0..spec.files_per_profile {
            let sddl = if i % 10 == 9 { &explicit } else { &inherited };
            files.insert(
                format!(
                    "{}\\Documents\\Projects\\{:03}\\file-{:06}.docx",
                    home,
                    i / 1000,
                    i
                ),
                sddl.clone(),
            );
        }
        for share in &spec.remote_shares {
            files.insert(
                format!("{}\\{}", share, user.name),
                format!("O:BAG:SYD:PAI(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;{})", sid),
            );
            files.insert(
                format!("{}\\{}\\Report.docx", share, user.name),
                format!("O:{s}G:{s}D:AI(A;ID;FA;;;BA)(A;ID;0x1301bf;;;{s})", s = sid),
            );
        }
        shared.push_str(&format!("(A;OICI;0x1301bf;;;{})", sid));
        appx.insert(
            sid.clone(),
            vec![
                "Microsoft.WindowsCalculator_8wekyb3d8bbwe".to_string(),
                "Microsoft.WindowsNotepad_8wekyb3d8bbwe".to_string(),
            ],
        );
        hello.insert(sid.clone());
        if let Some(domain_users) = sid.parent().and_then(|d| d.with_rid(DOMAIN_USERS).ok()) {
            if !users_group.contains(&domain_users) {
                users_group.push(domain_users);
            }
        }
        rdp.push(sid.clone());
    }
    files.insert("C:\\Data\\Projects".to_string(), shared);
    // A device bought through Autopilot keeps its tenant's profile.
    if let Some(tenant) = &spec.onedrive_tenant {
        let mut autopilot = BTreeMap::new();
        autopilot.insert(
            "cloudassignedtenantid".to_string(),
            RegValue::Sz(tenant.clone()),
        );
        autopilot.insert(
            "cloudassignedforcedenrollment".to_string(),
            RegValue::Dword(1),
        );
        registry.insert(
            "hklm\\software\\microsoft\\provisioning\\diagnostics\\autopilot".to_string(),
            autopilot,
        );
        let mut cache = BTreeMap::new();
        cache.insert(
            "prov".to_string(),
            RegValue::Sz(format!("{{\"CloudAssignedTenantId\":\"{}\"}}", tenant)),
        );
        registry.insert(
            "hklm\\software\\microsoft\\provisioning\\autopilotpolicycache".to_string(),
            cache,
        );
        files.insert(
            "C:\\Windows\\Provisioning\\Autopilot\\AutopilotConfigurationFile.json".to_string(),
            "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)".to_string(),
        );
    }
    // What Areas to Ignore leave alone by default: a system file naming the user.
    if let Some(user) = spec.users.first() {
        files.insert(
            "C:\\Windows\\System32\\Tasks\\Backup".to_string(),
            format!("O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;{})", user.sid),
        );
    }
    // One object in each area that holds descriptors, granting every user something, and WMI's
    // root, which names no user and so stays as it is; SQL Server and IIS are not installed.
    let grants = |sddl: &str, ace: &str| {
        let mut out = sddl.to_string();
        for user in &spec.users {
            out.push_str(&ace.replace("{}", &user.sid.to_string()));
        }
        out
    };
    for (key, sddl) in [
        (
            "registry|HKLM\\SOFTWARE\\Contoso\\Sync",
            grants("O:BAG:SYD:AI(A;CI;KA;;;SY)(A;CI;KA;;;BA)", "(A;CI;KR;;;{})"),
        ),
        (
            "services|ContosoSync",
            grants("O:SYG:SYD:(A;;CCLCSWRPWPDTLOCRRC;;;SY)", "(A;;RPWPDT;;;{})"),
        ),
        (
            "file-shares|Projects",
            grants("O:BAG:SYD:(A;;FA;;;BA)", "(A;;0x1301bf;;;{})"),
        ),
        (
            "printers|Floor 2",
            grants("O:BAG:SYD:(A;;LCSWSDRCWDWO;;;BA)", "(A;;SWRC;;;{})"),
        ),
        (
            "dcom|MachineLaunchRestriction",
            grants("O:BAG:BAD:(A;;CCDCLCSWRP;;;BA)", "(A;;CCDCLCSWRP;;;{})"),
        ),
        (
            "wmi-namespaces|root",
            "O:BAG:BAD:(A;CI;CCDCLCSWRPWPRCWD;;;BA)(A;CI;CCDCRP;;;AU)".to_string(),
        ),
        (
            "wmi-namespaces|root\\cimv2",
            grants(
                "O:BAG:BAD:(A;CI;CCDCLCSWRPWPRCWD;;;BA)",
                "(A;CI;CCDCWP;;;{})",
            ),
        ),
        (
            "scheduled-tasks|\\Contoso\\Backup",
            grants("O:BAG:SYD:(A;;FA;;;BA)", "(A;;FRFX;;;{})"),
        ),
    ] {
        files.insert(key.to_string(), sddl);
    }
    // Each distinct SDDL is parsed once: a large tree shares a handful of descriptors.
    let mut binary: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let all: BTreeMap<String, Vec<u8>> = files
        .into_iter()
        .map(|(path, sddl)| {
            let bytes = binary
                .entry(sddl)
                .or_insert_with_key(|sddl| match SecurityDescriptor::from_sddl(sddl, None) {
                    Ok(sd) => sd.to_bytes(),
                    Err(e) => unreachable!("the builder's own SDDL {} does not read: {}", sddl, e),
                })
                .clone();
            (path, bytes)
        })
        .collect();

    // A line-of-business service and two tasks run as the users, beside the system's own.
    let system: Sid = "S-1-5-18".parse().unwrap_or_else(|_| unreachable!());
    let mut service_accounts = BTreeMap::new();
    service_accounts.insert("Spooler".to_string(), system.clone());
    let mut task_principals = BTreeMap::new();
    task_principals.insert(
        "\\Microsoft\\Windows\\Defrag\\ScheduledDefrag".to_string(),
        TaskPrincipal {
            account: system,
            logon: TaskLogon::ServiceAccount,
        },
    );
    if let Some(first) = spec.users.first() {
        service_accounts.insert("ContosoSync".to_string(), first.sid.clone());
        task_principals.insert(
            "\\Contoso\\Backup".to_string(),
            TaskPrincipal {
                account: first.sid.clone(),
                logon: TaskLogon::InteractiveToken,
            },
        );
        let last = spec.users.last().unwrap_or(first);
        task_principals.insert(
            "\\Contoso\\Report".to_string(),
            TaskPrincipal {
                account: last.sid.clone(),
                logon: TaskLogon::Password,
            },
        );
    }

    let mut local_groups = BTreeMap::new();
    local_groups.insert(ADMINISTRATORS.to_string(), admins);
    local_groups.insert(USERS.to_string(), users_group);
    local_groups.insert(REMOTE_DESKTOP_USERS.to_string(), rdp);

    let mut state = SimState {
        computer_name: spec.computer_name.clone(),
        serial: spec.serial.clone(),
        os_edition: spec.os_edition,
        os_version: spec.os_version.clone(),
        utc_offset_minutes: spec.utc_offset_minutes,
        time_zone: spec.time_zone.clone(),
        logged_on_user: spec.logged_on_user.clone(),
        join_state: spec.join_state.clone(),
        machine_sid: machine,
        profile_list,
        files: BTreeMap::new(),
        area_objects: BTreeMap::new(),
        legacy_files: BTreeMap::new(),
        local_groups,
        bitlocker: BitLocker {
            encrypted: spec.bitlocker,
            protectors_suspended: false,
        },
        legal_notice: LegalNotice {
            caption: "Authorised use only".to_string(),
            text: "This computer belongs to the organisation.".to_string(),
        },
        appx,
        hello_containers: hello,
        backups: Backups::default(),
        actions: BTreeMap::new(),
        registry,
        user_rights: std::iter::once((
            "SeRemoteInteractiveLogonRight".to_string(),
            spec.users.iter().map(|u| u.sid.clone()).collect(),
        ))
        .collect(),
        local_users: BTreeMap::new(),
        domain_computer_accounts: BTreeSet::new(),
        unreachable: BTreeSet::new(),
        hive_holders: BTreeMap::new(),
        mdm_enrolled: None,
        mdm_refusals_left: 0,
        domain_accounts: BTreeMap::new(),
        entra_bulk_tokens: BTreeMap::new(),
        entra_join_token: None,
        entra_join_by_package: false,
        entra_packages: BTreeMap::new(),
        entra_join_package: None,
        service_accounts,
        task_principals,
        agent_installed: true,
        file_contents: BTreeMap::new(),
        command_runs: Vec::new(),
        command_outcomes: BTreeMap::new(),
        file_attributes,
        out_of_sync,
        readiness: Default::default(),
        scheduled_restart: None,
        restarts: 0,
    };
    state.place_descriptors(all);
    state
}
