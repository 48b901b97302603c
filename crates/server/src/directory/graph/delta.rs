//! Incremental reads with Graph delta queries: `/users/delta`, `/groups/delta` and
//! `/devices/delta`, each continued from the `@odata.deltaLink` of the previous round.
//!
//! After the first round Graph sends a changed object "with at least the updated properties",
//! so a missing property may mean "unchanged" rather than "cleared": changed objects are read
//! again whole, by id, through the same `$select`.

use std::collections::BTreeSet;

use model::directory::DirectoryObject;
use model::ids::ObjectGuid;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::object::{self, GraphKind};
use super::GraphSource;
use crate::{Error, Result, Upstream};

/// Where a delta read starts: one delta link per collection. Stored between imports (it
/// serializes to JSON); an empty link means "from the beginning" (every object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphCursor {
    /// The `@odata.deltaLink` of `/users/delta`.
    pub users: String,
    /// The `@odata.deltaLink` of `/groups/delta`.
    pub groups: String,
    /// The `@odata.deltaLink` of `/devices/delta`.
    pub devices: String,
}

impl GraphCursor {
    /// A cursor from the beginning: the first read returns every object.
    pub fn start() -> GraphCursor {
        GraphCursor::default()
    }

    /// The link for `kind`.
    pub fn link(&self, kind: GraphKind) -> &str {
        match kind {
            GraphKind::Users => &self.users,
            GraphKind::Groups => &self.groups,
            GraphKind::Devices => &self.devices,
        }
    }

    fn set(&mut self, kind: GraphKind, link: String) {
        match kind {
            GraphKind::Users => self.users = link,
            GraphKind::Groups => self.groups = link,
            GraphKind::Devices => self.devices = link,
        }
    }
}

/// What changed since a cursor.
#[derive(Debug, Clone)]
pub struct GraphChanges {
    /// Objects added or changed, read whole.
    pub objects: Vec<DirectoryObject>,
    /// Ids of objects deleted (or soft-deleted: Graph's `@removed` with reason `changed`).
    pub deleted: Vec<ObjectGuid>,
    /// Where the next read starts.
    pub cursor: GraphCursor,
}

/// How many ids one `$filter=id in (…)` names: Graph refuses longer `in` lists.
const IDS_PER_FILTER: usize = 15;

impl GraphSource {
    /// `{graph}/{kind}/delta?$select=…`: the first request of a delta round.
    fn delta_url(&self, kind: GraphKind) -> String {
        self.url(&format!("{}/delta?$select={}", kind.path(), kind.select()))
    }

    /// Delta links that start now, without reading anything (`$deltatoken=latest`). A kind whose
    /// link cannot be had keeps an empty one: its next delta read starts from the beginning,
    /// which is slower but still right, so it is no reason to fail the full read.
    pub(super) async fn latest_cursor(&self) -> GraphCursor {
        let mut cursor = GraphCursor::start();
        for kind in GraphKind::ALL {
            let url = format!("{}&$deltatoken=latest", self.delta_url(kind));
            let link = self.read_pages(url, None, |_| {}).await;
            match link.and_then(|link| self.require_delta_link(kind, link)) {
                Ok(link) => cursor.set(kind, link),
                Err(e) => tracing::warn!(collection = kind.path(), error = %e,
                    "no delta link; the next incremental read of it starts from the beginning"),
            }
        }
        cursor
    }

    fn require_delta_link(&self, kind: GraphKind, link: Option<String>) -> Result<String> {
        link.ok_or_else(|| {
            Error::upstream(
                Upstream::GRAPH,
                "graph_url",
                format!(
                    "GET {} ended without an @odata.deltaLink",
                    self.delta_url(kind).split('?').next().unwrap_or_default()
                ),
            )
        })
    }

    /// Reads what changed since `cursor` and the cursor to continue from.
    pub async fn changes_since(&self, cursor: &GraphCursor) -> Result<GraphChanges> {
        let mut changes = GraphChanges {
            objects: Vec::new(),
            deleted: Vec::new(),
            cursor: GraphCursor::start(),
        };
        for kind in GraphKind::ALL {
            let first_round = cursor.link(kind).is_empty();
            let url = if first_round {
                self.delta_url(kind)
            } else {
                cursor.link(kind).to_string()
            };
            let mut changed: Vec<Value> = Vec::new();
            let mut removed = BTreeSet::new();
            let link = self
                .read_pages(url, Some(self.config.page_size), |value| {
                    let Some(id) = object::object_id(value) else {
                        return;
                    };
                    // The same object may come more than once in a round; the last word counts.
                    if value.get("@removed").is_some() {
                        removed.insert(id);
                    } else {
                        removed.remove(&id);
                        changed.push(value.clone());
                    }
                })
                .await?;
            changes
                .cursor
                .set(kind, self.require_delta_link(kind, link)?);
            changed.retain(|v| object::object_id(v).is_some_and(|id| !removed.contains(&id)));
            let mut objects: Vec<DirectoryObject> = if first_round {
                // The first round sends every selected property: nothing to read again.
                changed
                    .iter()
                    .filter_map(|v| object::decode(kind, v))
                    .collect()
            } else {
                let ids: BTreeSet<ObjectGuid> =
                    changed.iter().filter_map(object::object_id).collect();
                let found = self.read_by_id(kind, &ids).await?;
                // Changed and then deleted before the read: deleted.
                removed.extend(
                    ids.iter()
                        .filter(|id| !found.iter().any(|o| o.guid == **id)),
                );
                found
            };
            // Keep the last copy of an object sent twice in a round: it is the newer one.
            let mut seen = BTreeSet::new();
            objects.reverse();
            objects.retain(|o| seen.insert(o.guid));
            objects.reverse();
            changes.objects.extend(objects);
            changes.deleted.extend(removed);
        }
        Ok(changes)
    }

    /// Reads the objects of `kind` with these ids, whole; ids no longer there are left out.
    async fn read_by_id(
        &self,
        kind: GraphKind,
        ids: &BTreeSet<ObjectGuid>,
    ) -> Result<Vec<DirectoryObject>> {
        let ids: Vec<_> = ids.iter().collect();
        let mut objects = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_FILTER) {
            let list: Vec<String> = chunk.iter().map(|id| format!("%27{}%27", id)).collect();
            let url = self.url(&format!(
                "{}?$select={}&$filter=id%20in%20({})",
                kind.path(),
                kind.select(),
                list.join(",")
            ));
            self.read_pages(url, None, |value| {
                if let Some(object) = object::decode(kind, value) {
                    objects.push(object);
                }
            })
            .await?;
        }
        Ok(objects)
    }
}
