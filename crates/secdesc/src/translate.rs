//! The SID translation rewrite: source SIDs become target SIDs in owner, group, DACL and SACL.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::ace::Ace;
use crate::acl::{Acl, MAX_ACL_SIZE};
use crate::{Error, Result, SecurityDescriptor, Sid};

/// A small, fast hasher for SIDs. The keys come from the translation table, not from the device,
/// so a hash-flooding-resistant hasher buys nothing here and would cost most of the time.
#[derive(Default, Clone, Copy)]
pub struct SidHasher(u64);

impl SidHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for SidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(u64::from(*b));
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Source SID → target SID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SidMap {
    map: HashMap<Sid, Sid, BuildHasherDefault<SidHasher>>,
}

impl SidMap {
    /// An empty map.
    pub fn new() -> SidMap {
        SidMap::default()
    }

    /// Maps `source` to `target`, returning the previous target of `source`.
    pub fn insert(&mut self, source: Sid, target: Sid) -> Option<Sid> {
        self.map.insert(source, target)
    }

    /// The target of `source`.
    pub fn get(&self, source: &Sid) -> Option<&Sid> {
        self.map.get(source)
    }

    /// How many SIDs are mapped.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every (source, target) pair, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Sid, &Sid)> {
        self.map.iter()
    }

    /// Reads a CSV map: a header line `source_sid,target_sid`, then one pair per line.
    pub fn from_csv(text: &str) -> Result<SidMap> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate();
        let header = lines
            .next()
            .map(|(_, l)| l.trim().to_ascii_lowercase().replace(' ', ""));
        if header.as_deref() != Some("source_sid,target_sid") {
            return Err(Error::SidMap {
                line: 1,
                reason: "the first line must be the header source_sid,target_sid".into(),
            });
        }
        let mut map = SidMap::new();
        for (i, line) in lines {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let err = |reason: String| Error::SidMap {
                line: i + 1,
                reason,
            };
            let mut fields = line.split(',').map(|f| f.trim().trim_matches('"'));
            let (source, target) = match (fields.next(), fields.next(), fields.next()) {
                (Some(s), Some(t), None) => (s, t),
                _ => return Err(err("expected two columns: source_sid,target_sid".into())),
            };
            let source: Sid = source.parse().map_err(|e| err(format!("source: {}", e)))?;
            let target: Sid = target.parse().map_err(|e| err(format!("target: {}", e)))?;
            if let Some(previous) = map.insert(source.clone(), target.clone()) {
                if previous != target {
                    return Err(err(format!(
                        "{} is mapped twice, to {} and {}",
                        source, previous, target
                    )));
                }
            }
        }
        Ok(map)
    }
}

impl FromIterator<(Sid, Sid)> for SidMap {
    fn from_iter<I: IntoIterator<Item = (Sid, Sid)>>(iter: I) -> SidMap {
        SidMap {
            map: iter.into_iter().collect(),
        }
    }
}

impl Extend<(Sid, Sid)> for SidMap {
    fn extend<I: IntoIterator<Item = (Sid, Sid)>>(&mut self, iter: I) {
        self.map.extend(iter)
    }
}

/// What happens to an explicit ACE whose trustee is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TranslateMode {
    /// A copy for the target SID is added right after the original, which stays.
    Add,
    /// The trustee is replaced by the target SID.
    Replace,
}

/// How to translate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TranslateOptions {
    /// Add beside or replace.
    pub mode: TranslateMode,
    /// Whether owner and group are translated too.
    pub owner_and_group: bool,
}

impl Default for TranslateOptions {
    /// Add mode, owner and group left alone: the least intrusive translation.
    fn default() -> TranslateOptions {
        TranslateOptions {
            mode: TranslateMode::Add,
            owner_and_group: false,
        }
    }
}

/// Where a change is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// The owner.
    Owner,
    /// The primary group.
    Group,
    /// The DACL ACE at this index (before translation).
    Dacl(usize),
    /// The SACL ACE at this index (before translation).
    Sacl(usize),
}

/// What was done there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The SID was replaced.
    Replaced,
    /// A copy of the ACE for the target SID was added right after it.
    Added,
}

/// One change a translation makes, for a plan preview or a log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Change {
    /// Where.
    pub place: Place,
    /// Replaced or added.
    pub action: Action,
    /// The source SID.
    pub from: Sid,
    /// The target SID.
    pub to: Sid,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.place {
            Place::Owner => write!(f, "owner")?,
            Place::Group => write!(f, "group")?,
            Place::Dacl(i) => write!(f, "DACL ACE {}", i)?,
            Place::Sacl(i) => write!(f, "SACL ACE {}", i)?,
        }
        match self.action {
            Action::Replaced => write!(f, ": {} replaced by {}", self.from, self.to),
            Action::Added => write!(f, ": {} kept, {} added after it", self.from, self.to),
        }
    }
}

