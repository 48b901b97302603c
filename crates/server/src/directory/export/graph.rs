//! The Entra ID writer: reads what the tenant holds over Microsoft Graph and writes users and
//! groups with `POST` (create) and `PATCH` (only the properties that change), group membership
//! with `$ref` (`POST …/members/$ref`, `DELETE …/members/{id}/$ref`), and the deletion policy's
//! disable as `accountEnabled: false`. Throttling (429, 503 with Retry-After) is waited out
//! through the server's sleeper, as imports do.
//!
//! Entra has no `adminDescription`: the anchor rehome keeps on what it wrote is a user's
//! `onPremisesExtensionAttributes.extensionAttribute15` (writable on cloud-only users) and a
//! group's `description` (groups have no extension attributes). Entra has no containers either,
//! so nothing is moved, and Graph cannot create contacts (organisational contacts come only from
//! Exchange or directory synchronisation), so a contacts profile into Entra is refused.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use model::clock::Clock;
use model::ids::ObjectGuid;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::sync::Mutex;

use super::plan::{AttributeChange, Change, MemberRef, TargetEntry};
use super::profile::ExportKind;
use super::{Applied, TargetWriter, ANCHOR_ATTRIBUTE};
use crate::directory::graph::{error_text, GraphConfig, GraphSource, Sleeper};
use crate::directory::BoxFuture;
use crate::{Error, Result, Upstream};

/// The user property that holds the anchor, inside `onPremisesExtensionAttributes`.
pub const USER_ANCHOR: &str = "extensionAttribute15";
/// The group property that holds the anchor.
pub const GROUP_ANCHOR: &str = "description";

/// Writes one Entra ID tenant.
pub struct GraphWriter {
    source: GraphSource,
    /// The kind of each target object read, so an update goes to `/users` or `/groups`.
    kinds: Mutex<HashMap<ObjectGuid, ExportKind>>,
}

