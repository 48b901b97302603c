//! Incremental reads: what changed in the directory since a cursor, deletions included.
//!
//! Two ways, both kept because AD deployments differ in what the import account may do:
//! - a uSNChanged high-water mark needs only read access; deletions are found among the
//!   tombstones in CN=Deleted Objects (show-deleted control). USNs are per DC, so the cursor
//!   remembers which DC it came from.
//! - DirSync needs "Replicating Directory Changes" but works against any DC of the domain and
//!   reports deletions itself. It returns only the changed attributes, so the changed objects are
//!   then read whole, by GUID, through the configured scope and filter.

use base64::Engine as _;
use ldap3::{Ldap, Scope};
use model::ids::ObjectGuid;
use serde::{Deserialize, Serialize};

use super::object::{self, guid_from_bytes, guid_to_bytes, is_within, RawEntry};
use super::{controls, search, LdapObject, LdapSource};
use crate::{Error, Result, Upstream};

/// Where an incremental read starts. Stored between imports (it serializes to JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LdapCursor {
    /// Objects whose uSNChanged is at least `next_usn` on the DC `server`.
    Usn {
        /// dnsHostName of the DC the mark belongs to.
        server: String,
        /// The first USN not yet seen.
        next_usn: u64,
    },
    /// A DirSync cookie, base64; empty means from the beginning (everything).
    DirSync {
        /// The cookie the DC returned last.
        cookie: String,
    },
}

impl LdapCursor {
    /// A DirSync cursor from the beginning: the first read returns every object.
    pub fn dirsync_start() -> LdapCursor {
        LdapCursor::DirSync {
            cookie: String::new(),
        }
    }
}

/// What changed since a cursor.
#[derive(Debug, Clone)]
pub struct Changes {
    /// Objects added or changed, read whole.
    pub objects: Vec<LdapObject>,
    /// GUIDs of objects deleted.
    pub deleted: Vec<ObjectGuid>,
    /// Where the next read starts.
    pub cursor: LdapCursor,
}

/// How many GUIDs one `(|(objectGUID=…)…)` filter names: small enough for any DC's filter limits.
const GUIDS_PER_SEARCH: usize = 100;

impl LdapSource {
    /// Reads what changed since `cursor` and the cursor to continue from.
    pub async fn changes_since(&self, cursor: &LdapCursor) -> Result<Changes> {
        let mut ldap = self.connect().await?;
        let changes = match cursor {
            LdapCursor::Usn { server, next_usn } => {
                self.usn_changes(&mut ldap, server, *next_usn).await
            }
            LdapCursor::DirSync { cookie } => {
                let cookie = base64::engine::general_purpose::STANDARD
                    .decode(cookie)
                    .map_err(|_| {
                        Error::field(
                            "cursor",
                            "the DirSync cookie is not base64; run a full import",
                        )
                    })?;
                self.dirsync_changes(&mut ldap, cookie).await
            }
        };
        let _ = ldap.unbind().await;
        changes
    }

    async fn usn_changes(&self, ldap: &mut Ldap, server: &str, next_usn: u64) -> Result<Changes> {
        let facts = self.domain_facts(ldap).await?;
        if !facts.server.eq_ignore_ascii_case(server) {
            return Err(Error::field(
                "cursor",
                format!(
                    "the cursor counts changes on {} but {} answered, and USNs differ between DCs; run a full import",
                    server, facts.server
                ),
            ));
        }
        let filter = self
            .config
            .object_filter(&format!("(uSNChanged>={})", next_usn));
        let objects = self
            .read_objects(ldap, &self.bases(&facts.naming_context), &filter)
            .await?;
        let tombstone_filter = format!(
            "(&(isDeleted=TRUE)(uSNChanged>={}){})",
            next_usn,
            object::CLASS_FILTER
        );
        let mut deleted = Vec::new();
        search(
            ldap,
            &self.config,
            &facts.naming_context,
            Scope::Subtree,
            &tombstone_filter,
            &["objectGUID", "lastKnownParent"],
            vec![controls::show_deleted()],
            |entry| {
                if let Some(guid) = self.deleted_in_scope(&entry) {
                    deleted.push(guid);
                }
            },
        )
        .await?;
        Ok(Changes {
            objects,
            deleted,
            cursor: LdapCursor::Usn {
                server: facts.server,
                next_usn: facts.highest_usn.max(next_usn.saturating_sub(1)) + 1,
            },
        })
    }

