//! What an export would write: for each source object in scope, create its target object, or
//! change only the attributes that differ, rename or move it; group membership as the
//! translation of the source members; the deletion policy for target objects whose source left.
//! Pure: the same plan is What If's answer and the writer's work list.

use std::collections::{HashMap, HashSet};

use model::directory::{DirectoryKind, DirectoryObject};
use model::ids::ObjectGuid;
use serde::Serialize;

use super::profile::{DeletionPolicy, ExportKind, FlowRule, SyncProfile};
use super::{anchor_value, parse_anchor, ANCHOR_ATTRIBUTE};
use crate::directory::cache::CachedObject;

/// One object of the target as read before a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetEntry {
    /// objectGUID (AD) or object id (Entra).
    pub id: ObjectGuid,
    /// The distinguished name (AD); the object id in Entra.
    pub dn: String,
    /// The attributes read, by lower-case name.
    pub attributes: HashMap<String, Vec<String>>,
    /// For groups, the ids of the members.
    pub members: Vec<ObjectGuid>,
    /// Whether the account may sign in, when known.
    pub enabled: Option<bool>,
}

impl TargetEntry {
    /// The values of `name`, ignoring case.
    pub fn values(&self, name: &str) -> &[String] {
        self.attributes
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The source GUID kept on the object, if rehome anchored it.
    pub fn anchor(&self) -> Option<ObjectGuid> {
        self.values(ANCHOR_ATTRIBUTE)
            .iter()
            .find_map(|v| parse_anchor(v))
    }
}

/// One attribute as a change writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttributeChange {
    /// The attribute.
    pub attribute: String,
    /// Its value in the target now; `None` when it has none.
    pub old: Option<String>,
    /// The value written.
    pub new: String,
}

/// A group member as a change names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MemberRef {
    /// The member's id in the target; for an object this run creates, its source GUID.
    #[schema(value_type = String)]
    pub id: ObjectGuid,
    /// Its name.
    pub name: String,
    /// Whether this run creates it.
    pub new: bool,
}

/// One write an export makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Creates the target object of a source object.
    Create {
        /// The source object.
        #[schema(value_type = String)]
        source: ObjectGuid,
        /// Users, contacts or groups.
        kind: ExportKind,
        /// Its name, for messages.
        name: String,
        /// The RDN value (cn) in Active Directory.
        rdn: Option<String>,
        /// The container (AD) it is created in.
        container: Option<String>,
        /// Every attribute written, `old` empty.
        attributes: Vec<AttributeChange>,
    },
    /// Changes the attributes that differ.
    Update {
        /// The source object.
        #[schema(value_type = String)]
        source: ObjectGuid,
        /// Its name, for messages.
        name: String,
        /// The target object.
        #[schema(value_type = String)]
        target: ObjectGuid,
        /// Its DN (AD) or id (Entra).
        dn: String,
        /// Only the attributes that change.
        attributes: Vec<AttributeChange>,
    },
    /// Renames or moves an Active Directory object.
    Move {
        /// The source object.
        #[schema(value_type = String)]
        source: ObjectGuid,
        /// Its name, for messages.
        name: String,
        /// The target object.
        #[schema(value_type = String)]
        target: ObjectGuid,
        /// Its DN now.
        dn: String,
        /// The new RDN, e.g. `CN=Jane Doe`.
        new_rdn: String,
        /// The new parent container.
        new_parent: String,
    },
    /// Adds and removes group members.
    Members {
        /// The source group.
        #[schema(value_type = String)]
        source: ObjectGuid,
        /// Its name, for messages.
        name: String,
        /// The target group; for a group this run creates, its source GUID.
        #[schema(value_type = String)]
        target: ObjectGuid,
        /// Its DN (AD) or id (Entra); empty for a group this run creates.
        dn: String,
        /// Members to add.
        add: Vec<MemberRef>,
        /// Members to remove.
        remove: Vec<MemberRef>,
    },
    /// Disables the account of a source object that left.
    Disable {
        /// The source object it was exported from.
        #[schema(value_type = String)]
        source: ObjectGuid,
        /// Its name, for messages.
        name: String,
        /// The target object.
        #[schema(value_type = String)]
        target: ObjectGuid,
        /// Its DN (AD) or id (Entra).
        dn: String,
    },
}

