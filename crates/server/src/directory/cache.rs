//! An in-memory copy of each directory's objects, just what matching and import diffing read,
//! packed small: a million users fit in a few hundred megabytes. Imports keep it current as they
//! write the store; a copy whose generation differs from the store's (another replica imported)
//! is read again before use.

use std::collections::HashMap;
use std::sync::Arc;

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

/// One object of a cache: its key, kind, SIDs and text attributes in one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedObject {
    /// objectGUID or object id.
    pub guid: ObjectGuid,
    /// User, group, computer or contact.
    pub kind: ObjectKind,
    /// The object's SID.
    pub sid: Option<Sid>,
    /// Its on-premises SID; boxed, as most objects have none.
    pub on_premises_sid: Option<Box<Sid>>,
    /// Its sIDHistory.
    pub sid_history: Box<[Sid]>,
    /// [`DirectoryObject::digest`] of the object as stored.
    pub digest: u64,
    text: Box<str>,
    ends: [u32; 9],
    present: u16,
}

impl CachedObject {
    /// The packed form of `object`.
    pub fn new(object: &DirectoryObject) -> CachedObject {
        CachedObject::from_parts(
            object.guid,
            object.kind,
            [object.sid.clone(), object.on_premises_sid.clone()],
            object.sid_history.clone(),
            object.digest(),
            Attr::ALL.map(|a| a.of(object)),
        )
    }

    /// `sids` is the object's own SID and its on-premises one.
    fn from_parts(
        guid: ObjectGuid,
        kind: ObjectKind,
        sids: [Option<Sid>; 2],
        sid_history: Vec<Sid>,
        digest: u64,
        values: [Option<&str>; 9],
    ) -> CachedObject {
        let [sid, on_premises_sid] = sids;
        let mut text = String::with_capacity(values.iter().flatten().map(|v| v.len()).sum());
        let mut ends = [0u32; 9];
        let mut present = 0u16;
        for (i, value) in values.iter().enumerate() {
            if let Some(v) = value {
                text.push_str(v);
                present |= 1 << i;
            }
            ends[i] = text.len() as u32;
        }
        CachedObject {
            guid,
            kind,
            sid,
            on_premises_sid: on_premises_sid.map(Box::new),
            sid_history: sid_history.into_boxed_slice(),
            digest,
            text: text.into_boxed_str(),
            ends,
            present,
        }
    }

    /// The value of `attr`, if the object has one.
    pub fn get(&self, attr: Attr) -> Option<&str> {
        let i = attr as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize)
    }

    /// The object with what the cache keeps of it: key, kind, SIDs and the text attributes.
    pub fn to_object(&self) -> DirectoryObject {
        let text = |a: Attr| self.get(a).map(str::to_string);
        let mut o = DirectoryObject::new(self.guid, self.kind, self.name());
        o.sid = self.sid.clone();
        o.on_premises_sid = self.on_premises_sid.as_deref().cloned();
        o.immutable_id = text(Attr::ImmutableId);
        o.sid_history = self.sid_history.to_vec();
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
    pub fn sids(&self) -> Vec<&Sid> {
        model::directory::all_sids(
            self.sid.as_ref(),
            self.on_premises_sid.as_deref(),
            &self.sid_history,
        )
    }
}

/// The objects of one directory at one generation.
#[derive(Debug, Default)]
pub struct ObjectCache {
    /// The store's generation this copy equals.
    pub generation: i64,
    objects: Vec<CachedObject>,
    index: HashMap<ObjectGuid, u32>,
}

impl ObjectCache {
    /// Every object, in no particular order.
    pub fn objects(&self) -> &[CachedObject] {
        &self.objects
    }

    /// The object with `guid`.
    pub fn get(&self, guid: &ObjectGuid) -> Option<&CachedObject> {
        self.index.get(guid).map(|&i| &self.objects[i as usize])
    }

    /// The digest of the object with `guid`.
    pub fn digest(&self, guid: &ObjectGuid) -> Option<u64> {
        self.get(guid).map(|o| o.digest)
    }

    /// Objects in the cache.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the cache holds no object.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Adds `object`, or replaces the object with its GUID.
    pub fn upsert(&mut self, object: CachedObject) {
        match self.index.get(&object.guid) {
            Some(&i) => self.objects[i as usize] = object,
            None => {
                self.index.insert(object.guid, self.objects.len() as u32);
                self.objects.push(object);
            }
        }
    }

    /// Removes the object with `guid`, if present.
    pub fn remove(&mut self, guid: &ObjectGuid) {
        if let Some(i) = self.index.remove(guid) {
            let i = i as usize;
            self.objects.swap_remove(i);
            if let Some(moved) = self.objects.get(i) {
                self.index.insert(moved.guid, i as u32);
            }
        }
    }

    /// Every GUID in the cache, for finding what a full import no longer sees.
    pub fn guids(&self) -> impl Iterator<Item = &ObjectGuid> {
        self.index.keys()
    }

    /// Reads the cache of `directory` from the store.
    pub async fn load(store: &Store, directory: DirectoryId) -> Result<ObjectCache> {
        let generation = store.directory_generation(directory).await?;
        let mut cache = ObjectCache {
            generation,
            ..ObjectCache::default()
        };
        store
            .for_each_cached_object(directory, |row| {
                let values = &row.values;
                cache.upsert(CachedObject::from_parts(
                    row.guid,
                    row.kind,
                    [row.sid, row.on_premises_sid],
                    row.sid_history,
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

    fn sid(&self) -> Option<&Sid> {
        self.sid.as_ref()
    }

    fn on_premises_sid(&self) -> Option<&Sid> {
        self.on_premises_sid.as_deref()
    }

    fn object_guid(&self) -> Option<ObjectGuid> {
        Some(self.guid)
    }

    fn sid_history(&self) -> &[Sid] {
        &self.sid_history
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

    fn sid(&self) -> Option<&Sid> {
        self.sid.as_ref()
    }

    fn on_premises_sid(&self) -> Option<&Sid> {
        self.on_premises_sid.as_deref()
    }

    fn object_guid(&self) -> Option<ObjectGuid> {
        Some(self.guid)
    }

    fn sid_history(&self) -> &[Sid] {
        &self.sid_history
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
}
