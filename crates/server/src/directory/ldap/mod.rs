//! Active Directory over LDAP: [`LdapSource`] reads users, groups, computers and contacts with a
//! simple bind (plain LDAP, LDAPS or StartTLS), in pages, scoped by base DNs and a filter, and
//! reads what changed since a cursor ([`LdapSource::changes_since`]: a uSNChanged high-water mark
//! or a DirSync cookie, deletions included).
//!
//! Referrals are never followed: a DC answers a subtree search of the domain with references to
//! the configuration and DNS partitions, which are not part of any import.

mod changes;
mod controls;
mod object;

use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapResult, Scope};
use model::FieldError;
use secdesc::Sid;

pub use changes::{Changes, LdapCursor};
pub(crate) use controls::extended_dn;
pub(crate) use object::{guid_from_bytes, member_from_bytes, split_extended_dn, RawEntry};
pub use object::{LdapKind, LdapObject, Member};

use super::{BoxFuture, DirectorySource, Snapshot};
use crate::{Error, Result, Upstream};

/// How to reach and read one Active Directory domain.
#[derive(Clone)]
pub struct LdapConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// Upgrade a plain `ldap://` connection with StartTLS before binding.
    pub starttls: bool,
    /// Accept any certificate (a DC's self-signed one); the connection is still encrypted.
    pub accept_invalid_certs: bool,
    /// The account to bind as, e.g. `CN=svc-rehome,OU=Service,DC=contoso,DC=com`.
    pub bind_dn: String,
    /// Its password. Never logged, never part of an error.
    pub password: String,
    /// Where to search (OUs or containers); empty means the whole domain.
    pub base_dns: Vec<String>,
    /// An LDAP filter objects must also match, e.g. `(department=Sales)`.
    pub filter: Option<String>,
    /// Objects per page (AD caps it at its MaxPageSize, 1,000 by default).
    pub page_size: u32,
    /// How long to wait for the DC: to connect, and between two replies.
    pub timeout: Duration,
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("bind_dn", &self.bind_dn)
            .field("password", &"<hidden>")
            .field("base_dns", &self.base_dns)
            .field("filter", &self.filter)
            .field("page_size", &self.page_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl LdapConfig {
    /// A configuration with the defaults: whole domain, no extra filter, pages of 1,000, 60 s.
    pub fn new(
        url: impl Into<String>,
        bind_dn: impl Into<String>,
        password: impl Into<String>,
    ) -> LdapConfig {
        LdapConfig {
            url: url.into(),
            starttls: false,
            accept_invalid_certs: false,
            bind_dn: bind_dn.into(),
            password: password.into(),
            base_dns: Vec::new(),
            filter: None,
            page_size: 1000,
            timeout: Duration::from_secs(60),
        }
    }

    /// Checks the fields a user typed.
    pub fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        let url = self.url.to_ascii_lowercase();
        if url.trim() != url {
            errors.push(FieldError::new(
                "url",
                "remove the spaces before or after the URL",
            ));
        } else if !url.starts_with("ldap://") && !url.starts_with("ldaps://") {
            errors.push(FieldError::new(
                "url",
                "an ldap:// or ldaps:// URL is expected, e.g. ldaps://dc1.contoso.com",
            ));
        }
        if self.starttls && url.starts_with("ldaps://") {
            errors.push(FieldError::new(
                "starttls",
                "StartTLS is for ldap:// URLs; ldaps:// is encrypted already",
            ));
        }
        if self.bind_dn.trim().is_empty() {
            errors.push(FieldError::new(
                "bind_dn",
                "the DN of the account to bind as is needed",
            ));
        }
        if self.password.is_empty() {
            // An empty password makes a simple bind anonymous, which AD accepts and then hides objects.
            errors.push(FieldError::new(
                "password",
                "the bind account's password is needed",
            ));
        }
        if let Some(filter) = self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            if ldap3::parse_filter(wrap_filter(filter)).is_err() {
                errors.push(FieldError::new(
                    "filter",
                    format!(
                        "{:?} is not an LDAP filter, e.g. (department=Sales)",
                        filter
                    ),
                ));
            }
        }
        if self.page_size == 0 {
            errors.push(FieldError::new("page_size", "at least 1"));
        }
        if let Some(error) = super::connection::check_timeout(self.timeout) {
            errors.push(error);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(errors))
        }
    }

    /// The filter a search of objects uses: the classes rehome imports, `extra`, and the user's.
    fn object_filter(&self, extra: &str) -> String {
        let user = self
            .filter
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .map(wrap_filter)
            .unwrap_or_default();
        format!("(&{}{}{})", object::CLASS_FILTER, extra, user)
    }
}

