//! Sync profiles: for one object kind of one source and target pair, whether the pair is only
//! matched (the translation table) or its objects are created in and kept up to date in the
//! target, which source objects take part, how each target attribute is computed, where new
//! objects go and what happens to a target object whose source left.

use std::fmt;
use std::str::FromStr;

use model::directory::{DirectoryKind, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use model::{FieldError, Validator};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::directory::profile::{Attribute, Expr};
use crate::{Error, Result};

/// Longest profile name, in characters.
pub const MAX_NAME_LEN: usize = 100;
/// Most attribute flow rules a profile may hold.
pub const MAX_FLOW: usize = 64;
/// Longest Graph filter of a scope, in bytes.
pub const MAX_GRAPH_FILTER: usize = 1000;
/// Most container rules a profile may hold.
pub const MAX_CONTAINER_RULES: usize = 64;

/// A sync profile's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SyncProfileId(pub Uuid);

impl SyncProfileId {
    /// A new random id.
    pub fn new() -> SyncProfileId {
        SyncProfileId(Uuid::new_v4())
    }
}

impl Default for SyncProfileId {
    fn default() -> SyncProfileId {
        SyncProfileId::new()
    }
}

impl fmt::Display for SyncProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SyncProfileId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> std::result::Result<SyncProfileId, uuid::Error> {
        Uuid::parse_str(s).map(SyncProfileId)
    }
}

/// What a profile does with its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Only pairs source objects with target ones (the translation table); writes nothing.
    MatchOnly,
    /// Matches first; what matches is updated, what does not is created.
    CreateOrUpdate,
}

impl SyncMode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::MatchOnly => "match_only",
            SyncMode::CreateOrUpdate => "create_or_update",
        }
    }

    /// Parses [`SyncMode::as_str`].
    pub fn parse(text: &str) -> Option<SyncMode> {
        match text {
            "match_only" => Some(SyncMode::MatchOnly),
            "create_or_update" => Some(SyncMode::CreateOrUpdate),
            _ => None,
        }
    }
}

/// The kinds of object a profile exports.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// Users.
    Users,
    /// Contacts, created mail-enabled.
    Contacts,
    /// Groups, with their membership.
    Groups,
}

impl ExportKind {
    /// Every kind, in the order a run exports them: members before the groups that hold them.
    pub const ALL: [ExportKind; 3] = [ExportKind::Users, ExportKind::Contacts, ExportKind::Groups];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Users => "users",
            ExportKind::Contacts => "contacts",
            ExportKind::Groups => "groups",
        }
    }

    /// Parses [`ExportKind::as_str`].
    pub fn parse(text: &str) -> Option<ExportKind> {
        ExportKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The kind of directory object it covers.
    pub fn object_kind(self) -> ObjectKind {
        match self {
            ExportKind::Users => ObjectKind::User,
            ExportKind::Contacts => ObjectKind::Contact,
            ExportKind::Groups => ObjectKind::Group,
        }
    }
}

/// Which source objects take part. Empty lists mean every imported object of the kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scope {
    /// Distinguished names of OUs or containers; an object under one of them takes part.
    #[serde(default)]
    pub ous: Vec<String>,
    /// GUIDs of source groups; an object that is a member of one (directly or through nested
    /// groups) takes part.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub groups: Vec<ObjectGuid>,
    /// An LDAP filter the source object must also match, asked of the source domain controller
    /// at each run (Active Directory sources only).
    #[serde(default)]
    pub ldap_filter: Option<String>,
    /// A Microsoft Graph `$filter` the source object must also match, asked of the source tenant
    /// at each run (Entra ID sources only), e.g. `department eq 'Sales'` or
    /// `startswith(displayName,'Sales')`.
    #[serde(default)]
    pub graph_filter: Option<String>,
}

/// How a profile's source is read, as far as its scope's filters care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceReader {
    /// Over LDAP (Active Directory).
    Ldap,
    /// Over Microsoft Graph (Entra ID).
    Graph,
    /// Neither: a directory document, or no connection at all.
    Other,
}

impl Scope {
    /// The LDAP filter, when one is written.
    pub(crate) fn ldap_filter(&self) -> Option<&str> {
        self.ldap_filter.as_deref().filter(|f| !f.trim().is_empty())
    }

    /// The Graph filter, when one is written.
    pub(crate) fn graph_filter(&self) -> Option<&str> {
        self.graph_filter
            .as_deref()
            .filter(|f| !f.trim().is_empty())
    }

    /// Refuses a filter the source cannot be asked: each is applied by the system that reads it.
    pub(crate) fn check_reader(&self, reader: SourceReader) -> Result<()> {
        if self.ldap_filter().is_some() && reader != SourceReader::Ldap {
            return Err(Error::field(
                "scope.ldap_filter",
                "an LDAP filter needs a source read over LDAP",
            ));
        }
        if self.graph_filter().is_some() && reader != SourceReader::Graph {
            return Err(Error::field(
                "scope.graph_filter",
                "a Graph filter needs a source read over Microsoft Graph",
            ));
        }
        Ok(())
    }
}

