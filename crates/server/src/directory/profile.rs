//! Match profiles: ordered rules that pair each source user or group with one target object, by
//! sIDHistory and then by expressions over attributes (`localpart(userPrincipalName)` →
//! `sAMAccountName`, …). Pure and generic over [`Attributes`], so it runs over any object type and
//! is tested without a store.
//!
//! Matching never guesses: a source gets a target only when exactly one target fits under the
//! first rule that decides, and no other source claims that target.

mod engine;
mod explain;
pub mod expr;
#[cfg(any(test, feature = "testing"))]
pub mod synthetic;
#[cfg(test)]
mod tests;

use model::{FieldError, Validator};
use serde::{Deserialize, Serialize};

pub(crate) use engine::{finalize, key, propose, Candidates, Proposal};
pub use engine::{match_all, Finding, Matcher, Via};
pub use explain::{explain, Explanation, Step, Verdict};
pub use expr::{Expr, ParseError};

use crate::Result;

/// Most rules a profile may hold.
pub const MAX_RULES: usize = 32;
/// Longest profile name, in characters.
pub const MAX_NAME_LEN: usize = 100;

/// The attributes an expression may read. The one list of their names is [`Attribute::ALL`] with
/// [`Attribute::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Attribute {
    /// sAMAccountName (pre-Windows 2000 logon name).
    #[serde(rename = "sAMAccountName")]
    SamAccountName,
    /// userPrincipalName.
    #[serde(rename = "userPrincipalName")]
    UserPrincipalName,
    /// mail.
    #[serde(rename = "mail")]
    Mail,
    /// employeeID.
    #[serde(rename = "employeeID")]
    EmployeeId,
    /// The common name (cn, or Entra's display name when there is no other).
    #[serde(rename = "name")]
    Name,
    /// displayName.
    #[serde(rename = "displayName")]
    DisplayName,
    /// givenName.
    #[serde(rename = "givenName")]
    GivenName,
    /// sn (surname).
    #[serde(rename = "sn")]
    Surname,
    /// The distinguished name.
    #[serde(rename = "dn")]
    Dn,
    /// The object's own SID as text: objectSid, or an Entra object's `S-1-12-1-…` SID.
    #[serde(rename = "objectSid")]
    ObjectSid,
    /// The object's GUID as text (objectGUID, or an Entra object's id); `base64(objectGUID)` is
    /// the form Entra Connect writes to onPremisesImmutableId.
    #[serde(rename = "objectGUID")]
    ObjectGuid,
    /// An Entra object's on-premises AD SID, when it is synchronised from AD.
    #[serde(rename = "onPremisesSecurityIdentifier")]
    OnPremisesSid,
    /// An Entra object's source anchor, when it is synchronised from AD.
    #[serde(rename = "onPremisesImmutableId")]
    ImmutableId,
}

impl Attribute {
    /// Every attribute, in the order they are listed to users.
    pub const ALL: [Attribute; 13] = [
        Attribute::SamAccountName,
        Attribute::UserPrincipalName,
        Attribute::Mail,
        Attribute::EmployeeId,
        Attribute::Name,
        Attribute::DisplayName,
        Attribute::GivenName,
        Attribute::Surname,
        Attribute::Dn,
        Attribute::ObjectSid,
        Attribute::ObjectGuid,
        Attribute::OnPremisesSid,
        Attribute::ImmutableId,
    ];

    /// The LDAP spelling, as expressions print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Attribute::SamAccountName => "sAMAccountName",
            Attribute::UserPrincipalName => "userPrincipalName",
            Attribute::Mail => "mail",
            Attribute::EmployeeId => "employeeID",
            Attribute::Name => "name",
            Attribute::DisplayName => "displayName",
            Attribute::GivenName => "givenName",
            Attribute::Surname => "sn",
            Attribute::Dn => "dn",
            Attribute::ObjectSid => "objectSid",
            Attribute::ObjectGuid => "objectGUID",
            Attribute::OnPremisesSid => "onPremisesSecurityIdentifier",
            Attribute::ImmutableId => "onPremisesImmutableId",
        }
    }

    /// Parses [`Attribute::as_str`], ignoring case.
    pub fn parse(name: &str) -> Option<Attribute> {
        Attribute::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }
}