/// `department=Sales` → `(department=Sales)`; a filter already in parentheses stays as it is.
fn wrap_filter(filter: &str) -> String {
    let filter = filter.trim();
    if filter.starts_with('(') {
        filter.to_string()
    } else {
        format!("({})", filter)
    }
}

/// Everything one full read found, with the cursor to read changes from afterwards.
#[derive(Debug, Clone)]
pub struct LdapSnapshot {
    /// The DNS domain, from the naming context (`DC=contoso,DC=test` → `contoso.test`).
    pub domain: String,
    /// The domain SID: objectSid of the naming context root.
    pub domain_sid: Option<Sid>,
    /// Users, groups, computers and contacts in scope.
    pub objects: Vec<LdapObject>,
    /// Where the next incremental read starts (a uSNChanged high-water mark).
    pub cursor: LdapCursor,
}

impl LdapSnapshot {
    /// The shared form an import stores, with the cursor as JSON.
    pub fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            domain: self.domain.clone(),
            domain_id: self.domain_sid.as_ref().map(Sid::to_string),
            objects: self
                .objects
                .iter()
                .map(LdapObject::to_directory_object)
                .collect(),
            cursor: serde_json::to_string(&self.cursor).ok(),
        }
    }
}

/// An Active Directory domain read over LDAP.
#[derive(Debug, Clone)]
pub struct LdapSource {
    config: LdapConfig,
}

/// What the root DSE and the naming context root say about the DC and its domain.
pub(crate) struct DomainFacts {
    pub(crate) naming_context: String,
    server: String,
    highest_usn: u64,
}

impl LdapSource {
    /// A source for `config`, checked first.
    pub fn new(config: LdapConfig) -> Result<LdapSource> {
        config.validate()?;
        Ok(LdapSource { config })
    }

