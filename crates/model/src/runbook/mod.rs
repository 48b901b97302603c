//! Runbooks: the instructions an agent runs, as general settings plus six tabs (one module each).

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::directory::DirectoryKind;
use crate::ids::{DirectoryId, RunbookId};
use crate::rules::PasswordPolicy;
use crate::{Error, FieldError, Result, Validator};

mod apps;
mod completion;
mod device_state;
mod permissions;
mod startup;
mod user_experience;

pub use apps::{AppMode, AppSettings, InformationProtection, OneDrive, Switch};
pub use completion::CompletionSettings;
pub use device_state::{
    ActiveDirectoryJoin, DeviceStateSettings, DomainJoin, HybridJoin, RemoveFrom, Rename,
};
pub use permissions::{
    default_ignore_patterns, Area, PermissionMode, PermissionSettings, RemoteFileShares,
    DEFAULT_IGNORE,
};
pub use startup::{
    AdminFallback, LockScreenImage, StartupSettings, UserInteraction,
    DEFAULT_READINESS_MAX_AGE_HOURS,
};
pub use user_experience::{
    dialog_key, labels_of, placeholders_of, Culture, DialogText, Dialogs, SafeHtml,
    UserExperienceSettings, DEFAULT_CULTURE,
};

/// A runbook as configured in the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runbook {
    /// Its id.
    pub id: RunbookId,
    /// A unique, recognisable name.
    pub name: String,
    /// Directories whose devices this runbook may migrate.
    pub source_directories: Vec<DirectoryId>,
    /// The directory devices end up in.
    pub target_directory: DirectoryId,
    /// Whether the runbook may run on a server edition of Windows.
    #[serde(default)]
    pub allow_on_server_os: bool,
    /// Runbooks that must have Completed on the device before this one starts.
    #[serde(default)]
    pub prerequisites: Vec<RunbookId>,
    /// Startup tab.
    #[serde(default)]
    pub startup: StartupSettings,
    /// User Experience tab.
    #[serde(default)]
    pub user_experience: UserExperienceSettings,
    /// Device State tab.
    #[serde(default)]
    pub device_state: DeviceStateSettings,
    /// Permission Updates tab.
    #[serde(default)]
    pub permissions: PermissionSettings,
    /// App Reconfiguration tab.
    #[serde(default)]
    pub apps: AppSettings,
    /// Completion tab.
    #[serde(default)]
    pub completion: CompletionSettings,
}

/// A password the console accepts but never shows again.
///
/// It deserializes from a string (blank or null means "not given": keep the stored one), prints
/// `<hidden>` in Debug, and the fields holding it are `skip_serializing`, so it never leaves in
/// an API response or a log. Keeping it is the store's job: issue 5's secrets at rest encrypt it
/// there, and the agent receives it through that path, not inside the runbook's JSON.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Option<String>);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        if value.is_empty() {
            Secret(None)
        } else {
            Secret(Some(value))
        }
    }

    /// The value, for the code that must use it (the store, the agent's join).
    pub fn expose(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// True when a value was given.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Secret, D::Error> {
        Ok(Option::<String>::deserialize(d)?
            .map(Secret::new)
            .unwrap_or_default())
    }
}

/// A runbook's passwords, apart from the runbook: what the store seals and what the agent's
/// check-in assignment (itself encrypted) carries. Debug never shows them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookSecrets {
    /// The fallback local administrator's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_fallback_password: Option<String>,
    /// The Active Directory join account's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_join_password: Option<String>,
    /// The remote file shares account's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_file_shares_password: Option<String>,
}

impl fmt::Debug for RunbookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunbookSecrets { <hidden> }")
    }
}

/// Whether each of a runbook's passwords is set: all the API shows of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsSet {
    /// The fallback local administrator's password is set.
    pub admin_fallback_password: bool,
    /// The Active Directory join account's password is set.
    pub domain_join_password: bool,
    /// The remote file shares account's password is set.
    pub remote_file_shares_password: bool,
}