impl GraphWriter {
    /// A writer over `config`, on the server's clock (token expiry) and sleeper (throttling).
    pub fn new(
        config: GraphConfig,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<GraphWriter> {
        Ok(GraphWriter {
            source: GraphSource::new(config)?
                .with_clock(clock)
                .with_sleeper(sleeper),
            kinds: Mutex::new(HashMap::new()),
        })
    }

    fn kinds(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectGuid, ExportKind>> {
        self.kinds.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn read_kind(&self, kind: ExportKind, attributes: &[String]) -> Result<Vec<TargetEntry>> {
        let (path, fixed): (&str, &[&str]) = match kind {
            ExportKind::Users => (
                "users",
                &[
                    "id",
                    "displayName",
                    "accountEnabled",
                    "onPremisesExtensionAttributes",
                ],
            ),
            ExportKind::Groups => ("groups", &["id", "displayName", GROUP_ANCHOR]),
            ExportKind::Contacts => {
                return Err(Error::field(
                    "kind",
                    "Microsoft Graph cannot create contacts in Entra ID; export contacts to Active Directory",
                ))
            }
        };
        let mut select: Vec<&str> = fixed.to_vec();
        for a in attributes {
            if !select.iter().any(|s| s.eq_ignore_ascii_case(a)) {
                select.push(a.as_str());
            }
        }
        let url = self.source.url(&format!(
            "{}?$select={}&$top={}",
            path,
            select.join(","),
            self.source.config().page_size
        ));
        let mut entries = Vec::new();
        self.source
            .read_pages(url, None, |value| {
                if let Some(e) = entry(kind, value) {
                    entries.push(e);
                }
            })
            .await?;
        if kind == ExportKind::Groups {
            for e in &mut entries {
                e.members = self.members(e.id).await?;
            }
        }
        let mut kinds = self.kinds();
        for e in &entries {
            kinds.insert(e.id, kind);
        }
        Ok(entries)
    }

    /// The ids of a group's direct members.
    async fn members(&self, group: ObjectGuid) -> Result<Vec<ObjectGuid>> {
        let url = self.source.url(&format!(
            "groups/{}/members?$select=id&$top={}",
            group,
            self.source.config().page_size
        ));
        let mut out = Vec::new();
        self.source
            .read_pages(url, None, |v| {
                if let Some(id) = guid(v) {
                    out.push(id);
                }
            })
            .await?;
        Ok(out)
    }

    /// Sends one write: `Ok(Ok(answer))` when Graph did it, `Ok(Err(reason))` when it refused
    /// this object (4xx), `Err` when Graph failed as a whole (5xx after the retries).
    async fn write(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<std::result::Result<Value, (StatusCode, String)>> {
        let url = self.source.url(path);
        let (status, answer) = self.source.send_json(method, &url, body).await?;
        if status.is_success() {
            return Ok(Ok(answer));
        }
        let reason = format!(
            "{} was refused ({} {})",
            what,
            status.as_u16(),
            error_text(&answer)
        );
        if status.is_server_error() {
            return Err(self.source.failure("graph_url", reason));
        }
        Ok(Err((status, reason)))
    }

    async fn create(
        &self,
        kind: ExportKind,
        name: &str,
        attributes: &[AttributeChange],
    ) -> Result<Applied> {
        let mut body = properties(kind, attributes);
        let path = match kind {
            ExportKind::Users => {
                body.insert("accountEnabled".into(), json!(false));
                body.insert(
                    "passwordProfile".into(),
                    json!({"password": super::password::generate(),
                        "forceChangePasswordNextSignIn": true}),
                );
                "users"
            }
            ExportKind::Groups => {
                body.insert("mailEnabled".into(), json!(false));
                body.insert("securityEnabled".into(), json!(true));
                "groups"
            }
            ExportKind::Contacts => {
                return Ok(Applied::Refused(
                    "not created: Microsoft Graph cannot create contacts in Entra ID".into(),
                ))
            }
        };
        let what = format!("creating {} {}", kind.as_str().trim_end_matches('s'), name);
        match self
            .write(Method::POST, path, Some(&Value::Object(body)), &what)
            .await?
        {
            Err((_, reason)) => Ok(Applied::Refused(reason)),
            Ok(answer) => match guid(&answer) {
                Some(id) => {
                    self.kinds().insert(id, kind);
                    Ok(Applied::Done(Some(id)))
                }
                None => Err(Error::upstream(
                    Upstream::GRAPH,
                    "graph_url",
                    format!("{} answered without the new object's id", what),
                )),
            },
        }
    }

    async fn update(&self, target: ObjectGuid, attributes: &[AttributeChange]) -> Result<Applied> {
        let Some(kind) = self.kinds().get(&target).copied() else {
            return Ok(Applied::Refused(format!(
                "{} was not read from the tenant in this run; not updated",
                target
            )));
        };
        let path = format!("{}/{}", kind.as_str(), target);
        let body = Value::Object(properties(kind, attributes));
        let what = format!("updating {}", path);
        Ok(
            match self.write(Method::PATCH, &path, Some(&body), &what).await? {
                Ok(_) => Applied::Done(None),
                Err((_, reason)) => Applied::Refused(reason),
            },
        )
    }

    async fn members_change(
        &self,
        target: ObjectGuid,
        add: &[MemberRef],
        remove: &[MemberRef],
        created: &HashMap<ObjectGuid, ObjectGuid>,
    ) -> Result<Applied> {
        let group = created.get(&target).copied().unwrap_or(target);
        let id_of = |m: &MemberRef| {
            if m.new {
                created.get(&m.id).copied()
            } else {
                Some(m.id)
            }
        };
        let mut refused = Vec::new();
        for m in add {
            let Some(id) = id_of(m) else {
                refused.push(format!("{} was not created, so it is not added", m.name));
                continue;
            };
            let body = json!({"@odata.id": self.source.url(&format!("directoryObjects/{}", id))});
            let what = format!("adding {} to group {}", m.name, group);
            match self
                .write(
                    Method::POST,
                    &format!("groups/{}/members/$ref", group),
                    Some(&body),
                    &what,
                )
                .await?
            {
                Ok(_) => {}
                // A run that stopped half way may have added it already.
                Err((StatusCode::BAD_REQUEST, reason)) if reason.contains("already exist") => {}
                Err((_, reason)) => refused.push(reason),
            }
        }
        for m in remove {
            let Some(id) = id_of(m) else { continue };
            let what = format!("removing {} from group {}", m.name, group);
            match self
                .write(
                    Method::DELETE,
                    &format!("groups/{}/members/{}/$ref", group, id),
                    None,
                    &what,
                )
                .await?
            {
                Ok(_) | Err((StatusCode::NOT_FOUND, _)) => {}
                Err((_, reason)) => refused.push(reason),
            }
        }
        Ok(if refused.is_empty() {
            Applied::Done(None)
        } else {
            Applied::Refused(refused.join("; "))
        })
    }

    async fn apply_change(
        &self,
        change: &Change,
        created: &HashMap<ObjectGuid, ObjectGuid>,
    ) -> Result<Applied> {
        match change {
            Change::Create {
                kind,
                name,
                attributes,
                ..
            } => self.create(*kind, name, attributes).await,
            Change::Update {
                target, attributes, ..
            } => self.update(*target, attributes).await,
            Change::Move { .. } => Ok(Applied::Refused(
                "Entra ID has no containers to rename or move an object into".into(),
            )),
            Change::Members {
                target,
                add,
                remove,
                ..
            } => self.members_change(*target, add, remove, created).await,
            Change::Disable { target, .. } => {
                let path = format!("users/{}", target);
                let what = format!("disabling {}", path);
                let body = json!({"accountEnabled": false});
                Ok(
                    match self.write(Method::PATCH, &path, Some(&body), &what).await? {
                        Ok(_) => Applied::Done(None),
                        Err((_, reason)) => Applied::Refused(reason),
                    },
                )
            }
        }
    }
}

impl TargetWriter for GraphWriter {
    fn read<'a>(
        &'a self,
        kind: ExportKind,
        attributes: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<TargetEntry>>> {
        Box::pin(self.read_kind(kind, attributes))
    }

    fn apply<'a>(
        &'a self,
        change: &'a Change,
        created: &'a HashMap<ObjectGuid, ObjectGuid>,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(self.apply_change(change, created))
    }

    fn operations(&self) -> u64 {
        self.source.requests()
    }
}

fn guid(value: &Value) -> Option<ObjectGuid> {
    value
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse().ok())
}

/// A Graph object as a [`TargetEntry`]: scalar properties as text, the anchor under
/// [`ANCHOR_ATTRIBUTE`] whichever property holds it.
fn entry(kind: ExportKind, value: &Value) -> Option<TargetEntry> {
    let id = guid(value)?;
    let mut attributes = HashMap::new();
    for (name, v) in value.as_object()? {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        attributes.insert(name.to_ascii_lowercase(), vec![text]);
    }
    let anchor = match kind {
        ExportKind::Users => value
            .get("onPremisesExtensionAttributes")
            .and_then(|a| a.get(USER_ANCHOR))
            .and_then(Value::as_str),
        _ => value.get(GROUP_ANCHOR).and_then(Value::as_str),
    };
    if let Some(a) = anchor.filter(|a| super::parse_anchor(a).is_some()) {
        attributes.insert(ANCHOR_ATTRIBUTE.to_ascii_lowercase(), vec![a.to_string()]);
    }
    Some(TargetEntry {
        id,
        dn: id.to_string(),
        attributes,
        members: Vec::new(),
        enabled: value.get("accountEnabled").and_then(Value::as_bool),
    })
}

/// The JSON properties of a create or update; the anchor goes where [`entry`] reads it.
fn properties(kind: ExportKind, attributes: &[AttributeChange]) -> Map<String, Value> {
    let mut body = Map::new();
    for a in attributes {
        if a.attribute == ANCHOR_ATTRIBUTE {
            match kind {
                ExportKind::Users => {
                    body.insert(
                        "onPremisesExtensionAttributes".into(),
                        json!({ USER_ANCHOR: a.new }),
                    );
                }
                _ => {
                    body.insert(GROUP_ANCHOR.into(), json!(a.new));
                }
            }
        } else {
            body.insert(a.attribute.clone(), json!(a.new));
        }
    }
    body
}

/// The ids of the source objects of `kind` that match a Graph `$filter`, asked of the source
/// tenant at each run: the Graph filter of a profile's scope.
pub async fn ids_matching(
    config: GraphConfig,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    kind: ExportKind,
    filter: &str,
) -> Result<HashSet<ObjectGuid>> {
    let source = GraphSource::new(config)?
        .with_clock(clock)
        .with_sleeper(sleeper);
    let path = match kind {
        ExportKind::Users => "users",
        ExportKind::Groups => "groups",
        ExportKind::Contacts => "contacts",
    };
    let mut url = source.url(&format!(
        "{}?$select=id&$top={}",
        path,
        source.config().page_size
    ));
    url.push_str("&$filter=");
    url.push_str(&encode_query(filter.trim()));
    let mut found = HashSet::new();
    source
        .read_pages(url, None, |v| {
            if let Some(id) = guid(v) {
                found.insert(id);
            }
        })
        .await
        .map_err(|e| match e {
            Error::Upstream { message, .. } => {
                Error::upstream(Upstream::GRAPH, "scope.graph_filter", message)
            }
            other => other,
        })?;
    Ok(found)
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{:02X}", b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_is_read_and_written_where_entra_keeps_it() {
        let source = ObjectGuid::new();
        let anchor = super::super::anchor_value(source);
        let user = json!({"id": ObjectGuid::new().to_string(), "displayName": "Ada",
            "accountEnabled": false,
            "onPremisesExtensionAttributes": {USER_ANCHOR: anchor}});
        let e = entry(ExportKind::Users, &user).expect("an entry");
        assert_eq!(e.anchor(), Some(source));
        assert_eq!(e.enabled, Some(false));
        let change = AttributeChange {
            attribute: ANCHOR_ATTRIBUTE.into(),
            old: None,
            new: anchor.clone(),
        };
        let body = properties(ExportKind::Groups, std::slice::from_ref(&change));
        assert_eq!(body.get(GROUP_ANCHOR), Some(&json!(anchor)));
        let body = properties(ExportKind::Users, &[change]);
        assert_eq!(
            body["onPremisesExtensionAttributes"][USER_ANCHOR],
            json!(anchor)
        );
        // A description that is no anchor is just a description.
        let group = json!({"id": ObjectGuid::new().to_string(), "description": "Sales team"});
        assert_eq!(
            entry(ExportKind::Groups, &group).and_then(|e| e.anchor()),
            None
        );
        assert_eq!(
            encode_query("startswith(displayName,'A b')"),
            "startswith%28displayName%2C%27A%20b%27%29"
        );
    }
}
