//! The Active Directory writer: reads what the target holds with paged searches and writes with
//! LDAP add, modify (only the attributes that change) and modify DN. A new user is created
//! disabled with a random password, which AD accepts only over an encrypted connection (LDAPS or
//! StartTLS).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use ldap3::{Ldap, Mod, Scope};
use model::ids::ObjectGuid;
use tokio::sync::Mutex;

use super::plan::{escape_rdn_value, split_dn, Change, TargetEntry};
use super::profile::ExportKind;
use super::{Applied, TargetWriter};
use crate::directory::ldap::{
    describe, extended_dn, guid_from_bytes, member_from_bytes, search, split_extended_dn,
    LdapConfig, LdapSource, RawEntry,
};
use crate::directory::BoxFuture;
use crate::{Error, Result, Upstream};

/// userAccountControl of a new user: a normal account, disabled.
const NEW_USER_CONTROL: &str = "514";
/// The userAccountControl bit of a disabled account.
const ACCOUNTDISABLE: u64 = 0x2;

/// Writes one Active Directory domain.
pub struct LdapWriter {
    source: LdapSource,
    extra_bases: Vec<String>,
    connection: Mutex<Option<Ldap>>,
    operations: AtomicU64,
}

impl LdapWriter {
    /// A writer over `config`; `extra_bases` (the profiles' containers) are read besides the
    /// connection's own base DNs.
    pub fn new(config: LdapConfig, extra_bases: Vec<String>) -> Result<LdapWriter> {
        Ok(LdapWriter {
            source: LdapSource::new(config)?,
            extra_bases,
            connection: Mutex::new(None),
            operations: AtomicU64::new(0),
        })
    }

    fn config(&self) -> &LdapConfig {
        self.source.config()
    }

    fn encrypted(&self) -> bool {
        let c = self.config();
        c.url.to_ascii_lowercase().starts_with("ldaps://") || c.starttls
    }

    /// The bound connection, made on first use.
    async fn ldap(&self) -> Result<Ldap> {
        let mut slot = self.connection.lock().await;
        if let Some(ldap) = slot.as_ref() {
            return Ok(ldap.clone());
        }
        let ldap = self.source.connect().await?;
        *slot = Some(ldap.clone());
        Ok(ldap)
    }

    fn count(&self) {
        self.operations.fetch_add(1, Ordering::Relaxed);
    }

    fn failure(&self, what: String) -> Error {
        Error::upstream(Upstream::LDAP, "url", what)
    }

    async fn read_kind(&self, kind: ExportKind, attributes: &[String]) -> Result<Vec<TargetEntry>> {
        let mut ldap = self.ldap().await?;
        let facts = self.source.domain_facts(&mut ldap).await?;
        let mut bases = self.source.bases(&facts.naming_context);
        for extra in &self.extra_bases {
            if !bases.iter().any(|b| super::plan::is_within(extra, b)) {
                bases.push(extra.clone());
            }
        }
        let filter = match kind {
            ExportKind::Users => "(&(objectCategory=person)(objectClass=user))",
            ExportKind::Contacts => "(objectClass=contact)",
            ExportKind::Groups => "(objectClass=group)",
        };
        let mut names: Vec<String> = attributes.to_vec();
        for extra in [
            "objectGUID",
            "userAccountControl",
            "displayName",
            super::ANCHOR_ATTRIBUTE,
        ] {
            names.push(extra.to_string());
        }
        if kind == ExportKind::Groups {
            names.push("member".to_string());
        }
        let attrs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut entries = Vec::new();
        let mut ranged = Vec::new();
        let mut seen = HashSet::new();
        for base in &bases {
            let mut failed = None;
            search(
                &mut ldap,
                self.config(),
                base,
                Scope::Subtree,
                filter,
                &attrs,
                vec![extended_dn()],
                |raw| match entry(&raw) {
                    Some(e) => {
                        if seen.insert(e.id) {
                            if let Some((_, Some(next))) = raw.ranged("member") {
                                ranged.push((entries.len(), next));
                            }
                            entries.push(e);
                        }
                    }
                    None => failed = Some(raw.dn.clone()),
                },
            )
            .await
            .or_else(|e| match e {
                // A profile container that does not exist yet holds nothing to read.
                Error::Upstream { ref message, .. }
                    if message.contains("LDAP result 32") && self.extra_bases.contains(base) =>
                {
                    Ok(())
                }
                other => Err(other),
            })?;
            self.count();
            if let Some(dn) = failed {
                tracing::warn!(dn = %dn, "an object of the target has no readable objectGUID");
            }
        }
        for (index, start) in ranged {
            let dn = entries[index].dn.clone();
            let more = self.source.member_ranges(&mut ldap, &dn, start).await?;
            entries[index]
                .members
                .extend(more.into_iter().filter_map(|m| m.guid));
        }
        Ok(entries)
    }