impl RunbookSecrets {
    /// The names under which the store keeps them, with their values.
    pub fn entries(&self) -> [(&'static str, Option<&str>); 3] {
        [
            (
                "admin_fallback_password",
                self.admin_fallback_password.as_deref(),
            ),
            ("domain_join_password", self.domain_join_password.as_deref()),
            (
                "remote_file_shares_password",
                self.remote_file_shares_password.as_deref(),
            ),
        ]
    }

    /// Sets the one stored under `name`; unknown names are ignored.
    pub fn set(&mut self, name: &str, value: String) {
        match name {
            "admin_fallback_password" => self.admin_fallback_password = Some(value),
            "domain_join_password" => self.domain_join_password = Some(value),
            "remote_file_shares_password" => self.remote_file_shares_password = Some(value),
            _ => {}
        }
    }

    /// Which are set.
    pub fn set_flags(&self) -> SecretsSet {
        SecretsSet {
            admin_fallback_password: self.admin_fallback_password.is_some(),
            domain_join_password: self.domain_join_password.is_some(),
            remote_file_shares_password: self.remote_file_shares_password.is_some(),
        }
    }
}

impl Runbook {
    /// The passwords given in this runbook, for the store. A section that is off has none.
    pub fn secrets(&self) -> RunbookSecrets {
        let given = |s: &Secret| s.expose().map(str::to_string);
        RunbookSecrets {
            admin_fallback_password: self
                .startup
                .admin_fallback
                .as_ref()
                .and_then(|a| given(&a.password)),
            domain_join_password: given(&self.device_state.active_directory.password),
            remote_file_shares_password: self
                .permissions
                .remote_file_shares
                .as_ref()
                .and_then(|r| given(&r.password)),
        }
    }

    /// Fills each password not given here from `stored` (blank means "keep the stored one"),
    /// where its section is still on.
    pub fn keep_secrets(&mut self, stored: &RunbookSecrets) {
        fn keep(secret: &mut Secret, stored: &Option<String>) {
            if let (false, Some(value)) = (secret.is_set(), stored) {
                *secret = Secret::new(value.clone());
            }
        }
        if let Some(admin) = self.startup.admin_fallback.as_mut() {
            keep(&mut admin.password, &stored.admin_fallback_password);
        }
        keep(
            &mut self.device_state.active_directory.password,
            &stored.domain_join_password,
        );
        if let Some(shares) = self.permissions.remote_file_shares.as_mut() {
            keep(&mut shares.password, &stored.remote_file_shares_password);
        }
    }
}

/// A command package (a zip with `cmdline.cmd` at its root) stored once and referenced by hash;
/// the zip itself is checked where it is uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandPackageRef {
    /// File name as uploaded, for display.
    pub name: String,
    /// Lower-case hex SHA-256 of the zip.
    pub sha256: String,
}

pub(crate) fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn check_package(v: &mut Validator, field: &str, package: &CommandPackageRef) {
    v.check(
        package.name.to_ascii_lowercase().ends_with(".zip"),
        format!("{}.name", field),
        "a command package is a .zip file",
    );
    v.check(
        is_sha256(&package.sha256),
        format!("{}.sha256", field),
        "not a SHA-256 hash: upload the package again",
    );
}

/// Moves the field errors of `result` into `v`.
fn keep(v: &mut Validator, result: Result<()>) {
    if let Err(Error::Invalid(errors)) = result {
        for FieldError { field, message } in errors {
            v.fail(field, message);
        }
    } else if let Err(e) = result {
        v.fail("", e.to_string());
    }
}

/// What only the server knows when a runbook is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookContext {
    /// Kind of the target directory.
    pub target_kind: DirectoryKind,
    /// Whether the target directory has a bulk enrollment token or a provisioning package (one
    /// is needed for an Entra join).
    pub target_has_bprt: bool,
    /// Whether a prerequisite runbook caches user credentials (enough for an offline join).
    pub prerequisite_caches_credentials: bool,
    /// The complexity the devices demand of the fallback administrator's password.
    pub password_policy: PasswordPolicy,
}

impl Runbook {
    /// Checks every rule the runbook can check alone; the error names each field that breaks one.
    pub fn validate(&self) -> Result<()> {
        let mut v = Validator::default();
        self.check(&mut v, &PasswordPolicy::default());
        v.finish()
    }

