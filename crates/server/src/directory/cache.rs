//! An in-memory copy of each directory's objects, just what matching and import diffing read,
//! packed small: a million users fit in a few hundred megabytes. Imports keep it current as they
//! write the store; a copy whose generation differs from the store's (another replica imported)
//! is read again before use.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hashbrown::HashTable;
use model::directory::{DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use secdesc::Sid;
use tokio::sync::{Mutex, RwLock};

use super::profile::{Attribute, Attributes};
use crate::store::Store;
use crate::Result;

/// The text attributes a cache keeps, in storage order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attr {
    /// Display or common name.
    Name,
    /// userPrincipalName.
    Upn,
    /// sAMAccountName.
    Sam,
    /// mail.
    Mail,
    /// employeeID.
    EmployeeId,
    /// distinguishedName.
    Dn,
    /// givenName.
    GivenName,
    /// sn / surname.
    Surname,
    /// onPremisesImmutableId (Entra objects synchronised from AD).
    ImmutableId,
}

impl Attr {
    /// Every attribute, in storage order.
    pub const ALL: [Attr; 9] = [
        Attr::Name,
        Attr::Upn,
        Attr::Sam,
        Attr::Mail,
        Attr::EmployeeId,
        Attr::Dn,
        Attr::GivenName,
        Attr::Surname,
        Attr::ImmutableId,
    ];

    fn of(self, o: &DirectoryObject) -> Option<&str> {
        match self {
            Attr::Name => Some(o.name.as_str()),
            Attr::Upn => o.upn.as_deref(),
            Attr::Sam => o.sam_account_name.as_deref(),
            Attr::Mail => o.mail.as_deref(),
            Attr::EmployeeId => o.employee_id.as_deref(),
            Attr::Dn => o.dn.as_deref(),
            Attr::GivenName => o.given_name.as_deref(),
            Attr::Surname => o.surname.as_deref(),
            Attr::ImmutableId => o.immutable_id.as_deref(),
        }
    }
}

/// One object of a cache: its key, kind and digest, with its text attributes and SIDs packed into
/// one allocation, so a slot takes 48 bytes and the packed bytes little more than the text.
///
/// The packed bytes are, in order: the byte length of each stored attribute as a LEB128 number,
/// in storage order; the attributes' text; then the binary form of the object's SID, its
/// on-premises SID and each sIDHistory entry, those it has, to the end. A mail equal to the UPN is
/// stored once, as most directories set them alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedObject {
    /// objectGUID or object id.
    pub guid: ObjectGuid,
    /// [`DirectoryObject::digest`] of the object as stored.
    pub digest: u64,
    packed: Box<[u8]>,
    /// User, group, computer or contact.
    pub kind: ObjectKind,
    /// Which attributes have a value, by their place in [`Attr::ALL`], and [`MAIL_IS_UPN`].
    present: u16,
    /// [`HAS_SID`] and [`HAS_ON_PREMISES_SID`].
    sids: u8,
}

/// In `present`: the mail equals the UPN, and its text is not stored again.
const MAIL_IS_UPN: u16 = 1 << 15;
/// In `sids`: the packed SIDs start with the object's own.
const HAS_SID: u8 = 1;
/// In `sids`: an on-premises SID follows the own one.
const HAS_ON_PREMISES_SID: u8 = 2;

