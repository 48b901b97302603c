//! Directories, the objects imported from them, and the translation table built by matching.

use serde::{Deserialize, Serialize};

use crate::ids::{DirectoryId, ObjectGuid};
use crate::{Result, Validator};
use secdesc::Sid;

/// What kind of identity store a directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DirectoryKind {
    /// An Active Directory domain, read over LDAP.
    ActiveDirectory,
    /// An Entra ID tenant, read over Microsoft Graph.
    EntraId,
}

impl DirectoryKind {
    /// The stable name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            DirectoryKind::ActiveDirectory => "ActiveDirectory",
            DirectoryKind::EntraId => "EntraId",
        }
    }

    /// Parses [`DirectoryKind::as_str`].
    pub fn parse(s: &str) -> Option<DirectoryKind> {
        match s {
            "ActiveDirectory" => Some(DirectoryKind::ActiveDirectory),
            "EntraId" => Some(DirectoryKind::EntraId),
            _ => None,
        }
    }
}

/// A source or target directory as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Its id.
    pub id: DirectoryId,
    /// A name engineers recognise, e.g. `CONTOSO`.
    pub name: String,
    /// AD or Entra.
    pub kind: DirectoryKind,
    /// DNS domain (AD) or primary domain of the tenant (Entra), e.g. `contoso.com`.
    pub domain: String,
    /// The domain SID (AD) or tenant id (Entra) as text; `None` until first import.
    pub domain_id: Option<String>,
}

impl Directory {
    /// Checks the fields a user typed.
    pub fn validate(&self) -> Result<()> {
        let mut v = Validator::default();
        v.check(
            !self.name.trim().is_empty(),
            "name",
            "a directory needs a name",
        );
        v.check(self.name.len() <= 64, "name", "at most 64 characters");
        v.check(
            is_dns_name(&self.domain),
            "domain",
            "a DNS domain name such as contoso.com is expected",
        );
        v.finish()
    }
}

/// True for names like `contoso.com` or `corp.contoso.test`.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Kinds of directory objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    /// A person's account.
    User,
    /// A security or distribution group.
    Group,
    /// A computer (device) account.
    Computer,
}

impl ObjectKind {
    /// The stable name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::User => "User",
            ObjectKind::Group => "Group",
            ObjectKind::Computer => "Computer",
        }
    }

    /// Parses [`ObjectKind::as_str`].
    pub fn parse(s: &str) -> Option<ObjectKind> {
        match s {
            "User" => Some(ObjectKind::User),
            "Group" => Some(ObjectKind::Group),
            "Computer" => Some(ObjectKind::Computer),
            _ => None,
        }
    }
}

/// A user, group or computer as imported from a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryObject {
    /// objectGUID (AD) or object id (Entra): the stable key.
    pub guid: ObjectGuid,
    /// User, group or computer.
    pub kind: ObjectKind,
    /// Display or common name.
    pub name: String,
    /// objectSid; for cloud-only Entra objects the SID derived from the object id.
    #[serde(default)]
    pub sid: Option<Sid>,
    /// userPrincipalName.
    #[serde(default)]
    pub upn: Option<String>,
    /// sAMAccountName (pre-Windows 2000 name).
    #[serde(default)]
    pub sam_account_name: Option<String>,
    /// mail.
    #[serde(default)]
    pub mail: Option<String>,
    /// employeeID.
    #[serde(default)]
    pub employee_id: Option<String>,
    /// operatingSystem, for computers.
    #[serde(default)]
    pub operating_system: Option<String>,
}

/// The attributes a match profile may compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MatchAttribute {
    /// sAMAccountName.
    SamAccountName,
    /// userPrincipalName.
    UserPrincipalName,
    /// mail.
    Mail,
    /// employeeID.
    EmployeeId,
    /// The display or common name.
    Name,
}

impl MatchAttribute {
    /// The value of this attribute on `object`, if it has one.
    pub fn value_of<'a>(&self, object: &'a DirectoryObject) -> Option<&'a str> {
        match self {
            MatchAttribute::SamAccountName => object.sam_account_name.as_deref(),
            MatchAttribute::UserPrincipalName => object.upn.as_deref(),
            MatchAttribute::Mail => object.mail.as_deref(),
            MatchAttribute::EmployeeId => object.employee_id.as_deref(),
            MatchAttribute::Name => Some(object.name.as_str()),
        }
    }

    /// The stable name used in the store and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchAttribute::SamAccountName => "sAMAccountName",
            MatchAttribute::UserPrincipalName => "userPrincipalName",
            MatchAttribute::Mail => "mail",
            MatchAttribute::EmployeeId => "employeeID",
            MatchAttribute::Name => "name",
        }
    }

    /// Parses [`MatchAttribute::as_str`], ignoring case.
    pub fn parse(s: &str) -> Option<MatchAttribute> {
        [
            MatchAttribute::SamAccountName,
            MatchAttribute::UserPrincipalName,
            MatchAttribute::Mail,
            MatchAttribute::EmployeeId,
            MatchAttribute::Name,
        ]
        .iter()
        .copied()
        .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }
}

/// One side of a translation table row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslationSide {
    /// The object's GUID in its directory.
    pub guid: ObjectGuid,
    /// Its SID.
    pub sid: Sid,
    /// Its UPN, if it has one.
    pub upn: Option<String>,
    /// Its name.
    pub name: String,
    /// Its directory.
    pub directory: DirectoryId,
}

/// A row of the translation table: a source object and the target object it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslationEntry {
    /// User or group.
    pub kind: ObjectKind,
    /// The source object.
    pub source: TranslationSide,
    /// The target object.
    pub target: TranslationSide,
}
