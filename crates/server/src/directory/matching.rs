//! Matching by one attribute: each source user or group pairs with the one target object of the
//! same kind whose attribute has the same value, ignoring case. Anything else is counted and
//! reported, never guessed.

use std::collections::HashMap;

use model::directory::{
    DirectoryObject, MatchAttribute, ObjectKind, TranslationEntry, TranslationSide,
};
use model::ids::DirectoryId;
use serde::Serialize;

/// How many names each list of a [`MatchSummary`] shows.
pub const REPORTED_NAMES: usize = 100;

/// What matching found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MatchSummary {
    /// Source objects paired with exactly one target object.
    pub matched: u64,
    /// Source objects with no target object (or no value, or no SID to translate).
    pub unmatched: u64,
    /// Source objects with several candidates, or sharing their one candidate with another source.
    pub ambiguous: u64,
    /// Names of the first unmatched source objects.
    pub unmatched_names: Vec<String>,
    /// Names of the first ambiguous source objects.
    pub ambiguous_names: Vec<String>,
}

impl MatchSummary {
    fn note(list: &mut Vec<String>, name: &str) {
        if list.len() < REPORTED_NAMES {
            list.push(name.to_string());
        }
    }
}

fn side(object: &DirectoryObject, directory: DirectoryId) -> Option<TranslationSide> {
    Some(TranslationSide {
        guid: object.guid,
        sid: object.sid.clone()?,
        upn: object.upn.clone(),
        name: object.name.clone(),
        directory,
    })
}

fn key(object: &DirectoryObject, attribute: MatchAttribute) -> Option<(ObjectKind, String)> {
    let value = attribute.value_of(object)?.trim();
    (!value.is_empty()).then(|| (object.kind, value.to_lowercase()))
}

/// Pairs the users and groups of `source` with those of `target`; returns the translation entries
/// and the summary. Pure, so every rule is tested without a store.
pub fn match_objects(
    source_dir: DirectoryId,
    source: &[DirectoryObject],
    target_dir: DirectoryId,
    target: &[DirectoryObject],
    attribute: MatchAttribute,
) -> (Vec<TranslationEntry>, MatchSummary) {
    let translatable =
        |o: &&DirectoryObject| matches!(o.kind, ObjectKind::User | ObjectKind::Group);
    let mut candidates: HashMap<(ObjectKind, String), Vec<&DirectoryObject>> = HashMap::new();
    for object in target.iter().filter(translatable) {
        if let Some(k) = key(object, attribute) {
            candidates.entry(k).or_default().push(object);
        }
    }
    // Sources per key, so two sources that would share one target are both held back.
    let mut sources_per_key: HashMap<(ObjectKind, String), usize> = HashMap::new();
    for object in source.iter().filter(translatable) {
        if let Some(k) = key(object, attribute) {
            *sources_per_key.entry(k).or_default() += 1;
        }
    }
    let mut entries = Vec::new();
    let mut summary = MatchSummary::default();
    for object in source.iter().filter(translatable) {
        let Some(k) = key(object, attribute) else {
            summary.unmatched += 1;
            MatchSummary::note(&mut summary.unmatched_names, &object.name);
            continue;
        };
        let found = candidates.get(&k).map(Vec::as_slice).unwrap_or(&[]);
        let shared = sources_per_key.get(&k).copied().unwrap_or(0) > 1;
        match found {
            [] => {
                summary.unmatched += 1;
                MatchSummary::note(&mut summary.unmatched_names, &object.name);
            }
            [one] if !shared => match (side(object, source_dir), side(one, target_dir)) {
                (Some(source), Some(target)) => {
                    summary.matched += 1;
                    entries.push(TranslationEntry {
                        kind: object.kind,
                        source,
                        target,
                    });
                }
                // Without both SIDs there is nothing to translate on a device.
                _ => {
                    summary.unmatched += 1;
                    MatchSummary::note(&mut summary.unmatched_names, &object.name);
                }
            },
            _ => {
                summary.ambiguous += 1;
                MatchSummary::note(&mut summary.ambiguous_names, &object.name);
            }
        }
    }
    (entries, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::ids::ObjectGuid;

    fn user(name: &str, sam: &str, sid: &str) -> DirectoryObject {
        DirectoryObject {
            guid: ObjectGuid::new(),
            kind: ObjectKind::User,
            name: name.to_string(),
            sid: Some(sid.parse().expect("test SID")),
            upn: None,
            sam_account_name: Some(sam.to_string()),
            mail: None,
            employee_id: None,
            operating_system: None,
        }
    }

    #[test]
    fn pairs_one_to_one_ignoring_case_and_reports_the_rest() {
        let (s, t) = (DirectoryId::new(), DirectoryId::new());
        let source = vec![
            user("Alice", "alice", "S-1-5-21-1-1-1-1001"),
            user("Bob", "bob", "S-1-5-21-1-1-1-1002"),
            user("Carol", "carol", "S-1-5-21-1-1-1-1003"),
            user("Dave", "dave", "S-1-5-21-1-1-1-1004"),
            user("Dave Two", "DAVE", "S-1-5-21-1-1-1-1005"),
        ];
        let target = vec![
            user("Alice T", "ALICE", "S-1-5-21-2-2-2-2001"),
            user("Carol A", "carol", "S-1-5-21-2-2-2-2003"),
            user("Carol B", "Carol", "S-1-5-21-2-2-2-2004"),
            user("Dave T", "dave", "S-1-5-21-2-2-2-2005"),
        ];
        let (entries, summary) =
            match_objects(s, &source, t, &target, MatchAttribute::SamAccountName);
        assert_eq!(
            (summary.matched, summary.unmatched, summary.ambiguous),
            (1, 1, 3)
        );
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].source.name, "Alice");
        assert_eq!(entries[0].target.sid.to_string(), "S-1-5-21-2-2-2-2001");
        assert_eq!(entries[0].target.directory, t);
        assert_eq!(summary.unmatched_names, vec!["Bob".to_string()]);
    }

    #[test]
    fn kinds_never_cross_and_computers_are_not_matched() {
        let (s, t) = (DirectoryId::new(), DirectoryId::new());
        let mut group = user("Staff", "staff", "S-1-5-21-2-2-2-3000");
        group.kind = ObjectKind::Group;
        let mut computer = user("PC1", "pc1", "S-1-5-21-1-1-1-4000");
        computer.kind = ObjectKind::Computer;
        let source = vec![
            user("Staff", "staff", "S-1-5-21-1-1-1-3000"),
            computer.clone(),
        ];
        let (entries, summary) = match_objects(
            s,
            &source,
            t,
            &[group, computer],
            MatchAttribute::SamAccountName,
        );
        assert!(entries.is_empty());
        assert_eq!(
            (summary.matched, summary.unmatched, summary.ambiguous),
            (0, 1, 0)
        );
    }
}