    async fn result(
        &self,
        what: &str,
        result: ldap3::result::Result<ldap3::LdapResult>,
    ) -> Result<Applied> {
        self.count();
        match result {
            Err(e) => {
                // The connection is gone: drop it so a later call connects again.
                *self.connection.lock().await = None;
                Err(self.failure(format!("{} failed: {}", what, e)))
            }
            Ok(r) if r.rc == 0 => Ok(Applied::Done(None)),
            Ok(r) => Ok(Applied::Refused(format!(
                "{} was refused ({})",
                what,
                describe(&r)
            ))),
        }
    }

    async fn create(
        &self,
        kind: ExportKind,
        rdn: Option<&str>,
        container: Option<&str>,
        attributes: &[super::plan::AttributeChange],
    ) -> Result<Applied> {
        let (Some(rdn), Some(container)) = (rdn, container) else {
            return Ok(Applied::Refused(
                "not created: no name (cn) or container".to_string(),
            ));
        };
        if kind == ExportKind::Users && !self.encrypted() {
            return Ok(Applied::Refused(format!(
                "not created: a new user needs a password, which Active Directory sets only over an encrypted connection; use an ldaps:// URL or StartTLS for {}",
                self.config().url
            )));
        }
        let dn = format!("CN={},{}", escape_rdn_value(rdn), container);
        let class = match kind {
            ExportKind::Users => "user",
            ExportKind::Contacts => "contact",
            ExportKind::Groups => "group",
        };
        let one = |v: &[u8]| HashSet::from([v.to_vec()]);
        let mut attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> =
            vec![(b"objectClass".to_vec(), one(class.as_bytes()))];
        for a in attributes {
            attrs.push((a.attribute.as_bytes().to_vec(), one(a.new.as_bytes())));
        }
        if kind == ExportKind::Users {
            let password = super::password::generate();
            attrs.push((
                b"userAccountControl".to_vec(),
                one(NEW_USER_CONTROL.as_bytes()),
            ));
            attrs.push((b"unicodePwd".to_vec(), one(&unicode_pwd(&password))));
        }
        let mut ldap = self.ldap().await?;
        let result = ldap
            .with_timeout(self.config().timeout)
            .add(&dn, attrs)
            .await;
        match self.result(&format!("adding {}", dn), result).await? {
            Applied::Done(_) => {}
            refused => return Ok(refused),
        }
        let mut guid = None;
        search(
            &mut ldap,
            self.config(),
            &dn,
            Scope::Base,
            "(objectClass=*)",
            &["objectGUID"],
            Vec::new(),
            |e| {
                guid = e
                    .values("objectGUID")
                    .first()
                    .and_then(|v| guid_from_bytes(v))
            },
        )
        .await?;
        self.count();
        match guid {
            Some(g) => Ok(Applied::Done(Some(g))),
            None => Err(self.failure(format!("{} was added but cannot be read back", dn))),
        }
    }

    async fn disable(&self, dn: &str) -> Result<Applied> {
        let mut ldap = self.ldap().await?;
        let mut control = None;
        search(
            &mut ldap,
            self.config(),
            dn,
            Scope::Base,
            "(objectClass=*)",
            &["userAccountControl"],
            Vec::new(),
            |e| {
                control = e
                    .text("userAccountControl")
                    .and_then(|v| v.parse::<u64>().ok())
            },
        )
        .await?;
        self.count();
        let Some(control) = control else {
            return Ok(Applied::Refused(format!(
                "{} has no userAccountControl to disable",
                dn
            )));
        };
        if control & ACCOUNTDISABLE != 0 {
            return Ok(Applied::Done(None));
        }
        let value = (control | ACCOUNTDISABLE).to_string().into_bytes();
        let result = ldap
            .with_timeout(self.config().timeout)
            .modify(
                dn,
                vec![Mod::Replace(
                    b"userAccountControl".to_vec(),
                    HashSet::from([value]),
                )],
            )
            .await;
        self.result(&format!("disabling {}", dn), result).await
    }