/// One target attribute and the expression over the source object that computes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FlowRule {
    /// The target attribute (LDAP name in Active Directory, property name in Entra ID).
    pub target: String,
    /// The expression, e.g. `concat(givenName, ".", sn)`, `replacedomain(userPrincipalName,
    /// "fabrikam.com")` or a constant `"Sales"`.
    #[schema(value_type = String)]
    pub source: Expr,
}

/// Where objects of the source under `source_under` are created in the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContainerRule {
    /// A source OU's distinguished name.
    pub source_under: String,
    /// The target container (an OU's distinguished name; ignored in Entra ID).
    pub container: String,
}

/// What happens to a target object whose source object left the scope or was deleted. Nothing
/// is ever deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DeletionPolicy {
    /// Leave it as it is (the default).
    #[default]
    Leave,
    /// Disable the account (users; groups and contacts are left).
    Disable,
    /// Move it to this container (Active Directory).
    Move {
        /// The OU to move it to.
        container: String,
    },
}

/// A sync profile as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncProfile {
    /// Its id.
    #[serde(default)]
    #[schema(value_type = String)]
    pub id: SyncProfileId,
    /// Shown in lists, e.g. "AD to AD Users".
    pub name: String,
    /// Source directory.
    #[schema(value_type = String)]
    pub source: DirectoryId,
    /// Target directory.
    #[schema(value_type = String)]
    pub target: DirectoryId,
    /// Users, contacts or groups.
    pub kind: ExportKind,
    /// Match only, or create or update.
    pub mode: SyncMode,
    /// Which source objects take part.
    #[serde(default)]
    pub scope: Scope,
    /// Target attributes and their expressions; empty means the defaults for the kind and the
    /// pair's directions (see [`default_flow`]).
    #[serde(default)]
    pub flow: Vec<FlowRule>,
    /// Where new objects go: the first rule whose source OU holds the source object, else
    /// `default_container`.
    #[serde(default)]
    pub containers: Vec<ContainerRule>,
    /// The target container (OU) of objects no rule places; needed for Active Directory targets.
    #[serde(default)]
    pub default_container: Option<String>,
    /// What becomes of a target object whose source left.
    #[serde(default)]
    pub deletion: DeletionPolicy,
}

impl SyncProfile {
    /// Checks what does not need the store, naming each field.
    pub fn validate(&self, target_kind: DirectoryKind) -> Result<()> {
        let mut v = Validator::default();
        let name = self.name.trim();
        v.check(!name.is_empty(), "name", "give the profile a name");
        v.check(
            name.chars().count() <= MAX_NAME_LEN,
            "name",
            format!("use at most {MAX_NAME_LEN} characters"),
        );
        model::visible::check_name(&mut v, "name", name);
        v.check(
            self.source != self.target,
            "target",
            "the target directory must differ from the source directory",
        );
        v.check(
            self.flow.len() <= MAX_FLOW,
            "flow",
            format!("use at most {MAX_FLOW} rules"),
        );
        v.check(
            self.containers.len() <= MAX_CONTAINER_RULES,
            "containers",
            format!("use at most {MAX_CONTAINER_RULES} rules"),
        );
        let mut seen = std::collections::HashSet::new();
        for (i, rule) in self.flow.iter().enumerate() {
            let t = rule.target.trim();
            v.check(
                is_attribute_name(t),
                format!("flow[{i}].target"),
                "an attribute name: letters, digits and hyphens, starting with a letter",
            );
            v.check(
                seen.insert(t.to_ascii_lowercase()),
                format!("flow[{i}].target"),
                "each target attribute once",
            );
            v.check(
                !PROTECTED.iter().any(|p| p.eq_ignore_ascii_case(t)),
                format!("flow[{i}].target"),
                "written by rehome itself (object class, account control, password, anchor)",
            );
        }
        let ad = target_kind == DirectoryKind::ActiveDirectory;
        if ad && self.mode == SyncMode::CreateOrUpdate {
            let placed = self.default_container.as_deref().is_some_and(is_dn);
            v.check(
                placed || self.containers.iter().any(|c| is_dn(&c.container)),
                "default_container",
                "the OU new objects are created in, e.g. OU=Users,OU=Rehome,DC=fabrikam,DC=com",
            );
        }
        if let Some(c) = self.default_container.as_deref() {
            v.check(
                !ad || is_dn(c),
                "default_container",
                "a distinguished name, e.g. OU=Users,DC=fabrikam,DC=com",
            );
        }
        for (i, rule) in self.containers.iter().enumerate() {
            v.check(
                is_dn(&rule.source_under),
                format!("containers[{i}].source_under"),
                "a source OU's distinguished name",
            );
            v.check(
                !ad || is_dn(&rule.container),
                format!("containers[{i}].container"),
                "a target OU's distinguished name",
            );
        }
        for (i, ou) in self.scope.ous.iter().enumerate() {
            v.check(is_dn(ou), format!("scope.ous[{i}]"), "a distinguished name");
        }
        if let Some(filter) = self.scope.ldap_filter.as_deref() {
            let f = filter.trim();
            v.check(
                f.starts_with('(') && ldap3::parse_filter(f).is_ok(),
                "scope.ldap_filter",
                "an LDAP filter in parentheses, e.g. (department=Sales)",
            );
        }
        if let Some(filter) = self.scope.graph_filter.as_deref() {
            let f = filter.trim();
            v.check(
                !f.is_empty()
                    && f.len() <= MAX_GRAPH_FILTER
                    && !f.chars().any(char::is_control)
                    && f.matches('\'').count() % 2 == 0
                    && f.matches('(').count() == f.matches(')').count(),
                "scope.graph_filter",
                format!("a Graph $filter of at most {MAX_GRAPH_FILTER} characters with balanced quotes and parentheses, e.g. department eq 'Sales'"),
            );
        }
        if let DeletionPolicy::Move { container } = &self.deletion {
            v.check(
                ad && is_dn(container),
                "deletion.container",
                "moving is for Active Directory targets: the DN of an OU",
            );
        }
        Ok(v.finish()?)
    }
}