/// Appends `value` as a LEB128 number.
fn push_length(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads the LEB128 number at `*at` and moves `*at` past it.
fn read_length(bytes: &[u8], at: &mut usize) -> usize {
    let mut value = 0usize;
    let mut shift = 0;
    while let Some(&b) = bytes.get(*at) {
        *at += 1;
        value |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    value
}

impl CachedObject {
    /// The packed form of `object`.
    pub fn new(object: &DirectoryObject) -> CachedObject {
        CachedObject::from_parts(
            object.guid,
            object.kind,
            [object.sid.as_ref(), object.on_premises_sid.as_ref()],
            &object.sid_history,
            object.digest(),
            Attr::ALL.map(|a| a.of(object)),
        )
    }

    /// `sids` is the object's own SID and its on-premises one.
    fn from_parts(
        guid: ObjectGuid,
        kind: ObjectKind,
        sids: [Option<&Sid>; 2],
        sid_history: &[Sid],
        digest: u64,
        mut values: [Option<&str>; 9],
    ) -> CachedObject {
        let mut present = 0u16;
        for (i, value) in values.iter().enumerate() {
            if value.is_some() {
                present |= 1 << i;
            }
        }
        let (upn, mail) = (Attr::Upn as usize, Attr::Mail as usize);
        if values[mail].is_some() && values[mail] == values[upn] {
            present |= MAIL_IS_UPN;
            values[mail] = None;
        }
        let text: usize = values.iter().flatten().map(|v| v.len()).sum();
        let sid_bytes: usize = sids
            .iter()
            .flatten()
            .copied()
            .chain(sid_history)
            .map(Sid::binary_len)
            .sum();
        let mut packed = Vec::with_capacity(values.len() + text + sid_bytes);
        for value in values.iter().flatten() {
            push_length(&mut packed, value.len());
        }
        for value in values.iter().flatten() {
            packed.extend_from_slice(value.as_bytes());
        }
        let mut flags = 0u8;
        for (sid, flag) in sids.iter().zip([HAS_SID, HAS_ON_PREMISES_SID]) {
            if let Some(sid) = sid {
                sid.write_bytes(&mut packed);
                flags |= flag;
            }
        }
        for sid in sid_history {
            sid.write_bytes(&mut packed);
        }
        CachedObject {
            guid,
            digest,
            packed: packed.into_boxed_slice(),
            kind,
            present,
            sids: flags,
        }
    }

    /// Whether `other` holds the same as this object in everything but the digest.
    fn same_but_digest(&self, other: &CachedObject) -> bool {
        self.guid == other.guid
            && self.kind == other.kind
            && self.present == other.present
            && self.sids == other.sids
            && self.packed == other.packed
    }

    /// The attributes whose text is stored, as bits of `present`.
    fn stored(&self) -> u16 {
        let mut stored = self.present & ((1 << Attr::ALL.len()) - 1);
        if self.present & MAIL_IS_UPN != 0 {
            stored &= !(1 << Attr::Mail as usize);
        }
        stored
    }

    /// The byte length of each attribute's stored text, by place (0 for those not stored), and
    /// where the text starts: after the lengths.
    fn lengths(&self) -> ([usize; 9], usize) {
        let stored = self.stored();
        let mut lengths = [0; 9];
        let mut at = 0;
        for (place, length) in lengths.iter_mut().enumerate() {
            if stored & (1 << place) != 0 {
                *length = read_length(&self.packed, &mut at);
            }
        }
        (lengths, at)
    }

    /// Where the packed SIDs start: after the lengths and the text.
    fn sids_start(&self) -> usize {
        let (lengths, text) = self.lengths();
        text + lengths.iter().sum::<usize>()
    }

    /// The value of `attr`, if the object has one.
    pub fn get(&self, attr: Attr) -> Option<&str> {
        let mut i = attr as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        if attr == Attr::Mail && self.present & MAIL_IS_UPN != 0 {
            i = Attr::Upn as usize;
        }
        let (lengths, text) = self.lengths();
        let start = text + lengths[..i].iter().sum::<usize>();
        let bytes = self.packed.get(start..start + lengths[i])?;
        std::str::from_utf8(bytes).ok()
    }

    /// The packed SIDs: own, on-premises, then the sIDHistory.
    fn packed_sids(&self) -> impl Iterator<Item = Sid> + '_ {
        let mut at = self.sids_start();
        std::iter::from_fn(move || {
            let (sid, used) = Sid::from_bytes_prefix(self.packed.get(at..)?).ok()?;
            at += used;
            Some(sid)
        })
    }

    /// The object's SID.
    pub fn sid(&self) -> Option<Sid> {
        if self.sids & HAS_SID == 0 {
            return None;
        }
        self.packed_sids().next()
    }

    /// Its on-premises SID.
    pub fn on_premises_sid(&self) -> Option<Sid> {
        if self.sids & HAS_ON_PREMISES_SID == 0 {
            return None;
        }
        let skip = usize::from(self.sids & HAS_SID != 0);
        self.packed_sids().nth(skip)
    }

    /// Its sIDHistory.
    pub fn sid_history(&self) -> Vec<Sid> {
        let skip = (self.sids & (HAS_SID | HAS_ON_PREMISES_SID)).count_ones() as usize;
        self.packed_sids().skip(skip).collect()
    }

    /// The object with what the cache keeps of it: key, kind, SIDs and the text attributes.
    pub fn to_object(&self) -> DirectoryObject {
        let text = |a: Attr| self.get(a).map(str::to_string);
        let mut o = DirectoryObject::new(self.guid, self.kind, self.name());
        o.sid = self.sid();
        o.on_premises_sid = self.on_premises_sid();
        o.immutable_id = text(Attr::ImmutableId);
        o.sid_history = self.sid_history();
        o.upn = text(Attr::Upn);
        o.sam_account_name = text(Attr::Sam);
        o.mail = text(Attr::Mail);
        o.employee_id = text(Attr::EmployeeId);
        o.dn = text(Attr::Dn);
        o.given_name = text(Attr::GivenName);
        o.surname = text(Attr::Surname);
        o
    }

    /// The display or common name.
    pub fn name(&self) -> &str {
        self.get(Attr::Name).unwrap_or_default()
    }

    /// Every SID the object may appear under on a device: its own, its on-premises one and its
    /// sIDHistory, each once.
    pub fn sids(&self) -> Vec<Sid> {
        let (own, on_premises, history) = (self.sid(), self.on_premises_sid(), self.sid_history());
        model::directory::all_sids(own.as_ref(), on_premises.as_ref(), &history)
            .into_iter()
            .cloned()
            .collect()
    }
}

/// Where [`ObjectCache`] counts objects of `kind`.
fn kind_place(kind: ObjectKind) -> usize {
    match kind {
        ObjectKind::User => 0,
        ObjectKind::Group => 1,
        ObjectKind::Computer => 2,
        ObjectKind::Contact => 3,
    }
}

/// The hash a cache's GUID index files `guid` under.
fn guid_hash(guid: &ObjectGuid) -> u64 {
    let mut h = DefaultHasher::new();
    guid.hash(&mut h);
    h.finish()
}

/// The hash of the object in slot `i`, when the index grows.
fn slot_hash(slots: &[Option<CachedObject>], i: u32) -> u64 {
    slots
        .get(i as usize)
        .and_then(Option::as_ref)
        .map_or(0, |o| guid_hash(&o.guid))
}

/// Whether slot `i` holds the object with `guid`.
fn holds(slots: &[Option<CachedObject>], i: u32, guid: &ObjectGuid) -> bool {
    slots
        .get(i as usize)
        .and_then(Option::as_ref)
        .is_some_and(|o| o.guid == *guid)
}

/// Each cache gets an epoch of its own, so state kept beside it (a pair's match index) can tell
/// whether its slot numbers still refer to this cache.
static EPOCHS: AtomicU64 = AtomicU64::new(1);

/// A change an import made to one slot of a cache: the object as it was before (none when it is
/// new). The object now is the slot's current content (none when it was removed).
#[derive(Debug)]
pub struct Change {
    /// The generation the import wrote.
    pub generation: i64,
    /// The slot changed.
    pub slot: u32,
    /// The object before the change.
    pub old: Option<Box<CachedObject>>,
}

/// The objects of one directory at one generation, each in a slot that keeps its number while
/// the object lives, with the changes of the last imports.
#[derive(Debug)]
pub struct ObjectCache {
    /// The store's generation this copy equals.
    pub generation: i64,
    epoch: u64,
    slots: Vec<Option<CachedObject>>,
    live: usize,
    /// Live objects per kind, in the order of [`kind_place`].
    kinds: [usize; 4],
    /// Slot numbers by their object's GUID, which the slot itself holds: 5 bytes a bucket where
    /// a map of GUID to slot took 21.
    index: HashTable<u32>,
    /// The changes of the imports after generation `since`, in order.
    journal: Vec<Change>,
    since: i64,
}

impl Default for ObjectCache {
    fn default() -> ObjectCache {
        ObjectCache {
            generation: 0,
            epoch: EPOCHS.fetch_add(1, Ordering::Relaxed),
            slots: Vec::new(),
            live: 0,
            kinds: [0; 4],
            index: HashTable::new(),
            journal: Vec::new(),
            since: 0,
        }
    }
}

impl ObjectCache {
    /// Every object, in slot order.
    pub fn objects(&self) -> impl Iterator<Item = &CachedObject> {
        self.slots.iter().flatten()
    }

    /// Every object with its slot, in slot order.
    pub fn slotted(&self) -> impl Iterator<Item = (u32, &CachedObject)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.as_ref().map(|o| (i as u32, o)))
    }

    /// The object in `slot`, if one lives there.
    pub fn at(&self, slot: u32) -> Option<&CachedObject> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// How many slots there are, live or not: every slot number is below it.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Identifies this copy: another copy of the same directory numbers its slots otherwise.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The changes since generation `after`, oldest first; `None` when they are no longer all
    /// kept.
    pub fn changes_after(&self, after: i64) -> Option<&[Change]> {
        if after < self.since || after > self.generation {
            return None;
        }
        let start = self.journal.partition_point(|c| c.generation <= after);
        Some(&self.journal[start..])
    }

    /// The object with `guid`.
    pub fn get(&self, guid: &ObjectGuid) -> Option<&CachedObject> {
        let slots = &self.slots;
        self.index
            .find(guid_hash(guid), |&i| holds(slots, i, guid))
            .and_then(|&i| self.at(i))
    }

    /// The digest of the object with `guid`.
    pub fn digest(&self, guid: &ObjectGuid) -> Option<u64> {
        self.get(guid).map(|o| o.digest)
    }

    /// Objects in the cache.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the cache holds no object.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Objects of `kind` in the cache, counted as they come and go, so an import's summary never
    /// walks the directory.
    pub fn count(&self, kind: ObjectKind) -> usize {
        self.kinds[kind_place(kind)]
    }

    /// Makes room for `additional` new objects at once, so a first import of a large directory
    /// grows the slots and the GUID index once instead of doubling them, each doubling briefly
    /// holding the old copy beside the new.
    pub fn reserve(&mut self, additional: usize) {
        self.slots.reserve_exact(additional);
        let slots = &self.slots;
        self.index.reserve(additional, |&i| slot_hash(slots, i));
    }

    /// Adds `object`, or replaces the object with its GUID; returns the slot and what it held.
    fn put(&mut self, object: CachedObject) -> (u32, Option<CachedObject>) {
        self.kinds[kind_place(object.kind)] += 1;
        let hash = guid_hash(&object.guid);
        let slots = &self.slots;
        match self
            .index
            .find(hash, |&i| holds(slots, i, &object.guid))
            .copied()
        {
            Some(i) => {
                let old = self.slots[i as usize].replace(object);
                if let Some(old) = &old {
                    self.kinds[kind_place(old.kind)] -= 1;
                }
                (i, old)
            }
            None => {
                let i = self.slots.len() as u32;
                self.slots.push(Some(object));
                let slots = &self.slots;
                self.index.insert_unique(hash, i, |&s| slot_hash(slots, s));
                self.live += 1;
                (i, None)
            }
        }
    }

    /// Adds `object`, or replaces the object with its GUID.
    pub fn upsert(&mut self, object: CachedObject) {
        self.put(object);
    }

    /// Removes the object with `guid`, if present; its slot stays empty.
    fn take(&mut self, guid: &ObjectGuid) -> Option<(u32, CachedObject)> {
        let slots = &self.slots;
        let (i, _) = self
            .index
            .find_entry(guid_hash(guid), |&i| holds(slots, i, guid))
            .ok()?
            .remove();
        let old = self.slots.get_mut(i as usize)?.take()?;
        self.live -= 1;
        self.kinds[kind_place(old.kind)] -= 1;
        Some((i, old))
    }

    /// Removes the object with `guid`, if present.
    pub fn remove(&mut self, guid: &ObjectGuid) {
        self.take(guid);
    }

    /// Applies one import that wrote `generation`: removes `deleted`, adds or replaces `upserts`,
    /// and keeps what changed in the journal while it stays small beside the directory.
    pub fn apply(
        &mut self,
        generation: i64,
        deleted: &[ObjectGuid],
        upserts: impl Iterator<Item = CachedObject>,
    ) {
        let follows = generation == self.generation + 1;
        let limit = self.live / 8 + 1024;
        let mut keep = follows && self.journal.len() + deleted.len() <= limit;
        let mut changes = Vec::new();
        for guid in deleted {
            if let Some((slot, old)) = self.take(guid) {
                if keep {
                    changes.push(Change {
                        generation,
                        slot,
                        old: Some(Box::new(old)),
                    });
                }
            }
        }
        for object in upserts {
            let (slot, old) = self.put(object);
            // A change only to what matching never reads (members, operating system) is none.
            if let (Some(old), Some(new)) = (&old, self.at(slot)) {
                if old.same_but_digest(new) {
                    continue;
                }
            }
            keep = keep && self.journal.len() + changes.len() < limit;
            if keep {
                changes.push(Change {
                    generation,
                    slot,
                    old: old.map(Box::new),
                });
            } else {
                changes.clear();
            }
        }
        // Mostly empty slots: number them afresh, which whatever kept slot numbers notices by
        // the new epoch.
        if self.slots.len() > 1024 && self.live < self.slots.len() / 2 {
            let objects: Vec<CachedObject> = self.slots.drain(..).flatten().collect();
            self.index.clear();
            self.live = 0;
            self.kinds = [0; 4];
            for object in objects {
                self.put(object);
            }
            self.epoch = EPOCHS.fetch_add(1, Ordering::Relaxed);
            keep = false;
        }
        if keep {
            self.journal.extend(changes);
        } else {
            self.journal.clear();
            self.since = generation;
        }
        self.generation = generation;
    }

    /// Every GUID in the cache, for finding what a full import no longer sees.
    pub fn guids(&self) -> impl Iterator<Item = &ObjectGuid> {
        self.objects().map(|o| &o.guid)
    }

    /// Reads the cache of `directory` from the store.
    pub async fn load(store: &Store, directory: DirectoryId) -> Result<ObjectCache> {
        let generation = store.directory_generation(directory).await?;
        let mut cache = ObjectCache {
            generation,
            since: generation,
            ..ObjectCache::default()
        };
        store
            .for_each_cached_object(directory, |row| {
                let values = &row.values;
                cache.upsert(CachedObject::from_parts(
                    row.guid,
                    row.kind,
                    [row.sid.as_ref(), row.on_premises_sid.as_ref()],
                    &row.sid_history,
                    row.digest,
                    [
                        values[0].as_deref(),
                        values[1].as_deref(),
                        values[2].as_deref(),
                        values[3].as_deref(),
                        values[4].as_deref(),
                        values[5].as_deref(),
                        values[6].as_deref(),
                        values[7].as_deref(),
                        values[8].as_deref(),
                    ],
                ));
            })
            .await?;
        Ok(cache)
    }
}