/// Translates `sd` in place and returns the changes. Inherited ACEs are left alone (they are
/// recomputed from the parent). On error (an ACL would exceed 64 KiB) nothing is changed.
pub fn translate(
    sd: &mut SecurityDescriptor,
    map: &SidMap,
    options: &TranslateOptions,
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    translate_into(sd, map, options, &mut changes)?;
    Ok(changes)
}

/// [`translate`], appending the changes to `changes` so that a caller translating many
/// descriptors can reuse one buffer.
pub fn translate_into(
    sd: &mut SecurityDescriptor,
    map: &SidMap,
    options: &TranslateOptions,
    changes: &mut Vec<Change>,
) -> Result<()> {
    if map.is_empty() {
        return Ok(());
    }
    let start = changes.len();
    if options.owner_and_group {
        for (place, sid) in [(Place::Owner, &sd.owner), (Place::Group, &sd.group)] {
            if let Some(from) = sid {
                if let Some(to) = map.get(from).filter(|to| *to != from) {
                    changes.push(Change {
                        place,
                        action: Action::Replaced,
                        from: from.clone(),
                        to: to.clone(),
                    });
                }
            }
        }
    }
    // Plan both ACLs before touching anything, so that an error leaves the descriptor as it was.
    let planned = plan(
        sd.dacl.as_ref(),
        map,
        options.mode,
        Place::Dacl,
        "DACL",
        changes,
    )
    .and_then(|_| {
        plan(
            sd.sacl.as_ref(),
            map,
            options.mode,
            Place::Sacl,
            "SACL",
            changes,
        )
    });
    if let Err(e) = planned {
        changes.truncate(start);
        return Err(e);
    }
    // Applied back to front so that an insertion never shifts an index still to be applied.
    for change in changes[start..].iter().rev() {
        let (acl, index) = match change.place {
            Place::Owner => {
                sd.owner = Some(change.to.clone());
                continue;
            }
            Place::Group => {
                sd.group = Some(change.to.clone());
                continue;
            }
            Place::Dacl(i) => (sd.dacl.as_mut(), i),
            Place::Sacl(i) => (sd.sacl.as_mut(), i),
        };
        let aces = match acl {
            Some(acl) => &mut acl.aces,
            None => continue,
        };
        match change.action {
            Action::Replaced => aces[index].sid = change.to.clone(),
            Action::Added => {
                let mut added = aces[index].clone();
                added.sid = change.to.clone();
                aces.insert(index + 1, added);
            }
        }
    }
    Ok(())
}

fn plan(
    acl: Option<&Acl>,
    map: &SidMap,
    mode: TranslateMode,
    place: fn(usize) -> Place,
    which: &'static str,
    changes: &mut Vec<Change>,
) -> Result<()> {
    let acl = match acl {
        Some(acl) => acl,
        None => return Ok(()),
    };
    let first = changes.len();
    let mut size = acl.binary_len();
    let mut count = acl.aces.len();
    for (i, ace) in acl.aces.iter().enumerate() {
        if ace.is_inherited() {
            continue;
        }
        let to = match map.get(&ace.sid) {
            Some(to) if *to != ace.sid => to,
            _ => continue,
        };
        let action = match mode {
            TranslateMode::Replace => {
                size = size - ace.sid.binary_len() + to.binary_len();
                Action::Replaced
            }
            TranslateMode::Add => {
                // Idempotence: an ACE the target already has (or is about to get) is not added.
                let present = acl
                    .aces
                    .iter()
                    .any(|other| other.sid == *to && same_but_sid(ace, other));
                let planned = changes[first..].iter().any(|c| {
                    c.to == *to && matches!(c.place, Place::Dacl(j) | Place::Sacl(j) if same_but_sid(ace, &acl.aces[j]))
                });
                if present || planned {
                    continue;
                }
                size += ace.binary_len() - ace.sid.binary_len() + to.binary_len();
                count += 1;
                Action::Added
            }
        };
        changes.push(Change {
            place: place(i),
            action,
            from: ace.sid.clone(),
            to: to.clone(),
        });
    }
    if size > MAX_ACL_SIZE || count > u16::MAX as usize {
        return Err(Error::AclTooLarge {
            acl: which,
            size,
            count,
        });
    }
    Ok(())
}

fn same_but_sid(a: &Ace, b: &Ace) -> bool {
    a.ace_type == b.ace_type
        && a.flags == b.flags
        && a.mask == b.mask
        && a.object_type == b.object_type
        && a.inherited_object_type == b.inherited_object_type
        && a.data == b.data
}

#[cfg(test)]
mod tests;
