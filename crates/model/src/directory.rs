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
        crate::visible::check_name(&mut v, "name", &self.name);
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
    /// A mail contact: no SID and no logon, imported so it can be reported and matched.
    Contact,
}

impl ObjectKind {
    /// The stable name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::User => "User",
            ObjectKind::Group => "Group",
            ObjectKind::Computer => "Computer",
            ObjectKind::Contact => "Contact",
        }
    }

    /// Parses [`ObjectKind::as_str`].
    pub fn parse(s: &str) -> Option<ObjectKind> {
        match s {
            "User" => Some(ObjectKind::User),
            "Group" => Some(ObjectKind::Group),
            "Computer" => Some(ObjectKind::Computer),
            "Contact" => Some(ObjectKind::Contact),
            _ => None,
        }
    }
}

/// A user, group, computer or contact as imported from a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryObject {
    /// objectGUID (AD) or object id (Entra): the stable key.
    pub guid: ObjectGuid,
    /// User, group, computer or contact.
    pub kind: ObjectKind,
    /// Display or common name.
    pub name: String,
    /// The object's own SID in its directory: objectSid (AD); for Entra users and groups the
    /// `S-1-12-1-…` SID derived from the object id, synchronised or not.
    #[serde(default)]
    pub sid: Option<Sid>,
    /// Entra objects synchronised from AD: their AD SID (`onPremisesSecurityIdentifier`), the SID
    /// their profiles belong to on an AD- or hybrid-joined device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_sid: Option<Sid>,
    /// Entra objects synchronised from AD: their source anchor (`onPremisesImmutableId`), by
    /// default the base64 of the AD object's objectGUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable_id: Option<String>,
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
    /// distinguishedName (AD only).
    #[serde(default)]
    pub dn: Option<String>,
    /// givenName.
    #[serde(default)]
    pub given_name: Option<String>,
    /// sn (AD) or surname (Entra).
    #[serde(default)]
    pub surname: Option<String>,
    /// sIDHistory: the SIDs this object had in the directories it was migrated from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sid_history: Vec<Sid>,
    /// For groups, the GUIDs of their members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<ObjectGuid>,
    /// For Entra devices, the device id (which differs from the object id).
    #[serde(default)]
    pub device_id: Option<String>,
    /// Whether the account may sign in, when the directory says.
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl DirectoryObject {
    /// An object with only its key, kind and name; every attribute empty.
    pub fn new(guid: ObjectGuid, kind: ObjectKind, name: impl Into<String>) -> DirectoryObject {
        DirectoryObject {
            guid,
            kind,
            name: name.into(),
            sid: None,
            on_premises_sid: None,
            immutable_id: None,
            upn: None,
            sam_account_name: None,
            mail: None,
            employee_id: None,
            operating_system: None,
            dn: None,
            given_name: None,
            surname: None,
            sid_history: Vec::new(),
            members: Vec::new(),
            device_id: None,
            enabled: None,
        }
    }

    /// A 64-bit digest of every field, the same in every build (FNV-1a), so an import can tell a
    /// changed object from an unchanged one by comparing digests instead of whole objects.
    pub fn digest(&self) -> u64 {
        let mut h = Fnv::default();
        h.bytes(self.guid.0.as_bytes());
        h.text(Some(self.kind.as_str()));
        h.text(Some(&self.name));
        h.sid(self.sid.as_ref());
        for text in [
            &self.upn,
            &self.sam_account_name,
            &self.mail,
            &self.employee_id,
            &self.operating_system,
            &self.dn,
            &self.given_name,
            &self.surname,
            &self.device_id,
        ] {
            h.text(text.as_deref());
        }
        h.bytes(&(self.sid_history.len() as u64).to_le_bytes());
        h.bytes(&(self.members.len() as u64).to_le_bytes());
        for sid in &self.sid_history {
            h.sid(Some(sid));
        }
        for member in &self.members {
            h.bytes(member.0.as_bytes());
        }
        h.bytes(&[match self.enabled {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        }]);
        // Only objects that have an anchor hash it, so every other digest stays as it was.
        if self.on_premises_sid.is_some() || self.immutable_id.is_some() {
            h.bytes(&[0xfd]);
            h.sid(self.on_premises_sid.as_ref());
            h.text(self.immutable_id.as_deref());
        }
        h.0
    }

    /// Every SID the object may appear under on a device: its own, its on-premises one and its
    /// sIDHistory, each once.
    pub fn sids(&self) -> Vec<&Sid> {
        all_sids(
            self.sid.as_ref(),
            self.on_premises_sid.as_ref(),
            &self.sid_history,
        )
    }
}

/// `own`, `on_premises` and `history`, each SID once, in that order.
pub fn all_sids<'a>(
    own: Option<&'a Sid>,
    on_premises: Option<&'a Sid>,
    history: &'a [Sid],
) -> Vec<&'a Sid> {
    let mut out: Vec<&Sid> = Vec::with_capacity(2 + history.len());
    for sid in own.into_iter().chain(on_premises).chain(history.iter()) {
        if !out.contains(&sid) {
            out.push(sid);
        }
    }
    out
}

/// FNV-1a, 64 bits: small, and stable across builds and platforms, unlike `DefaultHasher`.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn sid(&mut self, sid: Option<&Sid>) {
        match sid {
            None => self.bytes(&[0xfe]),
            Some(sid) => {
                self.bytes(&sid.authority().to_le_bytes());
                for sub in sid.sub_authorities() {
                    self.bytes(&sub.to_le_bytes());
                }
                self.bytes(&[0xff]);
            }
        }
    }

    /// A field, told apart from an absent one and from its neighbours.
    fn text(&mut self, text: Option<&str>) {
        match text {
            None => self.bytes(&[0xfe]),
            Some(t) => {
                self.bytes(t.as_bytes());
                self.bytes(&[0xff]);
            }
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TranslationSide {
    /// The object's GUID in its directory.
    pub guid: ObjectGuid,
    /// Its own SID (objectSid, or the `S-1-12-1-…` SID of an Entra object).
    pub sid: Sid,
    /// Its AD SID when it is an Entra object synchronised from AD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_sid: Option<Sid>,
    /// Its sIDHistory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sid_history: Vec<Sid>,
    /// Its UPN, if it has one.
    pub upn: Option<String>,
    /// Its name.
    pub name: String,
    /// Its directory.
    pub directory: DirectoryId,
}

impl TranslationSide {
    /// Every SID of the object, each once: its own, its on-premises one, its sIDHistory.
    pub fn sids(&self) -> Vec<&Sid> {
        all_sids(
            Some(&self.sid),
            self.on_premises_sid.as_ref(),
            &self.sid_history,
        )
    }

    /// The SIDs of the object other than its own (its on-premises one, its sIDHistory), each
    /// once.
    pub fn other_sids(&self) -> Vec<&Sid> {
        self.sids()
            .into_iter()
            .filter(|s| **s != self.sid)
            .collect()
    }
}

/// A row of the translation table: a source object and the target object it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TranslationEntry {
    /// User or group.
    pub kind: ObjectKind,
    /// The source object.
    pub source: TranslationSide,
    /// The target object.
    pub target: TranslationSide,
}