impl Attributes for CachedObject {
    fn attribute(&self, attribute: Attribute) -> Option<&str> {
        self.get(match attribute {
            Attribute::SamAccountName => Attr::Sam,
            Attribute::UserPrincipalName => Attr::Upn,
            Attribute::Mail => Attr::Mail,
            Attribute::EmployeeId => Attr::EmployeeId,
            // The stored name is displayName when the directory has one, else the common name.
            Attribute::Name | Attribute::DisplayName => Attr::Name,
            Attribute::GivenName => Attr::GivenName,
            Attribute::Surname => Attr::Surname,
            Attribute::Dn => Attr::Dn,
            Attribute::ImmutableId => Attr::ImmutableId,
            // Read through `sid`, `on_premises_sid` and `object_guid`.
            Attribute::ObjectSid | Attribute::ObjectGuid | Attribute::OnPremisesSid => return None,
        })
    }

    fn sid(&self) -> Option<Sid> {
        CachedObject::sid(self)
    }

    fn on_premises_sid(&self) -> Option<Sid> {
        CachedObject::on_premises_sid(self)
    }

    fn object_guid(&self) -> Option<ObjectGuid> {
        Some(self.guid)
    }

    fn sid_history(&self) -> Cow<'_, [Sid]> {
        Cow::Owned(CachedObject::sid_history(self))
    }

    fn is_group(&self) -> bool {
        self.kind == ObjectKind::Group
    }

    fn display(&self) -> &str {
        self.name()
    }
}