    /// Its configuration.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Connects and binds; the error names the URL and bind DN, never the password.
    pub(crate) async fn connect(&self) -> Result<Ldap> {
        let c = &self.config;
        let settings = LdapConnSettings::new()
            .set_conn_timeout(c.timeout)
            .set_starttls(c.starttls)
            .set_no_tls_verify(c.accept_invalid_certs);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &c.url)
            .await
            .map_err(|e| {
                Error::upstream(
                    Upstream::LDAP,
                    "url",
                    connect_failure(&c.url, &e.to_string()),
                )
            })?;
        let url = c.url.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::warn!(url = %url, error = %e, "LDAP connection ended with an error");
            }
        });
        let refused = |detail: String| {
            Error::upstream(
                Upstream::LDAP,
                "bind_dn",
                format!(
                    "the simple bind as {:?} to {} was refused ({}); check the bind DN and password",
                    c.bind_dn, c.url, detail
                ),
            )
        };
        let result = ldap
            .with_timeout(c.timeout)
            .simple_bind(&c.bind_dn, &c.password)
            .await
            .map_err(|e| refused(e.to_string()))?;
        if result.rc != 0 {
            return Err(refused(describe(&result)));
        }
        Ok(ldap)
    }

    /// Reads the root DSE: the domain's naming context, the DC's name and its highest USN.
    pub(crate) async fn domain_facts(&self, ldap: &mut Ldap) -> Result<DomainFacts> {
        let attrs = vec!["defaultNamingContext", "dnsHostName", "highestCommittedUSN"];
        let mut found = None;
        search(
            ldap,
            &self.config,
            "",
            Scope::Base,
            "(objectClass=*)",
            &attrs,
            Vec::new(),
            |e| found = Some(e),
        )
        .await?;
        let entry = found.ok_or_else(|| {
            Error::upstream(
                Upstream::LDAP,
                "url",
                format!(
                    "{} sent no root DSE; is it a domain controller?",
                    self.config.url
                ),
            )
        })?;
        let naming_context = entry.text("defaultNamingContext").ok_or_else(|| {
            Error::upstream(
                Upstream::LDAP,
                "url",
                format!(
                    "{} names no default naming context; is it an AD domain controller?",
                    self.config.url
                ),
            )
        })?;
        Ok(DomainFacts {
            naming_context,
            server: entry
                .text("dnsHostName")
                .unwrap_or_else(|| self.config.url.clone()),
            highest_usn: entry
                .text("highestCommittedUSN")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        })
    }

    /// The objectSid of the naming context root: the domain SID.
    async fn domain_sid(&self, ldap: &mut Ldap, naming_context: &str) -> Result<Option<Sid>> {
        let mut sid = None;
        search(
            ldap,
            &self.config,
            naming_context,
            Scope::Base,
            "(objectClass=*)",
            &["objectSid"],
            Vec::new(),
            |e| {
                sid = e
                    .values("objectSid")
                    .first()
                    .and_then(|v| Sid::from_bytes(v).ok())
            },
        )
        .await?;
        Ok(sid)
    }

    /// The DNs searched: the configured ones, or the whole domain.
    pub(crate) fn bases(&self, naming_context: &str) -> Vec<String> {
        if self.config.base_dns.is_empty() {
            vec![naming_context.to_string()]
        } else {
            self.config.base_dns.clone()
        }
    }

    /// Reads every object in scope, paged, with members as GUIDs (extended DNs).
    pub async fn read_full(&self) -> Result<LdapSnapshot> {
        let mut ldap = self.connect().await?;
        let facts = self.domain_facts(&mut ldap).await?;
        let domain_sid = self.domain_sid(&mut ldap, &facts.naming_context).await?;
        let filter = self.config.object_filter("");
        let objects = self
            .read_objects(&mut ldap, &self.bases(&facts.naming_context), &filter)
            .await?;
        let _ = ldap.unbind().await;
        Ok(LdapSnapshot {
            domain: object::dns_domain_of(&facts.naming_context),
            domain_sid,
            objects,
            // Changes committed while the search ran have a higher USN and come again next time:
            // reading an object twice is harmless, missing one is not.
            cursor: LdapCursor::Usn {
                server: facts.server,
                next_usn: facts.highest_usn + 1,
            },
        })
    }

    /// Searches each base with `filter`, decoding objects and completing ranged member lists.
    async fn read_objects(
        &self,
        ldap: &mut Ldap,
        bases: &[String],
        filter: &str,
    ) -> Result<Vec<LdapObject>> {
        let mut objects = Vec::new();
        let mut ranged = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for base in bases {
            let controls = vec![controls::extended_dn()];
            search(
                ldap,
                &self.config,
                base,
                Scope::Subtree,
                filter,
                object::ATTRIBUTES,
                controls,
                |entry| {
                    let Some(object) = object::decode(&entry) else {
                        return;
                    };
                    // Overlapping bases (an OU and its parent) must not yield an object twice.
                    if !seen.insert(object.guid) {
                        return;
                    }
                    if let Some((_, Some(next))) = entry.ranged("member") {
                        ranged.push((objects.len(), next));
                    }
                    objects.push(object);
                },
            )
            .await?;
        }
        for (index, start) in ranged {
            let dn = objects[index].dn.clone();
            let more = self.member_ranges(ldap, &dn, start).await?;
            objects[index].members.extend(more);
        }
        Ok(objects)
    }

    /// The members of the group at `dn` from `start` on, one range at a time.
    pub(crate) async fn member_ranges(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        mut start: u64,
    ) -> Result<Vec<Member>> {
        let mut members = Vec::new();
        loop {
            let attr = format!("member;range={}-*", start);
            let mut next = None;
            search(
                ldap,
                &self.config,
                dn,
                Scope::Base,
                "(objectClass=*)",
                &[attr.as_str()],
                vec![controls::extended_dn()],
                |entry| {
                    if let Some((values, following)) = entry.ranged("member") {
                        members.extend(values.iter().filter_map(|v| object::member_from_bytes(v)));
                        next = following;
                    }
                },
            )
            .await?;
            match next {
                Some(n) if n > start => start = n,
                _ => return Ok(members),
            }
        }
    }
}