impl Change {
    /// The source object the change is for.
    pub fn source(&self) -> ObjectGuid {
        match self {
            Change::Create { source, .. }
            | Change::Update { source, .. }
            | Change::Move { source, .. }
            | Change::Members { source, .. }
            | Change::Disable { source, .. } => *source,
        }
    }

    /// What the change does, in words, for the object's messages.
    pub fn describe(&self) -> String {
        let names = |a: &[AttributeChange]| {
            a.iter()
                .map(|c| c.attribute.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Change::Create {
                container,
                attributes,
                ..
            } => match container {
                Some(c) => format!("created in {} with {}", c, names(attributes)),
                None => format!("created with {}", names(attributes)),
            },
            Change::Update { attributes, .. } => format!("updated {}", names(attributes)),
            Change::Move {
                new_rdn,
                new_parent,
                ..
            } => format!("renamed or moved to {},{}", new_rdn, new_parent),
            Change::Members { add, remove, .. } => {
                format!("membership: {} added, {} removed", add.len(), remove.len())
            }
            Change::Disable { .. } => {
                "disabled: its source object left the scope or was deleted".to_string()
            }
        }
    }
}

/// A source object the run will not write, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Refusal {
    /// The source object.
    #[schema(value_type = String)]
    pub source: ObjectGuid,
    /// Its name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Everything one profile's objects need.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Plan {
    /// The writes, in order.
    pub changes: Vec<Change>,
    /// Objects held back.
    pub refused: Vec<Refusal>,
    /// Objects in scope whose target is already as it should be.
    pub unchanged: u64,
}

/// What planning reads besides the profile.
pub struct Inputs<'a> {
    /// The target directory's kind.
    pub target_kind: DirectoryKind,
    /// The attribute flow in force (the profile's or the defaults).
    pub flow: &'a [FlowRule],
    /// The source objects of the profile's kind in scope.
    pub sources: &'a [&'a DirectoryObject],
    /// The target objects of the profile's kind, as read.
    pub targets: &'a [TargetEntry],
    /// Matched pairs: source GUID → target id (the translation table).
    pub matched: &'a HashMap<ObjectGuid, ObjectGuid>,
}

/// Where `source` goes under the profile's container rules.
pub fn container_for(profile: &SyncProfile, source: &DirectoryObject) -> Option<String> {
    let dn = source.dn.as_deref().unwrap_or_default();
    profile
        .containers
        .iter()
        .find(|r| is_within(dn, &r.source_under))
        .map(|r| r.container.clone())
        .or_else(|| profile.default_container.clone())
}

/// The containers a profile places objects in: objects it finds elsewhere are not moved.
fn managed_containers(profile: &SyncProfile) -> Vec<&str> {
    let mut out: Vec<&str> = profile
        .containers
        .iter()
        .map(|r| r.container.as_str())
        .chain(profile.default_container.as_deref())
        .collect();
    if let DeletionPolicy::Move { container } = &profile.deletion {
        out.push(container);
    }
    out
}

/// The attributes whose values a flow computes for `source`, in flow order; attributes whose
/// expression has no value are left out (never cleared).
pub fn desired(flow: &[FlowRule], source: &DirectoryObject) -> Vec<(String, String)> {
    let cached = CachedObject::new(source);
    flow.iter()
        .filter_map(|r| {
            r.source
                .evaluate(&cached)
                .map(|v| (r.target.trim().to_string(), v.into_owned()))
        })
        .collect()
}