/// Attributes a flow may not name: rehome writes them itself.
pub const PROTECTED: &[&str] = &[
    "objectClass",
    "userAccountControl",
    "unicodePwd",
    "userPassword",
    "objectGUID",
    "objectSid",
    "sIDHistory",
    "member",
    "distinguishedName",
    "accountEnabled",
    "passwordProfile",
    super::ANCHOR_ATTRIBUTE,
];

fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.len() <= 64
}

/// Loosely a DN: `name=value` parts separated by commas.
pub fn is_dn(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty()
        && text.len() <= 1024
        && !text.chars().any(char::is_control)
        && text.split(',').all(|rdn| {
            rdn.split_once('=')
                .is_some_and(|(k, v)| is_attribute_name(k.trim()) && !v.trim().is_empty())
        })
}

fn attr(a: Attribute) -> Expr {
    Expr::Attribute(a)
}

fn rule(target: &str, source: Expr) -> FlowRule {
    FlowRule {
        target: target.to_string(),
        source,
    }
}

/// The attribute flow a profile without one uses, by kind and by the kinds of its two
/// directories. `target_domain` is the target directory's domain, where user principal names
/// move to.
pub fn default_flow(
    kind: ExportKind,
    source: DirectoryKind,
    target: DirectoryKind,
    target_domain: &str,
) -> Vec<FlowRule> {
    use Attribute::*;
    let upn = Expr::ReplaceDomain(Box::new(attr(UserPrincipalName)), target_domain.to_string());
    let display = Expr::First(vec![attr(DisplayName), attr(Name)]);
    let nickname = match source {
        DirectoryKind::ActiveDirectory => attr(SamAccountName),
        DirectoryKind::EntraId => Expr::LocalPart(Box::new(attr(UserPrincipalName))),
    };
    match (target, kind) {
        (DirectoryKind::ActiveDirectory, ExportKind::Users) => vec![
            rule("cn", attr(Name)),
            rule("sAMAccountName", nickname),
            rule("userPrincipalName", upn),
            rule("displayName", display),
            rule("givenName", attr(GivenName)),
            rule("sn", attr(Surname)),
            rule("mail", attr(Mail)),
            rule("employeeID", attr(EmployeeId)),
        ],
        (DirectoryKind::ActiveDirectory, ExportKind::Groups) => vec![
            rule("cn", attr(Name)),
            rule("sAMAccountName", nickname),
            rule("mail", attr(Mail)),
        ],
        (DirectoryKind::ActiveDirectory, ExportKind::Contacts) => vec![
            rule("cn", attr(Name)),
            rule("displayName", display),
            rule("givenName", attr(GivenName)),
            rule("sn", attr(Surname)),
            rule("mail", attr(Mail)),
        ],
        (DirectoryKind::EntraId, ExportKind::Users) => vec![
            rule("displayName", display),
            rule("mailNickname", nickname),
            rule("userPrincipalName", upn),
            rule("givenName", attr(GivenName)),
            rule("surname", attr(Surname)),
            rule("employeeId", attr(EmployeeId)),
        ],
        (DirectoryKind::EntraId, ExportKind::Groups) => {
            vec![rule("displayName", display), rule("mailNickname", nickname)]
        }
        // Entra ID has no contact objects that Graph can create; a profile for them is refused.
        (DirectoryKind::EntraId, ExportKind::Contacts) => Vec::new(),
    }
}

