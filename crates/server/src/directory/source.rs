//! The [`DirectorySource`] trait: somewhere directory objects are read from, in full or by delta.

use std::future::Future;
use std::pin::Pin;

use model::directory::DirectoryObject;
use model::ids::ObjectGuid;

use crate::Result;

/// A boxed future, so [`DirectorySource`] stays object-safe without an async-trait macro.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything a directory holds at one moment, as one full import reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The DNS domain (AD) or primary domain (Entra) the source says it is.
    pub domain: String,
    /// The domain SID (AD) or tenant id (Entra), when the source knows it.
    pub domain_id: Option<String>,
    /// Users, groups, computers and contacts.
    pub objects: Vec<DirectoryObject>,
    /// Where an incremental read can start next time, for sources that can read changes.
    pub cursor: Option<String>,
}

/// What changed in a directory since a cursor, as one incremental import reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Objects added or changed, whole.
    pub objects: Vec<DirectoryObject>,
    /// GUIDs of objects deleted.
    pub deleted: Vec<ObjectGuid>,
    /// Where the next incremental read starts.
    pub cursor: String,
}

/// Somewhere directory objects are read from: a JSON document, LDAP or Microsoft Graph.
pub trait DirectorySource: Send + Sync {
    /// Reads every object.
    fn read(&self) -> BoxFuture<'_, Result<Snapshot>>;

    /// Reads what changed since `cursor` (from an earlier [`Snapshot`] or [`Changes`]); `None`
    /// when this source cannot, and a full read is needed.
    fn read_changes<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<Option<Changes>>> {
        let _ = cursor;
        Box::pin(async { Ok(None) })
    }
}