/// Attributes a new object of `kind` must have in a directory of `target`.
fn required(kind: ExportKind, target: DirectoryKind) -> &'static [&'static str] {
    match (target, kind) {
        (DirectoryKind::ActiveDirectory, ExportKind::Users | ExportKind::Groups) => {
            &["cn", "sAMAccountName"]
        }
        (DirectoryKind::ActiveDirectory, ExportKind::Contacts) => &["cn", "mail"],
        (DirectoryKind::EntraId, ExportKind::Users) => {
            &["displayName", "mailNickname", "userPrincipalName"]
        }
        (DirectoryKind::EntraId, _) => &["displayName", "mailNickname"],
    }
}

/// Plans the objects of one profile (not yet the membership, see [`plan_members`]).
pub fn plan_objects(profile: &SyncProfile, inputs: &Inputs<'_>) -> Plan {
    let ad = inputs.target_kind == DirectoryKind::ActiveDirectory;
    let by_id: HashMap<ObjectGuid, &TargetEntry> =
        inputs.targets.iter().map(|t| (t.id, t)).collect();
    let mut by_anchor: HashMap<ObjectGuid, &TargetEntry> = HashMap::new();
    for t in inputs.targets {
        if let Some(a) = t.anchor() {
            by_anchor.entry(a).or_insert(t);
        }
    }
    let managed = managed_containers(profile);
    let mut plan = Plan::default();
    let mut in_scope = HashSet::new();
    for source in inputs.sources {
        in_scope.insert(source.guid);
        let refuse = |plan: &mut Plan, reason: String| {
            plan.refused.push(Refusal {
                source: source.guid,
                name: source.name.clone(),
                reason,
            })
        };
        let wanted = desired(inputs.flow, source);
        let value = |name: &str| {
            wanted
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let target = match inputs.matched.get(&source.guid) {
            Some(id) => match by_id.get(id) {
                Some(t) => Some(*t),
                None => {
                    refuse(
                        &mut plan,
                        format!(
                            "matched to target object {} which the export could not read; check the target connection's base DNs",
                            id
                        ),
                    );
                    continue;
                }
            },
            None => by_anchor.get(&source.guid).copied(),
        };
        let Some(target) = target else {
            let missing: Vec<&str> = required(profile.kind, inputs.target_kind)
                .iter()
                .copied()
                .filter(|r| value(r).is_none())
                .collect();
            if !missing.is_empty() {
                refuse(
                    &mut plan,
                    format!(
                        "not created: the attribute flow gives no {} for it",
                        missing.join(", ")
                    ),
                );
                continue;
            }
            let container = if ad {
                match container_for(profile, source) {
                    Some(c) => Some(c),
                    None => {
                        refuse(&mut plan, "not created: no container rule places it and the profile has no default container".into());
                        continue;
                    }
                }
            } else {
                None
            };
            let rdn = if ad { value("cn") } else { None };
            let mut attributes: Vec<AttributeChange> = wanted
                .iter()
                .filter(|(n, _)| !(ad && n.eq_ignore_ascii_case("cn")))
                .map(|(n, v)| AttributeChange {
                    attribute: n.clone(),
                    old: None,
                    new: v.clone(),
                })
                .collect();
            attributes.push(AttributeChange {
                attribute: ANCHOR_ATTRIBUTE.to_string(),
                old: None,
                new: anchor_value(source.guid),
            });
            plan.changes.push(Change::Create {
                source: source.guid,
                kind: profile.kind,
                name: source.name.clone(),
                rdn,
                container,
                attributes,
            });
            continue;
        };
        if let Some(other) = target.anchor().filter(|a| *a != source.guid) {
            refuse(
                &mut plan,
                format!(
                    "its target {} carries the anchor of another source object ({}); not written",
                    target.dn, other
                ),
            );
            continue;
        }
        let mut attributes = Vec::new();
        for (name, new) in &wanted {
            if ad && name.eq_ignore_ascii_case("cn") {
                continue;
            }
            let old = target.values(name);
            if old.len() == 1 && old[0] == *new {
                continue;
            }
            attributes.push(AttributeChange {
                attribute: name.clone(),
                old: (!old.is_empty()).then(|| old.join("; ")),
                new: new.clone(),
            });
        }
        if target.anchor().is_none() {
            attributes.push(AttributeChange {
                attribute: ANCHOR_ATTRIBUTE.to_string(),
                old: None,
                new: anchor_value(source.guid),
            });
        }
        let mut wrote = false;
        if !attributes.is_empty() {
            plan.changes.push(Change::Update {
                source: source.guid,
                name: source.name.clone(),
                target: target.id,
                dn: target.dn.clone(),
                attributes,
            });
            wrote = true;
        }
        if ad {
            let (rdn, parent) = split_dn(&target.dn);
            let rdn_value = rdn.split_once('=').map(|(_, v)| v).unwrap_or_default();
            let new_rdn = match value("cn") {
                Some(cn) if unescape(rdn_value) != cn => format!("CN={}", escape_rdn_value(&cn)),
                _ => rdn.to_string(),
            };
            let new_parent = match container_for(profile, source) {
                Some(c) if !same_dn(&c, parent) && managed.iter().any(|m| same_dn(m, parent)) => c,
                _ => parent.to_string(),
            };
            if new_rdn != rdn || new_parent != parent {
                plan.changes.push(Change::Move {
                    source: source.guid,
                    name: source.name.clone(),
                    target: target.id,
                    dn: target.dn.clone(),
                    new_rdn,
                    new_parent,
                });
                wrote = true;
            }
        }
        if !wrote {
            plan.unchanged += 1;
        }
    }
    plan_departures(profile, inputs, &in_scope, &mut plan);
    plan
}

/// The deletion policy, for target objects anchored to a source object no longer in scope.
fn plan_departures(
    profile: &SyncProfile,
    inputs: &Inputs<'_>,
    in_scope: &HashSet<ObjectGuid>,
    plan: &mut Plan,
) {
    if profile.deletion == DeletionPolicy::Leave {
        return;
    }
    let gone: Vec<(&TargetEntry, ObjectGuid)> = inputs
        .targets
        .iter()
        .filter_map(|t| t.anchor().map(|a| (t, a)))
        .filter(|(_, a)| !in_scope.contains(a))
        .collect();
    if gone.is_empty() {
        return;
    }
    if in_scope.is_empty() {
        // An empty source is far more often a failed or partial import than a real departure.
        for (t, a) in gone {
            plan.refused.push(Refusal {
                source: a,
                name: t.dn.clone(),
                reason: "the deletion policy was not applied: no source object is in scope at all, which looks like an empty or failed import".into(),
            });
        }
        return;
    }
    for (t, source) in gone {
        let name = t
            .values("displayName")
            .first()
            .cloned()
            .unwrap_or_else(|| t.dn.clone());
        match &profile.deletion {
            DeletionPolicy::Leave => {}
            DeletionPolicy::Disable => {
                if profile.kind == ExportKind::Users && t.enabled != Some(false) {
                    plan.changes.push(Change::Disable {
                        source,
                        name,
                        target: t.id,
                        dn: t.dn.clone(),
                    });
                }
            }
            DeletionPolicy::Move { container } => {
                let (rdn, parent) = split_dn(&t.dn);
                if !same_dn(parent, container) {
                    plan.changes.push(Change::Move {
                        source,
                        name,
                        target: t.id,
                        dn: t.dn.clone(),
                        new_rdn: rdn.to_string(),
                        new_parent: container.clone(),
                    });
                }
            }
        }
    }
}

/// Plans group membership: each source group in scope with a target gets the translation of its
/// source members. Members with no target yet are left out (and come once they are matched or
/// created); target members that are no translation of a source object are never removed.
/// `resolved` maps every source object rehome knows a target for (matched, anchored or created
/// this run) to it; `pending` names source objects this run would create (What If).
pub fn plan_members(
    groups: &[&DirectoryObject],
    targets: &[TargetEntry],
    resolved: &HashMap<ObjectGuid, ObjectGuid>,
    pending: &HashMap<ObjectGuid, String>,
    names: &HashMap<ObjectGuid, String>,
) -> (Vec<Change>, Vec<Refusal>) {
    let by_id: HashMap<ObjectGuid, &TargetEntry> = targets.iter().map(|t| (t.id, t)).collect();
    let managed: HashSet<ObjectGuid> = resolved.values().copied().collect();
    let name_of = |id: &ObjectGuid| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    for group in groups {
        let (target, dn, current): (ObjectGuid, String, Vec<ObjectGuid>) = match resolved
            .get(&group.guid)
        {
            Some(id) => match by_id.get(id) {
                Some(t) => (t.id, t.dn.clone(), t.members.clone()),
                // Created this run: no members yet.
                None => (*id, String::new(), Vec::new()),
            },
            None if pending.contains_key(&group.guid) => (group.guid, String::new(), Vec::new()),
            None => continue,
        };
        let mut wanted = HashSet::new();
        let mut add = Vec::new();
        let mut waiting = 0;
        for member in &group.members {
            if let Some(id) = resolved.get(member) {
                if wanted.insert(*id) && !current.contains(id) {
                    add.push(MemberRef {
                        id: *id,
                        name: name_of(member),
                        new: false,
                    });
                }
            } else if let Some(name) = pending.get(member) {
                add.push(MemberRef {
                    id: *member,
                    name: name.clone(),
                    new: true,
                });
            } else {
                waiting += 1;
            }
        }
        let target_names: HashMap<ObjectGuid, ObjectGuid> =
            resolved.iter().map(|(s, t)| (*t, *s)).collect();
        let remove: Vec<MemberRef> = current
            .iter()
            .filter(|m| managed.contains(m) && !wanted.contains(m))
            .map(|m| MemberRef {
                id: *m,
                name: target_names
                    .get(m)
                    .map(&name_of)
                    .unwrap_or_else(|| m.to_string()),
                new: false,
            })
            .collect();
        if waiting > 0 {
            notes.push(Refusal {
                source: group.guid,
                name: group.name.clone(),
                reason: format!(
                    "{} member(s) have no target object yet; they are added once they are matched or created",
                    waiting
                ),
            });
        }
        if !add.is_empty() || !remove.is_empty() {
            changes.push(Change::Members {
                source: group.guid,
                name: group.name.clone(),
                target,
                dn,
                add,
                remove,
            });
        }
    }
    (changes, notes)
}

/// Whether `dn` is `base` or under it, ignoring case and spaces after commas.
pub fn is_within(dn: &str, base: &str) -> bool {
    let (dn, base) = (normal_dn(dn), normal_dn(base));
    !base.is_empty() && (dn == base || dn.ends_with(&format!(",{}", base)))
}

fn normal_dn(dn: &str) -> String {
    dn.split(',')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase()
}

/// Whether two DNs name the same object, ignoring case and spaces after commas.
pub fn same_dn(a: &str, b: &str) -> bool {
    normal_dn(a) == normal_dn(b)
}

/// `CN=Doe\, Jane,OU=Users,DC=x` → (`CN=Doe\, Jane`, `OU=Users,DC=x`).
pub fn split_dn(dn: &str) -> (&str, &str) {
    let bytes = dn.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b',' => return (&dn[..i], &dn[i + 1..]),
            _ => i += 1,
        }
    }
    (dn, "")
}

/// An RDN value with the characters RFC 4514 reserves escaped.
pub fn escape_rdn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let edge = (i == 0 && (c == ' ' || c == '#')) || (i == last && c == ' ');
        if edge || matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The reverse of [`escape_rdn_value`] (backslash escapes of single characters).
pub fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}