    /// The GUID of a tombstone whose last parent was in scope.
    fn deleted_in_scope(&self, entry: &RawEntry) -> Option<ObjectGuid> {
        let guid = entry
            .values("objectGUID")
            .first()
            .and_then(|v| guid_from_bytes(v))?;
        if self.config.base_dns.is_empty() {
            return Some(guid);
        }
        let parent = entry.text("lastKnownParent")?;
        let (_, _, parent) = object::split_extended_dn(&parent);
        self.config
            .base_dns
            .iter()
            .any(|base| is_within(parent, base))
            .then_some(guid)
    }

    async fn dirsync_changes(&self, ldap: &mut Ldap, mut cookie: Vec<u8>) -> Result<Changes> {
        let facts = self.domain_facts(ldap).await?;
        let mut changed = Vec::new();
        let mut deleted = Vec::new();
        loop {
            let mut tombstones = Vec::new();
            let mut response = None;
            dirsync_page(
                self,
                ldap,
                &facts.naming_context,
                &cookie,
                &mut response,
                |entry| {
                    let Some(guid) = entry
                        .values("objectGUID")
                        .first()
                        .and_then(|v| guid_from_bytes(v))
                    else {
                        return;
                    };
                    let is_deleted = entry
                        .text("isDeleted")
                        .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
                    if is_deleted {
                        tombstones.push(entry);
                    } else {
                        changed.push(guid);
                    }
                },
            )
            .await?;
            deleted.extend(tombstones.iter().filter_map(|e| self.deleted_in_scope(e)));
            let response = response.ok_or_else(|| {
                Error::upstream(Upstream::LDAP, "url", format!("{} did not answer the DirSync control; the bind account needs Replicating Directory Changes", self.config.url))
            })?;
            cookie = response.cookie;
            if !response.more {
                break;
            }
        }
        changed.sort();
        changed.dedup();
        let bases = self.bases(&facts.naming_context);
        let mut objects = Vec::with_capacity(changed.len());
        for chunk in changed.chunks(GUIDS_PER_SEARCH) {
            let any: String = chunk
                .iter()
                .map(|g| format!("(objectGUID={})", escape_bytes(&guid_to_bytes(*g))))
                .collect();
            let filter = self.config.object_filter(&format!("(|{})", any));
            objects.extend(self.read_objects(ldap, &bases, &filter).await?);
        }
        Ok(Changes {
            objects,
            deleted,
            cursor: LdapCursor::DirSync {
                cookie: base64::engine::general_purpose::STANDARD.encode(cookie),
            },
        })
    }
}

/// One DirSync search (it cannot be paged: the cookie is its paging).
async fn dirsync_page(
    source: &LdapSource,
    ldap: &mut Ldap,
    naming_context: &str,
    cookie: &[u8],
    response: &mut Option<controls::DirSyncResponse>,
    mut each: impl FnMut(RawEntry),
) -> Result<()> {
    let config = &source.config;
    // DirSync returns an object only when one of the requested attributes changed (objectGUID
    // never does), so ask for the imported ones: a change elsewhere is not worth a re-read.
    let mut attrs: Vec<&str> = object::ATTRIBUTES.to_vec();
    attrs.extend(["isDeleted", "lastKnownParent"]);
    let mut stream = ldap
        .with_controls(vec![controls::dirsync(cookie)])
        .with_timeout(config.timeout)
        .streaming_search(naming_context, Scope::Subtree, object::CLASS_FILTER, attrs)
        .await
        .map_err(|e| super::search_error(config, naming_context, e.to_string()))?;
    while let Some(entry) = stream
        .next()
        .await
        .map_err(|e| super::search_error(config, naming_context, e.to_string()))?
    {
        if entry.is_ref() || entry.is_intermediate() {
            continue;
        }
        if let Some(raw) = RawEntry::parse(entry.0) {
            each(raw);
        }
    }
    let result = stream.finish().await;
    if result.rc != 0 {
        return Err(super::search_error(
            config,
            naming_context,
            super::describe(&result),
        ));
    }
    *response = controls::dirsync_response(&result.ctrls);
    Ok(())
}

/// Bytes as an LDAP filter value: `\0a\a1…`.
fn escape_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{:02x}", b)).collect()
}