/// What matching needs to know of a directory object. Implemented by whatever the store holds;
/// callers pass only users and groups.
pub trait Attributes {
    /// The attribute's value, if the object has one. `objectSid`, `objectGUID` and
    /// `onPremisesSecurityIdentifier` are read through [`Attributes::sid`],
    /// [`Attributes::object_guid`] and [`Attributes::on_premises_sid`] instead.
    fn attribute(&self, attribute: Attribute) -> Option<&str>;
    /// The object's SID, if it has one.
    fn sid(&self) -> Option<secdesc::Sid>;
    /// Its on-premises SID, when it is an Entra object synchronised from AD.
    fn on_premises_sid(&self) -> Option<secdesc::Sid> {
        None
    }
    /// Its GUID, when known.
    fn object_guid(&self) -> Option<model::ids::ObjectGuid> {
        None
    }
    /// The SIDs the object held in domains it was migrated from.
    fn sid_history(&self) -> std::borrow::Cow<'_, [secdesc::Sid]>;
    /// Whether it is a group (otherwise a user). Users and groups never match each other.
    fn is_group(&self) -> bool;
    /// How reports and explanations name it.
    fn display(&self) -> &str;
}

/// Which objects a rule pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    /// Users only.
    Users,
    /// Groups only.
    Groups,
    /// Users with users and groups with groups.
    #[default]
    Both,
}

impl AppliesTo {
    /// Whether the rule pairs objects of this kind.
    pub fn covers(self, is_group: bool) -> bool {
        match self {
            AppliesTo::Users => !is_group,
            AppliesTo::Groups => is_group,
            AppliesTo::Both => true,
        }
    }
}

/// One rule: a source object matches the target object whose `target` value equals its `source`
/// value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRule {
    /// Users, groups or both.
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// The key computed from the source object.
    pub source: Expr,
    /// The key computed from each target object.
    pub target: Expr,
    /// Compare keys ignoring case (the default).
    #[serde(default = "yes")]
    pub ignore_case: bool,
}

impl MatchRule {
    /// A rule for users and groups comparing `source` with `target`, ignoring case.
    pub fn new(source: Expr, target: Expr) -> MatchRule {
        MatchRule {
            applies_to: AppliesTo::Both,
            source,
            target,
            ignore_case: true,
        }
    }

    /// The same rule for `applies_to` only.
    pub fn only(self, applies_to: AppliesTo) -> MatchRule {
        MatchRule { applies_to, ..self }
    }

    /// The same attribute on both sides.
    pub fn same(attribute: Attribute) -> MatchRule {
        MatchRule::new(Expr::Attribute(attribute), Expr::Attribute(attribute))
    }
}

fn yes() -> bool {
    true
}

/// A named, ordered set of rules. Its JSON writes expressions in their text form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProfileInput")]
pub struct MatchProfile {
    /// Shown in lists and reports.
    pub name: String,
    /// Tried in order after sIDHistory.
    pub rules: Vec<MatchRule>,
    /// Match first by the target's sIDHistory holding the source SID (the default).
    pub sid_history: bool,
}

/// A profile as a request carries it, expressions still text, so that every problem is reported
/// with its field path by [`ProfileInput::into_profile`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileInput {
    /// See [`MatchProfile::name`].
    pub name: String,
    /// See [`MatchProfile::rules`].
    #[serde(default)]
    pub rules: Vec<RuleInput>,
    /// See [`MatchProfile::sid_history`].
    #[serde(default = "yes")]
    pub sid_history: bool,
}

/// A rule as a request carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInput {
    /// See [`MatchRule::applies_to`].
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// See [`MatchRule::source`].
    pub source: String,
    /// See [`MatchRule::target`].
    pub target: String,
    /// See [`MatchRule::ignore_case`].
    #[serde(default = "yes")]
    pub ignore_case: bool,
}

impl ProfileInput {
    /// Parses the expressions and checks the profile; every problem names its field
    /// (`rules[2].source`). Nothing is half-accepted.
    pub fn into_profile(self) -> Result<MatchProfile> {
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let mut parse = |side: &str, text: &str| {
                Expr::parse(text)
                    .map_err(|e| {
                        errors.push(FieldError::new(format!("rules[{i}].{side}"), e.to_string()))
                    })
                    .ok()
            };
            let (source, target) = (parse("source", &rule.source), parse("target", &rule.target));
            if let (Some(source), Some(target)) = (source, target) {
                rules.push(MatchRule {
                    applies_to: rule.applies_to,
                    source,
                    target,
                    ignore_case: rule.ignore_case,
                });
            }
        }
        if !errors.is_empty() {
            return Err(crate::Error::Invalid(errors));
        }
        let profile = MatchProfile {
            name: self.name.trim().to_string(),
            rules,
            sid_history: self.sid_history,
        };
        profile.validate()?;
        Ok(profile)
    }
}