    async fn apply_change(
        &self,
        change: &Change,
        created: &HashMap<ObjectGuid, ObjectGuid>,
    ) -> Result<Applied> {
        match change {
            Change::Create {
                kind,
                rdn,
                container,
                attributes,
                ..
            } => {
                self.create(*kind, rdn.as_deref(), container.as_deref(), attributes)
                    .await
            }
            Change::Update { dn, attributes, .. } => {
                let mods = attributes
                    .iter()
                    .map(|a| {
                        Mod::Replace(
                            a.attribute.as_bytes().to_vec(),
                            HashSet::from([a.new.as_bytes().to_vec()]),
                        )
                    })
                    .collect();
                let mut ldap = self.ldap().await?;
                let result = ldap
                    .with_timeout(self.config().timeout)
                    .modify(dn, mods)
                    .await;
                self.result(&format!("modifying {}", dn), result).await
            }
            Change::Move {
                dn,
                new_rdn,
                new_parent,
                ..
            } => {
                let (_, parent) = split_dn(dn);
                let superior =
                    (!super::plan::same_dn(parent, new_parent)).then_some(new_parent.as_str());
                let mut ldap = self.ldap().await?;
                let result = ldap
                    .with_timeout(self.config().timeout)
                    .modifydn(dn, new_rdn, true, superior)
                    .await;
                self.result(&format!("renaming or moving {}", dn), result)
                    .await
            }
            Change::Members {
                target,
                add,
                remove,
                ..
            } => {
                let target = created.get(target).unwrap_or(target);
                let value = |m: &super::plan::MemberRef| {
                    let id = if m.new {
                        created.get(&m.id).copied()
                    } else {
                        Some(m.id)
                    };
                    id.map(|id| format!("<GUID={}>", id).into_bytes())
                };
                let added: HashSet<Vec<u8>> = add.iter().filter_map(value).collect();
                let removed: HashSet<Vec<u8>> = remove.iter().filter_map(value).collect();
                let mut mods = Vec::new();
                if !added.is_empty() {
                    mods.push(Mod::Add(b"member".to_vec(), added));
                }
                if !removed.is_empty() {
                    mods.push(Mod::Delete(b"member".to_vec(), removed));
                }
                if mods.is_empty() {
                    return Ok(Applied::Done(None));
                }
                let dn = format!("<GUID={}>", target);
                let mut ldap = self.ldap().await?;
                let result = ldap
                    .with_timeout(self.config().timeout)
                    .modify(&dn, mods)
                    .await;
                self.result("changing the members of the group", result)
                    .await
            }
            Change::Disable { dn, .. } => self.disable(dn).await,
        }
    }
}

impl TargetWriter for LdapWriter {
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
        self.operations.load(Ordering::Relaxed)
    }
}

/// A search entry as a [`TargetEntry`]; `None` without an objectGUID.
fn entry(raw: &RawEntry) -> Option<TargetEntry> {
    let id = raw
        .values("objectGUID")
        .first()
        .and_then(|v| guid_from_bytes(v))?;
    let (_, _, dn) = split_extended_dn(&raw.dn);
    let mut attributes = HashMap::new();
    for (name, values) in &raw.attributes {
        if name.contains(';') || name.eq_ignore_ascii_case("member") {
            continue;
        }
        let texts: Vec<String> = values
            .iter()
            .filter_map(|v| String::from_utf8(v.clone()).ok())
            .collect();
        attributes.insert(name.to_ascii_lowercase(), texts);
    }
    let members = raw
        .values("member")
        .iter()
        .chain(raw.ranged("member").map(|(v, _)| v).unwrap_or(&[]))
        .filter_map(|v| member_from_bytes(v).and_then(|m| m.guid))
        .collect();
    let enabled = raw
        .text("userAccountControl")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|c| c & ACCOUNTDISABLE == 0);
    Some(TargetEntry {
        id,
        dn: dn.to_string(),
        attributes,
        members,
        enabled,
    })
}

/// unicodePwd's value: the password in quotes, UTF-16LE.
fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{}\"", password)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// The GUIDs of the source objects of `kind` that match `filter`, asked of the source domain
/// controller: the LDAP filter of a profile's scope.
pub async fn guids_matching(
    config: LdapConfig,
    kind: ExportKind,
    filter: &str,
) -> Result<HashSet<ObjectGuid>> {
    let source = LdapSource::new(config)?;
    let mut ldap = source.connect().await?;
    let facts = source.domain_facts(&mut ldap).await?;
    let class = match kind {
        ExportKind::Users => "(&(objectCategory=person)(objectClass=user))",
        ExportKind::Contacts => "(objectClass=contact)",
        ExportKind::Groups => "(objectClass=group)",
    };
    let filter = format!("(&{}{})", class, filter.trim());
    let mut found = HashSet::new();
    for base in source.bases(&facts.naming_context) {
        search(
            &mut ldap,
            source.config(),
            &base,
            Scope::Subtree,
            &filter,
            &["objectGUID"],
            Vec::new(),
            |e| {
                if let Some(g) = e
                    .values("objectGUID")
                    .first()
                    .and_then(|v| guid_from_bytes(v))
                {
                    found.insert(g);
                }
            },
        )
        .await?;
    }
    let _ = ldap.unbind().await;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_goes_to_ad_quoted_in_utf16() {
        assert_eq!(unicode_pwd("ab"), b"\"\0a\0b\0\"\0".to_vec());
    }
}