impl Attributes for &CachedObject {
    fn attribute(&self, attribute: Attribute) -> Option<&str> {
        (**self).attribute(attribute)
    }

    fn sid(&self) -> Option<Sid> {
        CachedObject::sid(self)
    }

    fn on_premises_sid(&self) -> Option<Sid> {
        CachedObject::on_premises_sid(self)
    }

    fn object_guid(&self) -> Option<ObjectGuid> {
        Some(self.guid)
    }

    fn sid_history(&self) -> Cow<'_, [Sid]> {
        Cow::Owned(CachedObject::sid_history(self))
    }

    fn is_group(&self) -> bool {
        (**self).is_group()
    }

    fn display(&self) -> &str {
        self.name()
    }
}

/// One directory's cache, locked for reading by matching and for writing by an import.
pub type CacheSlot = Arc<RwLock<ObjectCache>>;

/// The caches of every directory this replica has used, each behind its own lock, so an import of
/// one directory never waits for matching in another.
#[derive(Default)]
pub struct ObjectCaches {
    caches: Mutex<HashMap<DirectoryId, CacheSlot>>,
}

impl std::fmt::Debug for ObjectCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectCaches")
    }
}

impl ObjectCaches {
    /// The cache of `directory`, read again from the store first when it is missing or stale.
    pub async fn current(&self, store: &Store, directory: DirectoryId) -> Result<CacheSlot> {
        let slot = self
            .caches
            .lock()
            .await
            .entry(directory)
            .or_insert_with(|| {
                Arc::new(RwLock::new(ObjectCache {
                    generation: -1,
                    since: -1,
                    ..ObjectCache::default()
                }))
            })
            .clone();
        let generation = store.directory_generation(directory).await?;
        let stale = slot.read().await.generation != generation;
        if stale {
            let mut cache = slot.write().await;
            // Another task may have refreshed it while this one waited for the lock.
            if cache.generation != generation {
                *cache = ObjectCache::load(store, directory).await?;
            }
        }
        Ok(slot)
    }