/// A profile as a request carries it, before it has an id.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ProfileBody {
    /// See [`SyncProfile::name`].
    pub name: String,
    /// See [`SyncProfile::source`].
    #[schema(value_type = String)]
    pub source: DirectoryId,
    /// See [`SyncProfile::target`].
    #[schema(value_type = String)]
    pub target: DirectoryId,
    /// See [`SyncProfile::kind`].
    pub kind: ExportKind,
    /// See [`SyncProfile::mode`].
    pub mode: SyncMode,
    /// See [`SyncProfile::scope`].
    #[serde(default)]
    pub scope: Scope,
    /// See [`SyncProfile::flow`].
    #[serde(default)]
    pub flow: Vec<FlowRule>,
    /// See [`SyncProfile::containers`].
    #[serde(default)]
    pub containers: Vec<ContainerRule>,
    /// See [`SyncProfile::default_container`].
    #[serde(default)]
    pub default_container: Option<String>,
    /// See [`SyncProfile::deletion`].
    #[serde(default)]
    pub deletion: DeletionPolicy,
}

impl ProfileBody {
    /// The profile with `id`.
    pub fn with_id(self, id: SyncProfileId) -> SyncProfile {
        SyncProfile {
            id,
            name: self.name.trim().to_string(),
            source: self.source,
            target: self.target,
            kind: self.kind,
            mode: self.mode,
            scope: self.scope,
            flow: self.flow,
            containers: self.containers,
            default_container: self.default_container,
            deletion: self.deletion,
        }
    }
}

/// Reads a profile body, naming the field a JSON error is about.
pub fn parse_body(json: &[u8]) -> Result<ProfileBody> {
    serde_json::from_slice(json).map_err(|e| {
        Error::Invalid(vec![FieldError::new(
            "body",
            format!("not a sync profile: {}", e),
        )])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> SyncProfile {
        SyncProfile {
            id: SyncProfileId::new(),
            name: "AD to AD Users".into(),
            source: DirectoryId::new(),
            target: DirectoryId::new(),
            kind: ExportKind::Users,
            mode: SyncMode::CreateOrUpdate,
            scope: Scope::default(),
            flow: Vec::new(),
            containers: Vec::new(),
            default_container: Some("OU=Users,DC=fabrikam,DC=test".into()),
            deletion: DeletionPolicy::Leave,
        }
    }

    fn fields(p: &SyncProfile) -> Vec<String> {
        match p.validate(DirectoryKind::ActiveDirectory) {
            Err(Error::Invalid(f)) => f.into_iter().map(|f| f.field).collect(),
            other => panic!("expected field errors, got {:?}", other),
        }
    }

    #[test]
    fn a_profile_names_every_field_it_refuses() {
        assert!(profile().validate(DirectoryKind::ActiveDirectory).is_ok());
        let mut p = profile();
        p.default_container = None;
        p.flow = vec![
            rule("userAccountControl", Expr::Literal("512".into())),
            rule("mail", attr(Attribute::Mail)),
            rule("MAIL", attr(Attribute::Mail)),
        ];
        p.scope.ldap_filter = Some("(mail=*".into());
        p.deletion = DeletionPolicy::Move {
            container: "nowhere".into(),
        };
        assert_eq!(
            fields(&p),
            [
                "flow[0].target",
                "flow[2].target",
                "default_container",
                "scope.ldap_filter",
                "deletion.container"
            ]
        );
        // A name that does not read as it is stored.
        p = profile();
        p.name = "Staff\u{200B}".into();
        assert_eq!(fields(&p), ["name"]);
        // Match only writes nothing, so it needs no container.
        p = profile();
        p.mode = SyncMode::MatchOnly;
        p.default_container = None;
        assert!(p.validate(DirectoryKind::ActiveDirectory).is_ok());
    }

    #[test]
    fn default_flows_move_the_upn_to_the_target_domain() {
        let flow = default_flow(
            ExportKind::Users,
            DirectoryKind::ActiveDirectory,
            DirectoryKind::EntraId,
            "fabrikam.com",
        );
        let upn = flow
            .iter()
            .find(|r| r.target == "userPrincipalName")
            .expect("a UPN rule");
        assert_eq!(
            upn.source.to_string(),
            r#"replacedomain(userPrincipalName, "fabrikam.com")"#
        );
        assert!(flow.iter().any(|r| r.target == "mailNickname"));
        let contacts = default_flow(
            ExportKind::Contacts,
            DirectoryKind::ActiveDirectory,
            DirectoryKind::ActiveDirectory,
            "fabrikam.com",
        );
        assert!(contacts.iter().any(|r| r.target == "mail"));
    }
}
