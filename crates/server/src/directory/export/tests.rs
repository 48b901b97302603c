//! The export plan without a directory: what is created, what changes, what is left alone.

use std::collections::HashMap;

use model::directory::{DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};

use super::plan::{
    escape_rdn_value, plan_members, plan_objects, split_dn, Change, Inputs, TargetEntry,
};
use super::profile::{default_flow, DeletionPolicy, ExportKind, Scope, SyncMode, SyncProfile};
use super::{anchor_value, ANCHOR_ATTRIBUTE};

const SOURCE_OU: &str = "OU=Staff,DC=contoso,DC=test";
const TARGET_OU: &str = "OU=Staff,DC=fabrikam,DC=test";

fn profile(kind: ExportKind) -> SyncProfile {
    SyncProfile {
        id: Default::default(),
        name: "AD to AD".into(),
        source: DirectoryId::new(),
        target: DirectoryId::new(),
        kind,
        mode: SyncMode::CreateOrUpdate,
        scope: Scope::default(),
        flow: Vec::new(),
        containers: Vec::new(),
        default_container: Some(TARGET_OU.into()),
        deletion: DeletionPolicy::Leave,
    }
}

fn user(sam: &str, given: &str) -> DirectoryObject {
    let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, format!("{sam} name"));
    o.sam_account_name = Some(sam.into());
    o.upn = Some(format!("{sam}@contoso.test"));
    o.given_name = Some(given.into());
    o.dn = Some(format!("CN={sam} name,{SOURCE_OU}"));
    o
}

fn entry(dn: &str, attributes: &[(&str, &str)]) -> TargetEntry {
    TargetEntry {
        id: ObjectGuid::new(),
        dn: dn.into(),
        attributes: attributes
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), vec![v.to_string()]))
            .collect(),
        members: Vec::new(),
        enabled: Some(true),
    }
}

fn flow(kind: ExportKind) -> Vec<super::profile::FlowRule> {
    default_flow(
        kind,
        DirectoryKind::ActiveDirectory,
        DirectoryKind::ActiveDirectory,
        "fabrikam.test",
    )
}

#[test]
fn an_unmatched_user_is_created_with_its_anchor_and_the_new_domain() {
    let p = profile(ExportKind::Users);
    let ada = user("ada", "Ada");
    let flow = flow(ExportKind::Users);
    let plan = plan_objects(
        &p,
        &Inputs {
            target_kind: DirectoryKind::ActiveDirectory,
            flow: &flow,
            sources: &[&ada],
            targets: &[],
            matched: &HashMap::new(),
        },
    );
    let [Change::Create {
        rdn,
        container,
        attributes,
        ..
    }] = plan.changes.as_slice()
    else {
        panic!("one create expected: {:?}", plan.changes);
    };
    assert_eq!(rdn.as_deref(), Some("ada name"));
    assert_eq!(container.as_deref(), Some(TARGET_OU));
    let value = |n: &str| {
        attributes
            .iter()
            .find(|a| a.attribute == n)
            .map(|a| a.new.as_str())
    };
    assert_eq!(value("userPrincipalName"), Some("ada@fabrikam.test"));
    assert_eq!(
        value(ANCHOR_ATTRIBUTE),
        Some(anchor_value(ada.guid).as_str())
    );
    assert_eq!(
        value("cn"),
        None,
        "the cn is the RDN, not an attribute of the add"
    );
    assert_eq!(
        value("employeeID"),
        None,
        "what the source lacks is not written"
    );
}

#[test]
fn a_matched_user_gets_only_the_attributes_that_differ_and_then_nothing() {
    let p = profile(ExportKind::Users);
    let ada = user("ada", "Augusta");
    let flow = flow(ExportKind::Users);
    let target = entry(
        &format!("CN=ada name,{TARGET_OU}"),
        &[
            ("sAMAccountName", "ada"),
            ("userPrincipalName", "ada@fabrikam.test"),
            ("displayName", "ada name"),
            ("givenName", "Ada"),
        ],
    );
    let matched = HashMap::from([(ada.guid, target.id)]);
    let inputs = |targets: &[TargetEntry]| {
        plan_objects(
            &p,
            &Inputs {
                target_kind: DirectoryKind::ActiveDirectory,
                flow: &flow,
                sources: &[&ada],
                targets,
                matched: &matched,
            },
        )
    };
    let plan = inputs(std::slice::from_ref(&target));
    let [Change::Update { attributes, .. }] = plan.changes.as_slice() else {
        panic!("one update expected: {:?}", plan.changes);
    };
    let changed: Vec<(&str, Option<&str>, &str)> = attributes
        .iter()
        .map(|a| (a.attribute.as_str(), a.old.as_deref(), a.new.as_str()))
        .collect();
    assert_eq!(
        changed,
        [
            ("givenName", Some("Ada"), "Augusta"),
            (ANCHOR_ATTRIBUTE, None, anchor_value(ada.guid).as_str())
        ]
    );
    // Once written, the same source plans nothing.
    let mut written = target.clone();
    for a in attributes {
        written
            .attributes
            .insert(a.attribute.to_ascii_lowercase(), vec![a.new.clone()]);
    }
    let again = inputs(&[written]);
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(again.unchanged, 1);
}