    /// Forgets the cache of `directory` (deleted, or written by something that did not update it).
    pub async fn forget(&self, directory: DirectoryId) {
        self.caches.lock().await.remove(&directory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_attributes_read_back_and_absent_ones_stay_absent() {
        let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, "Ada Lovelace");
        o.upn = Some("ada@contoso.com".into());
        o.mail = Some(String::new());
        o.surname = Some("Lovelace".into());
        let v = CachedObject::new(&o);
        assert_eq!(v.name(), "Ada Lovelace");
        assert_eq!(v.get(Attr::Upn), Some("ada@contoso.com"));
        assert_eq!(v.get(Attr::Sam), None);
        assert_eq!(v.get(Attr::Mail), Some(""));
        assert_eq!(v.get(Attr::Surname), Some("Lovelace"));
        assert_eq!(v.get(Attr::GivenName), None);
        assert_eq!(v.digest, o.digest());
    }

    #[test]
    fn packed_sids_and_long_or_shared_values_read_back_as_given() {
        let sid = |s: &str| s.parse::<Sid>().unwrap_or_else(|e| panic!("{}", e));
        let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, "Zoë Ångström");
        o.sid = Some(sid("S-1-5-21-1-2-3-1104"));
        o.on_premises_sid = Some(sid("S-1-5-21-7-8-9-500"));
        o.sid_history = vec![sid("S-1-5-21-4-5-6-1201"), sid("S-1-5-21-1-2-3-1104")];
        o.upn = Some("zoe@contoso.com".into());
        o.mail = Some("zoe@contoso.com".into());
        // Longer than one and than two bytes of length.
        o.dn = Some(format!("CN=Zoë,{}", "OU=Ünits,".repeat(2000)));
        o.immutable_id = Some("x".repeat(200));
        let v = CachedObject::new(&o);
        // `o` has only what a cache keeps, so it comes back whole.
        assert_eq!(v.to_object(), o);
        assert_eq!(v.get(Attr::Mail), Some("zoe@contoso.com"));
        assert_eq!(v.get(Attr::Dn), o.dn.as_deref());
        assert_eq!(v.get(Attr::ImmutableId).map(str::len), Some(200));
        assert_eq!(v.sid(), o.sid);
        assert_eq!(v.on_premises_sid(), o.on_premises_sid);
        assert_eq!(v.sid_history(), o.sid_history);
        // The own SID appears once, though sIDHistory holds it again.
        assert_eq!(v.sids().len(), 3);

        // A mail that differs from the UPN, no own SID, only a history.
        o.mail = Some("zoe.angstrom@contoso.com".into());
        o.sid = None;
        o.on_premises_sid = None;
        let w = CachedObject::new(&o);
        assert_eq!(w.get(Attr::Mail), Some("zoe.angstrom@contoso.com"));
        assert_eq!(w.get(Attr::Upn), Some("zoe@contoso.com"));
        assert_eq!((w.sid(), w.on_premises_sid()), (None, None));
        assert_eq!(w.sid_history(), o.sid_history);
        assert!(!w.same_but_digest(&v));
    }