    /// Checks every rule, including those that need the target directory and the prerequisites.
    pub fn validate_with(&self, context: &RunbookContext) -> Result<()> {
        let mut v = Validator::default();
        self.check(&mut v, &context.password_policy);
        let state = &self.device_state;
        match state.domain_join {
            DomainJoin::None => {}
            DomainJoin::ActiveDirectory => v.check(
                context.target_kind == DirectoryKind::ActiveDirectory,
                "device_state.domain_join",
                "the target directory is Entra: choose Entra, or a target Active Directory",
            ),
            DomainJoin::Entra => {
                if context.target_kind != DirectoryKind::EntraId {
                    v.fail(
                        "device_state.domain_join",
                        "the target directory is Active Directory: choose Active Directory, or an Entra target",
                    );
                } else {
                    v.check(
                        context.target_has_bprt,
                        "device_state.domain_join",
                        "the target directory has no bulk enrollment token and no provisioning package: create a token or upload a package before joining devices to Entra",
                    );
                }
            }
        }
        v.check(
            state.domain_join != DomainJoin::ActiveDirectory
                || !state.active_directory.offline_domain_join
                || state.cache_user_credentials
                || context.prerequisite_caches_credentials,
            "device_state.active_directory.offline_domain_join",
            "an offline join needs cached credentials: tick Cache User Credentials here or in a prerequisite runbook",
        );
        v.finish()
    }

    fn check(&self, v: &mut Validator, policy: &PasswordPolicy) {
        let name = self.name.trim();
        v.check(!name.is_empty(), "name", "a runbook needs a name");
        v.check(name.len() <= 100, "name", "at most 100 characters");
        crate::visible::check_name(v, "name", &self.name);
        v.check(
            !self.source_directories.is_empty(),
            "source_directories",
            "choose at least one source directory",
        );
        for (i, source) in self.source_directories.iter().enumerate() {
            if self.source_directories[..i].contains(source) {
                v.fail(format!("source_directories[{}]", i), "listed twice");
            }
        }
        // Batches and match profiles refuse the same: a move from a directory into itself has
        // nothing to translate, whether or not the device joins anything.
        v.check(
            !self.source_directories.contains(&self.target_directory),
            "source_directories",
            "the target directory must differ from the source directory: leave it out of the sources",
        );
        for (i, prerequisite) in self.prerequisites.iter().enumerate() {
            let field = format!("prerequisites[{}]", i);
            if *prerequisite == self.id {
                v.fail(field, "a runbook cannot be its own prerequisite");
            } else if self.prerequisites[..i].contains(prerequisite) {
                v.fail(field, "listed twice");
            }
        }
        self.startup.check(v, policy);
        self.user_experience
            .check(v, self.startup.set_legal_notice && !self.startup.do_not_run);
        self.device_state.check(v);
        self.permissions.check(v);
        self.apps.check(v);
        self.completion.check(v);
    }
}

/// Checks the prerequisites across a set of runbooks: each names a runbook of the set, and no
/// chain of prerequisites leads back to where it started. Errors are reported on the runbook
/// (by its position in `runbooks`) whose prerequisite closes the cycle or is missing.
pub fn check_prerequisites(runbooks: &[Runbook]) -> Result<()> {
    let index: HashMap<RunbookId, usize> = runbooks
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id, i))
        .collect();
    let mut v = Validator::default();
    // 0 unvisited, 1 on the current path, 2 done.
    let mut state = vec![0u8; runbooks.len()];
    for start in 0..runbooks.len() {
        if state[start] != 0 {
            continue;
        }
        // Iterative depth-first search: (runbook, next prerequisite to look at).
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(&mut (at, ref mut next)) = stack.last_mut() {
            let prerequisites = &runbooks[at].prerequisites;
            if *next == prerequisites.len() {
                state[at] = 2;
                stack.pop();
                continue;
            }
            let k = *next;
            *next += 1;
            let field = format!("runbooks[{}].prerequisites[{}]", at, k);
            match index.get(&prerequisites[k]) {
                None => v.fail(field, "no such runbook"),
                Some(&to) if state[to] == 1 => {
                    let mut names: Vec<&str> = stack
                        .iter()
                        .skip_while(|(r, _)| *r != to)
                        .map(|(r, _)| runbooks[*r].name.as_str())
                        .collect();
                    names.push(runbooks[to].name.as_str());
                    v.fail(
                        field,
                        format!(
                            "prerequisites go round in a circle: {}",
                            names.join(" needs ")
                        ),
                    );
                }
                Some(&to) if state[to] == 0 => {
                    state[to] = 1;
                    stack.push((to, 0));
                }
                Some(_) => {}
            }
        }
    }
    v.finish()
}

#[cfg(test)]
mod tests;
