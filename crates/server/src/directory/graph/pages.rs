//! A full read of a tenant handed to the import one Graph page at a time: users, then groups,
//! then devices, each collection followed through its `@odata.nextLink`s.

use std::collections::HashSet;

use model::directory::DirectoryObject;

use super::delta::GraphCursor;
use super::object::{self, GraphKind};
use super::GraphSource;
use crate::directory::{BoxFuture, Pages};
use crate::Result;

/// Where a paged full read of a tenant stands.
pub(super) struct GraphPages<'a> {
    source: &'a GraphSource,
    /// The collection being read, as an index into [`GraphKind::ALL`].
    kind: usize,
    /// The next page of it, `None` once it is read to the end.
    next: Option<String>,
    /// Pages already read, so a link back to one fails instead of reading forever.
    seen: HashSet<String>,
    cursor: GraphCursor,
}

impl<'a> GraphPages<'a> {
    /// A read from the first page of the first collection; `cursor` is handed on at the end.
    pub(super) fn new(source: &'a GraphSource, cursor: GraphCursor) -> GraphPages<'a> {
        GraphPages {
            source,
            kind: 0,
            next: GraphKind::ALL.first().map(|k| source.collection_url(*k)),
            seen: HashSet::new(),
            cursor,
        }
    }

    async fn page(&mut self) -> Result<Option<Vec<DirectoryObject>>> {
        loop {
            let Some(kind) = GraphKind::ALL.get(self.kind).copied() else {
                return Ok(None);
            };
            let Some(url) = self.next.take() else {
                self.kind += 1;
                self.next = GraphKind::ALL
                    .get(self.kind)
                    .map(|k| self.source.collection_url(*k));
                continue;
            };
            let page = self.source.fetch_page(&url, None, &mut self.seen).await?;
            self.next = page.link("@odata.nextLink");
            let objects: Vec<DirectoryObject> = page
                .values()
                .filter_map(|v| object::decode(kind, v))
                .collect();
            // An empty page in the middle of a collection is no end of the read.
            if !objects.is_empty() {
                return Ok(Some(objects));
            }
        }
    }
}

impl Pages for GraphPages<'_> {
    fn next_page(&mut self) -> BoxFuture<'_, Result<Option<Vec<DirectoryObject>>>> {
        Box::pin(self.page())
    }

    fn cursor(&mut self) -> Option<String> {
        serde_json::to_string(&self.cursor).ok()
    }
}