    #[test]
    fn removing_keeps_every_other_object_findable() {
        let mut view = ObjectCache::default();
        let objects: Vec<DirectoryObject> = (0..5)
            .map(|i| DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, format!("u{}", i)))
            .collect();
        for o in &objects {
            view.upsert(CachedObject::new(o));
        }
        view.remove(&objects[1].guid);
        view.remove(&objects[4].guid);
        assert_eq!(view.len(), 3);
        for i in [0, 2, 3] {
            assert_eq!(
                view.get(&objects[i].guid).map(|o| o.name()),
                Some(objects[i].name.as_str())
            );
        }
        assert!(view.get(&objects[1].guid).is_none());
    }

    #[test]
    fn every_live_object_is_found_by_its_guid_through_growth_removals_and_renumbering() {
        let objects: Vec<DirectoryObject> = (0..5000)
            .map(|i| DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, format!("u{}", i)))
            .collect();
        let mut cache = ObjectCache::default();
        // Half reserved at once, the rest grown one at a time.
        cache.reserve(2500);
        cache.apply(1, &[], objects.iter().map(CachedObject::new));
        let gone: Vec<ObjectGuid> = objects.iter().step_by(3).map(|o| o.guid).collect();
        let mut renamed = objects[1].clone();
        renamed.name = "renamed".into();
        cache.apply(2, &gone, std::iter::once(CachedObject::new(&renamed)));
        let check = |cache: &ObjectCache| {
            for (i, o) in objects.iter().enumerate() {
                let found = cache.get(&o.guid).map(|c| c.name().to_string());
                let wanted = match i {
                    _ if i % 3 == 0 => None,
                    1 => Some("renamed".to_string()),
                    _ => Some(o.name.clone()),
                };
                assert_eq!(found, wanted, "object {}", i);
            }
            let mut guids: Vec<ObjectGuid> = cache.guids().copied().collect();
            let mut live: Vec<ObjectGuid> = cache.objects().map(|o| o.guid).collect();
            guids.sort();
            live.sort();
            assert_eq!(guids, live);
            assert_eq!(cache.len(), 5000 - 1667);
        };
        check(&cache);
        // More than half the slots empty: numbered afresh, and still found.
        let epoch = cache.epoch();
        let more: Vec<ObjectGuid> = objects
            .iter()
            .skip(1)
            .step_by(3)
            .skip(1)
            .map(|o| o.guid)
            .collect();
        cache.apply(3, &more, std::iter::empty());
        assert_ne!(cache.epoch(), epoch);
        assert_eq!(cache.slot_count(), cache.len());
        for (i, o) in objects.iter().enumerate() {
            let wanted = i % 3 == 2 || i == 1;
            assert_eq!(cache.get(&o.guid).is_some(), wanted, "object {}", i);
        }
    }

    #[test]
    fn counts_per_kind_follow_adds_kind_changes_removals_and_renumbering() {
        let mut cache = ObjectCache::default();
        let users: Vec<DirectoryObject> = (0..2000)
            .map(|i| DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, format!("u{}", i)))
            .collect();
        cache.reserve(users.len());
        cache.apply(1, &[], users.iter().map(CachedObject::new));
        assert_eq!(cache.count(ObjectKind::User), 2000);
        // The same GUID now a group, and 1,500 users gone: the slots are numbered afresh.
        let mut group = users[0].clone();
        group.kind = ObjectKind::Group;
        let gone: Vec<ObjectGuid> = users[500..].iter().map(|o| o.guid).collect();
        cache.apply(2, &gone, std::iter::once(CachedObject::new(&group)));
        assert_eq!(cache.len(), 500);
        assert_eq!(cache.count(ObjectKind::User), 499);
        assert_eq!(cache.count(ObjectKind::Group), 1);
        assert_eq!(cache.count(ObjectKind::Computer), 0);
        assert_eq!(cache.slot_count(), 500);
    }
}