impl From<&MatchProfile> for ProfileInput {
    fn from(profile: &MatchProfile) -> ProfileInput {
        ProfileInput {
            name: profile.name.clone(),
            rules: profile
                .rules
                .iter()
                .map(|r| RuleInput {
                    applies_to: r.applies_to,
                    source: r.source.to_string(),
                    target: r.target.to_string(),
                    ignore_case: r.ignore_case,
                })
                .collect(),
            sid_history: profile.sid_history,
        }
    }
}

impl TryFrom<ProfileInput> for MatchProfile {
    type Error = String;
    fn try_from(input: ProfileInput) -> std::result::Result<MatchProfile, String> {
        input.into_profile().map_err(|e| match e {
            crate::Error::Invalid(fields) => fields
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        })
    }
}

impl Default for MatchProfile {
    /// sIDHistory, then sAMAccountName ignoring case.
    fn default() -> MatchProfile {
        MatchProfile::by_attribute("sAMAccountName", Attribute::SamAccountName)
    }
}

impl MatchProfile {
    /// sIDHistory, then the same attribute on both sides, ignoring case, for users and groups.
    pub fn by_attribute(name: &str, attribute: Attribute) -> MatchProfile {
        MatchProfile {
            name: name.to_string(),
            rules: vec![MatchRule::same(attribute)],
            sid_history: true,
        }
    }

    /// Checks the name and the rules, naming the field of each problem.
    pub fn validate(&self) -> Result<()> {
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
            self.rules.len() <= MAX_RULES,
            "rules",
            format!("use at most {MAX_RULES} rules"),
        );
        v.check(
            self.sid_history || !self.rules.is_empty(),
            "rules",
            "add at least one rule, or turn sid_history on: this profile can match nothing",
        );
        for (i, rule) in self.rules.iter().enumerate() {
            for (side, expr) in [("source", &rule.source), ("target", &rule.target)] {
                v.check(
                    expr.reads_attributes(),
                    format!("rules[{i}].{side}"),
                    "read at least one attribute: a constant gives every object the same key",
                );
            }
        }
        Ok(v.finish()?)
    }
}

/// The profiles offered ready-made: `sAMAccountName` (the default), `upn`, `mail`, `employeeID`,
/// `upn-localpart` and `hybrid-anchors`. Those keyed on user-only attributes pair groups by
/// sAMAccountName.
pub fn presets() -> Vec<MatchProfile> {
    use Attribute::*;
    let groups_by_sam = MatchRule::same(SamAccountName).only(AppliesTo::Groups);
    let users = |name: &str, rule: MatchRule| MatchProfile {
        name: name.to_string(),
        rules: vec![rule.only(AppliesTo::Users), groups_by_sam.clone()],
        sid_history: true,
    };
    vec![
        MatchProfile::default(),
        users("upn", MatchRule::same(UserPrincipalName)),
        users("mail", MatchRule::same(Mail)),
        users("employeeID", MatchRule::same(EmployeeId)),
        users(
            "upn-localpart",
            MatchRule::new(
                Expr::LocalPart(Box::new(Expr::Attribute(UserPrincipalName))),
                Expr::Attribute(SamAccountName),
            ),
        ),
        hybrid_anchors(),
    ]
}

/// AD → the Entra tenant it is synchronised to: each AD user or group pairs with its own cloud
/// object by the anchors Entra Connect wrote, never by names: `objectSid` =
/// `onPremisesSecurityIdentifier`, then `base64(objectGUID)` = `onPremisesImmutableId` (compared
/// with case, as base64 is).
pub fn hybrid_anchors() -> MatchProfile {
    use Attribute::*;
    MatchProfile {
        name: "hybrid-anchors".to_string(),
        rules: vec![
            MatchRule::new(Expr::Attribute(ObjectSid), Expr::Attribute(OnPremisesSid)),
            MatchRule {
                ignore_case: false,
                ..MatchRule::new(
                    Expr::Base64(Box::new(Expr::Attribute(ObjectGuid))),
                    Expr::Attribute(ImmutableId),
                )
            },
        ],
        sid_history: false,
    }
}

/// The preset named `name` (ignoring case).
pub fn preset(name: &str) -> Option<MatchProfile> {
    presets()
        .into_iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}