impl DirectorySource for LdapSource {
    fn read(&self) -> BoxFuture<'_, Result<Snapshot>> {
        Box::pin(async move { Ok(self.read_full().await?.to_snapshot()) })
    }

    fn read_changes<'a>(
        &'a self,
        cursor: &'a str,
    ) -> BoxFuture<'a, Result<Option<super::Changes>>> {
        Box::pin(async move {
            // A cursor this version cannot read (or another source's) means a full read.
            let Ok(cursor) = serde_json::from_str::<LdapCursor>(cursor) else {
                return Ok(None);
            };
            let changes = self.changes_since(&cursor).await?;
            Ok(Some(super::Changes {
                objects: changes
                    .objects
                    .iter()
                    .map(LdapObject::to_directory_object)
                    .collect(),
                deleted: changes.deleted,
                cursor: serde_json::to_string(&changes.cursor)
                    .map_err(|e| Error::Internal(format!("cannot encode the cursor: {}", e)))?,
            }))
        })
    }
}

/// Why a connection failed, with what to do about it.
fn connect_failure(url: &str, detail: &str) -> String {
    let advice = if detail.contains("certificate") {
        "trust the DC's certificate, or accept invalid certificates for a self-signed one"
    } else {
        "check the URL and that the DC is reachable from the server"
    };
    format!("cannot connect to {}: {}; {}", url, detail, advice)
}

/// `rc=49 (invalidCredentials): 80090308: LdapErr: …` without the noise.
pub(crate) fn describe(result: &LdapResult) -> String {
    let text = result.text.trim_end_matches('\0').trim();
    if text.is_empty() {
        format!("LDAP result {}", result.rc)
    } else {
        format!("LDAP result {}: {}", result.rc, text)
    }
}

/// One search, paged when `scope` is a subtree, handing each entry to `each`. Search references
/// (referrals) are skipped, never followed.
#[allow(clippy::too_many_arguments)] // An LDAP search simply has this many parts.
pub(crate) async fn search(
    ldap: &mut Ldap,
    config: &LdapConfig,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
    controls: Vec<ldap3::controls::RawControl>,
    mut each: impl FnMut(RawEntry),
) -> Result<()> {
    let paged = scope == Scope::Subtree;
    let mut cookie = Vec::new();
    loop {
        let mut request = controls.clone();
        if paged {
            request.push(controls::paged(config.page_size, &cookie));
        }
        let mut stream = ldap
            .with_controls(request)
            .with_timeout(config.timeout)
            .streaming_search(base, scope, filter, attrs.to_vec())
            .await
            .map_err(|e| search_error(config, base, e.to_string()))?;
        while let Some(entry) = stream
            .next()
            .await
            .map_err(|e| search_error(config, base, e.to_string()))?
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
            return Err(search_error(config, base, describe(&result)));
        }
        cookie = if paged {
            controls::paged_cookie(&result.ctrls).unwrap_or_default()
        } else {
            Vec::new()
        };
        if cookie.is_empty() {
            return Ok(());
        }
    }
}

fn search_error(config: &LdapConfig, base: &str, detail: String) -> Error {
    let field = if config.base_dns.iter().any(|b| b == base) {
        "base_dns"
    } else {
        "url"
    };
    Error::upstream(
        Upstream::LDAP,
        field,
        format!("searching {:?} at {} failed: {}", base, config.url, detail),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(config: &LdapConfig) -> Vec<String> {
        match config.validate() {
            Err(Error::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected field errors, got {:?}", other),
        }
    }

    #[test]
    fn configurations_are_checked_field_by_field() {
        let good = LdapConfig::new("ldaps://dc1.contoso.com", "CN=svc,DC=contoso,DC=com", "pw");
        assert!(good.validate().is_ok());
        let mut c = good.clone();
        c.password = String::new(); // would bind anonymously
        c.url = "http://dc1".into();
        c.page_size = 0;
        assert_eq!(fields(&c), ["url", "password", "page_size"]);
        let mut c = good.clone();
        c.starttls = true; // on ldaps:// already
        c.filter = Some("(mail=*".into());
        assert_eq!(fields(&c), ["starttls", "filter"]);
        assert!(!format!("{:?}", good).contains("pw\""));
    }

    #[test]
    fn filters_combine_classes_extra_and_the_users() {
        let mut c = LdapConfig::new("ldap://dc", "CN=a", "pw");
        c.filter = Some("department=Sales".into());
        assert_eq!(
            c.object_filter("(uSNChanged>=5)"),
            "(&(|(objectClass=user)(objectClass=group)(objectClass=contact))(uSNChanged>=5)(department=Sales))"
        );
    }
}
