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

/// A full read handed over a page at a time, as an LDAP paged search or a Graph delta round
/// yields it, so an import never holds the whole directory as read.
pub trait Pages: Send {
    /// The next page of objects; `None` after the last.
    fn next_page(&mut self) -> BoxFuture<'_, Result<Option<Vec<DirectoryObject>>>>;

    /// Where an incremental read can start next time, asked once after the last page.
    fn cursor(&mut self) -> Option<String>;
}

/// A full read as pages: what the source says it is, then its objects.
pub struct PagedSnapshot<'a> {
    /// The DNS domain (AD) or primary domain (Entra) the source says it is.
    pub domain: String,
    /// The domain SID (AD) or tenant id (Entra), when the source knows it.
    pub domain_id: Option<String>,
    /// Users, groups, computers and contacts, page by page.
    pub pages: Box<dyn Pages + 'a>,
}

/// A snapshot read whole, handed over as one page.
struct Whole {
    objects: Option<Vec<DirectoryObject>>,
    cursor: Option<String>,
}

impl Pages for Whole {
    fn next_page(&mut self) -> BoxFuture<'_, Result<Option<Vec<DirectoryObject>>>> {
        let page = self.objects.take();
        Box::pin(async move { Ok(page) })
    }

    fn cursor(&mut self) -> Option<String> {
        self.cursor.take()
    }
}

impl From<Snapshot> for PagedSnapshot<'static> {
    fn from(snapshot: Snapshot) -> PagedSnapshot<'static> {
        PagedSnapshot {
            domain: snapshot.domain,
            domain_id: snapshot.domain_id,
            pages: Box::new(Whole {
                objects: Some(snapshot.objects),
                cursor: snapshot.cursor,
            }),
        }
    }
}

/// Somewhere directory objects are read from: a JSON document, LDAP or Microsoft Graph.
pub trait DirectorySource: Send + Sync {
    /// Reads every object.
    fn read(&self) -> BoxFuture<'_, Result<Snapshot>>;

    /// Reads every object, page by page; by default [`DirectorySource::read`] as one page.
    fn read_pages(&self) -> BoxFuture<'_, Result<PagedSnapshot<'_>>> {
        Box::pin(async move { Ok(PagedSnapshot::from(self.read().await?)) })
    }

    /// Reads what changed since `cursor` (from an earlier [`Snapshot`] or [`Changes`]); `None`
    /// when this source cannot, and a full read is needed.
    fn read_changes<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<Option<Changes>>> {
        let _ = cursor;
        Box::pin(async { Ok(None) })
    }
}