#[test]
fn a_renamed_source_renames_and_a_departed_one_is_disabled_never_deleted() {
    let mut p = profile(ExportKind::Users);
    p.deletion = DeletionPolicy::Disable;
    let ada = user("ada", "Ada");
    let flow = flow(ExportKind::Users);
    let mut current = entry(
        &format!("CN=old name,{TARGET_OU}"),
        &[
            ("sAMAccountName", "ada"),
            ("userPrincipalName", "ada@fabrikam.test"),
            ("displayName", "ada name"),
            ("givenName", "Ada"),
        ],
    );
    current.attributes.insert(
        ANCHOR_ATTRIBUTE.to_ascii_lowercase(),
        vec![anchor_value(ada.guid)],
    );
    let gone = ObjectGuid::new();
    let mut departed = entry(&format!("CN=gone,{TARGET_OU}"), &[]);
    departed.attributes.insert(
        ANCHOR_ATTRIBUTE.to_ascii_lowercase(),
        vec![anchor_value(gone)],
    );
    let plan = plan_objects(
        &p,
        &Inputs {
            target_kind: DirectoryKind::ActiveDirectory,
            flow: &flow,
            sources: &[&ada],
            targets: &[current, departed.clone()],
            matched: &HashMap::new(),
        },
    );
    assert!(plan.changes.iter().any(|c| matches!(c,
        Change::Move { new_rdn, new_parent, .. } if new_rdn == "CN=ada name" && new_parent == TARGET_OU)));
    assert!(plan
        .changes
        .iter()
        .any(|c| matches!(c, Change::Disable { source, .. } if *source == gone)));
    // With no source object in scope at all, nothing is disabled: that looks like a failed import.
    let none = plan_objects(
        &p,
        &Inputs {
            target_kind: DirectoryKind::ActiveDirectory,
            flow: &flow,
            sources: &[],
            targets: &[departed],
            matched: &HashMap::new(),
        },
    );
    assert!(none.changes.is_empty());
    assert_eq!(none.refused.len(), 1);
}

#[test]
fn a_target_anchored_to_another_source_is_refused() {
    let p = profile(ExportKind::Users);
    let ada = user("ada", "Ada");
    let flow = flow(ExportKind::Users);
    let mut target = entry(&format!("CN=ada name,{TARGET_OU}"), &[]);
    target.attributes.insert(
        ANCHOR_ATTRIBUTE.to_ascii_lowercase(),
        vec![anchor_value(ObjectGuid::new())],
    );
    let plan = plan_objects(
        &p,
        &Inputs {
            target_kind: DirectoryKind::ActiveDirectory,
            flow: &flow,
            sources: &[&ada],
            targets: &[target.clone()],
            matched: &HashMap::from([(ada.guid, target.id)]),
        },
    );
    assert!(plan.changes.is_empty());
    assert!(plan.refused[0].reason.contains("another source object"));
}

#[test]
fn membership_is_the_translation_of_the_source_members_and_foreign_members_stay() {
    let ada = user("ada", "Ada");
    let bob = user("bob", "Bob");
    let late = user("late", "Late");
    let mut group = DirectoryObject::new(ObjectGuid::new(), ObjectKind::Group, "Sales");
    group.members = vec![ada.guid, bob.guid, late.guid];
    let (ada_t, old_t, foreign) = (ObjectGuid::new(), ObjectGuid::new(), ObjectGuid::new());
    let old = user("old", "Old");
    let mut target = entry("CN=Sales,OU=x", &[]);
    target.members = vec![old_t, foreign];
    let resolved = HashMap::from([
        (ada.guid, ada_t),
        (old.guid, old_t),
        (group.guid, target.id),
    ]);
    let pending = HashMap::from([(bob.guid, "bob name".to_string())]);
    let (changes, notes) = plan_members(
        &[&group],
        std::slice::from_ref(&target),
        &resolved,
        &pending,
        &HashMap::new(),
    );
    let [Change::Members { add, remove, .. }] = changes.as_slice() else {
        panic!("{changes:?}");
    };
    assert_eq!(
        add.iter().map(|m| (m.id, m.new)).collect::<Vec<_>>(),
        [(ada_t, false), (bob.guid, true)]
    );
    assert_eq!(
        remove.iter().map(|m| m.id).collect::<Vec<_>>(),
        [old_t],
        "a member rehome does not know stays"
    );
    assert!(
        notes[0].reason.contains("1 member(s)"),
        "late waits: {notes:?}"
    );
}

#[test]
fn dns_split_and_escape_as_rfc_4514_says() {
    assert_eq!(
        split_dn(r"CN=Doe\, Jane,OU=Users,DC=x"),
        (r"CN=Doe\, Jane", "OU=Users,DC=x")
    );
    assert_eq!(escape_rdn_value("Doe, Jane"), r"Doe\, Jane");
    assert_eq!(escape_rdn_value(" #x "), r"\ #x\ ");
    assert_eq!(escape_rdn_value("#x"), r"\#x");
}
