//! Directory objects as LDAP returns them: decoding a search result entry into an [`LdapObject`]
//! without trusting the directory to send well-formed data (a malformed value is dropped, never a
//! panic), and mapping it to the shared [`DirectoryObject`].

use chrono::{DateTime, NaiveDateTime, Utc};
use ldap3::asn1::StructureTag;
use model::directory::{DirectoryObject, ObjectKind};
use model::ids::ObjectGuid;
use secdesc::Sid;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The attributes every search asks for. `name` is the RDN value (the cn of users and groups).
pub const ATTRIBUTES: &[&str] = &[
    "objectClass",
    "objectGUID",
    "objectSid",
    "sIDHistory",
    "userPrincipalName",
    "sAMAccountName",
    "mail",
    "employeeID",
    "displayName",
    "givenName",
    "sn",
    "userAccountControl",
    "name",
    "operatingSystem",
    "member",
    "uSNChanged",
    "whenChanged",
];

/// The object classes rehome imports: users (computers are users too in AD), groups, contacts.
pub const CLASS_FILTER: &str = "(|(objectClass=user)(objectClass=group)(objectClass=contact))";

/// The userAccountControl bit of a disabled account.
const ACCOUNTDISABLE: i64 = 0x2;

/// What an LDAP object is, by its most specific object class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LdapKind {
    /// A person's account (objectClass user, not computer).
    User,
    /// A security or distribution group.
    Group,
    /// A computer account.
    Computer,
    /// A mail contact: no SID, no logon, but matched and migrated with the users.
    Contact,
}

/// A member of a group as the DC names it: with the extended-DN control every member value carries
/// the member's GUID and (for security principals) its SID, so members outside the imported scope
/// (built-in groups, foreign security principals) are still known by GUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's objectGUID, when the DC gave it.
    pub guid: Option<ObjectGuid>,
    /// The member's objectSid, when it has one.
    pub sid: Option<Sid>,
    /// The member's distinguished name.
    pub dn: String,
}

/// Everything rehome reads of one user, group, computer or contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapObject {
    /// objectGUID: the stable key.
    pub guid: ObjectGuid,
    /// User, group, computer or contact.
    pub kind: LdapKind,
    /// distinguishedName.
    pub dn: String,
    /// The RDN value (`name`), e.g. `User 00001`.
    pub cn: Option<String>,
    /// displayName.
    pub display_name: Option<String>,
    /// objectSid; contacts have none.
    pub sid: Option<Sid>,
    /// sIDHistory: SIDs the object had in directories it was migrated from.
    pub sid_history: Vec<Sid>,
    /// userPrincipalName.
    pub upn: Option<String>,
    /// sAMAccountName.
    pub sam_account_name: Option<String>,
    /// mail.
    pub mail: Option<String>,
    /// employeeID.
    pub employee_id: Option<String>,
    /// givenName.
    #[serde(default)]
    pub given_name: Option<String>,
    /// sn.
    #[serde(default)]
    pub surname: Option<String>,
    /// From userAccountControl (users and computers): false when ACCOUNTDISABLE is set.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// operatingSystem, for computers.
    pub operating_system: Option<String>,
    /// member, for groups.
    pub members: Vec<Member>,
    /// uSNChanged on the DC that answered (USNs are per DC).
    pub usn_changed: Option<u64>,
    /// whenChanged.
    pub when_changed: Option<DateTime<Utc>>,
}

impl LdapObject {
    /// The name people see: displayName, else the RDN value, else the DN.
    pub fn name(&self) -> &str {
        self.display_name
            .as_deref()
            .or(self.cn.as_deref())
            .unwrap_or(&self.dn)
    }

    /// The shared form stored by an import.
    pub fn to_directory_object(&self) -> DirectoryObject {
        let kind = match self.kind {
            LdapKind::User => ObjectKind::User,
            LdapKind::Group => ObjectKind::Group,
            LdapKind::Computer => ObjectKind::Computer,
            LdapKind::Contact => ObjectKind::Contact,
        };
        let mut object = DirectoryObject::new(self.guid, kind, self.name());
        object.sid = self.sid.clone();
        object.upn = self.upn.clone();
        object.sam_account_name = self.sam_account_name.clone();
        object.mail = self.mail.clone();
        object.employee_id = self.employee_id.clone();
        object.operating_system = self.operating_system.clone();
        object.dn = Some(self.dn.clone());
        object.given_name = self.given_name.clone();
        object.surname = self.surname.clone();
        object.sid_history = self.sid_history.clone();
        object.members = self.members.iter().filter_map(|m| m.guid).collect();
        object.enabled = self.enabled;
        object
    }
}

/// A search result entry split into its DN and its attributes (names as sent, raw values).
pub struct RawEntry {
    /// The entry's DN, possibly in extended form (`<GUID=…>;<SID=…>;CN=…`).
    pub dn: String,
    /// Attribute descriptions with their values.
    pub attributes: Vec<(String, Vec<Vec<u8>>)>,
}

impl RawEntry {
    /// Splits a SearchResultEntry (application tag 4); `None` when it is not one or is malformed.
    pub fn parse(tag: StructureTag) -> Option<RawEntry> {
        let mut parts = tag.match_id(4)?.expect_constructed()?.into_iter();
        let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
        let mut attributes = Vec::new();
        for attribute in parts.next()?.expect_constructed()? {
            let mut pair = attribute.expect_constructed()?.into_iter();
            let name = String::from_utf8(pair.next()?.expect_primitive()?).ok()?;
            let values = pair
                .next()?
                .expect_constructed()?
                .into_iter()
                .filter_map(|v| v.expect_primitive())
                .collect();
            attributes.push((name, values));
        }
        Some(RawEntry { dn, attributes })
    }

    /// The values of `name` (ignoring case, and not a ranged description like `member;range=…`).
    pub fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    /// The first value of `name` as text, when it is UTF-8.
    pub fn text(&self, name: &str) -> Option<String> {
        self.values(name)
            .first()
            .and_then(|v| String::from_utf8(v.clone()).ok())
    }

    /// The values of a ranged attribute (`member;range=0-1499`) and where its next range starts,
    /// `None` when all values are here. AD sends at most MaxValRange (1,500) values of a
    /// multi-valued attribute at once.
    pub fn ranged(&self, name: &str) -> Option<(&[Vec<u8>], Option<u64>)> {
        self.attributes.iter().find_map(|(n, v)| {
            let (base, range) = n.split_once(';')?;
            if !base.eq_ignore_ascii_case(name) {
                return None;
            }
            Some((v.as_slice(), next_range_start(range)?))
        })
    }
}

/// For `range=1500-2999` the next start, 3000; for `range=1500-*` none (the last range).
pub fn next_range_start(option: &str) -> Option<Option<u64>> {
    let (key, span) = option.split_once('=')?;
    if !key.eq_ignore_ascii_case("range") {
        return None;
    }
    let (_, end) = span.split_once('-')?;
    if end == "*" {
        return Some(None);
    }
    end.parse::<u64>().ok().map(|e| Some(e + 1))
}

/// Decodes an entry; `None` for entries that are not a user, group, computer or contact, or
/// that have no valid objectGUID (nothing can be keyed without it).
pub fn decode(entry: &RawEntry) -> Option<LdapObject> {
    let kind = kind_of(entry.values("objectClass"))?;
    let guid = entry
        .values("objectGUID")
        .first()
        .and_then(|v| guid_from_bytes(v))?;
    let (_, _, dn) = split_extended_dn(&entry.dn);
    let text = |name: &str| entry.text(name).filter(|s| !s.is_empty());
    let mut members: Vec<Member> = entry
        .values("member")
        .iter()
        .filter_map(|v| member_from_bytes(v))
        .collect();
    if let Some((values, _)) = entry.ranged("member") {
        members.extend(values.iter().filter_map(|v| member_from_bytes(v)));
    }
    Some(LdapObject {
        guid,
        kind,
        dn: dn.to_string(),
        cn: text("name"),
        display_name: text("displayName"),
        sid: entry
            .values("objectSid")
            .first()
            .and_then(|v| Sid::from_bytes(v).ok()),
        sid_history: entry
            .values("sIDHistory")
            .iter()
            .filter_map(|v| Sid::from_bytes(v).ok())
            .collect(),
        upn: text("userPrincipalName"),
        sam_account_name: text("sAMAccountName"),
        mail: text("mail"),
        employee_id: text("employeeID"),
        given_name: text("givenName"),
        surname: text("sn"),
        enabled: text("userAccountControl")
            .and_then(|s| s.parse::<i64>().ok())
            .map(|uac| uac & ACCOUNTDISABLE == 0),
        operating_system: text("operatingSystem"),
        members,
        usn_changed: text("uSNChanged").and_then(|s| s.parse().ok()),
        when_changed: text("whenChanged").and_then(|s| parse_generalized_time(&s)),
    })
}

/// A member value: an extended DN when the control was honoured, else a plain DN.
pub fn member_from_bytes(value: &[u8]) -> Option<Member> {
    let text = std::str::from_utf8(value).ok()?;
    let (guid, sid, dn) = split_extended_dn(text);
    Some(Member {
        guid,
        sid,
        dn: dn.to_string(),
    })
}

fn kind_of(classes: &[Vec<u8>]) -> Option<LdapKind> {
    let has = |c: &str| classes.iter().any(|v| v.eq_ignore_ascii_case(c.as_bytes()));
    if has("computer") {
        Some(LdapKind::Computer)
    } else if has("group") {
        Some(LdapKind::Group)
    } else if has("user") {
        Some(LdapKind::User)
    } else if has("contact") {
        Some(LdapKind::Contact)
    } else {
        None
    }
}

/// objectGUID's 16 bytes: the first three fields little-endian, the rest as they come.
pub fn guid_from_bytes(bytes: &[u8]) -> Option<ObjectGuid> {
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    Some(ObjectGuid(Uuid::from_bytes_le(bytes)))
}

/// The bytes of `guid` as objectGUID stores them (the inverse of [`guid_from_bytes`]).
pub fn guid_to_bytes(guid: ObjectGuid) -> [u8; 16] {
    guid.0.to_bytes_le()
}

/// `<GUID=…>;<SID=…>;CN=x,DC=y` → (GUID, SID, `CN=x,DC=y`); a plain DN comes back unchanged.
pub fn split_extended_dn(value: &str) -> (Option<ObjectGuid>, Option<Sid>, &str) {
    let (mut guid, mut sid, mut rest) = (None, None, value);
    while let Some(inner) = rest.strip_prefix('<') {
        let Some(end) = inner.find('>') else { break };
        let part = &inner[..end];
        if let Some(g) = part.strip_prefix("GUID=") {
            guid = Uuid::parse_str(g).ok().map(ObjectGuid);
        } else if let Some(s) = part.strip_prefix("SID=") {
            sid = s.parse::<Sid>().ok();
        }
        rest = &inner[end + 1..];
        rest = rest.strip_prefix(';').unwrap_or(rest);
    }
    (guid, sid, rest)
}

/// whenChanged and other GeneralizedTime values AD writes: `20250106090000.0Z`.
pub fn parse_generalized_time(value: &str) -> Option<DateTime<Utc>> {
    let trimmed = value.strip_suffix('Z')?;
    let (whole, _fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

/// The DNS domain a naming context names: `DC=corp,DC=contoso,DC=test` → `corp.contoso.test`.
pub fn dns_domain_of(naming_context: &str) -> String {
    naming_context
        .split(',')
        .filter_map(|rdn| {
            let (key, value) = rdn.trim().split_once('=')?;
            key.eq_ignore_ascii_case("DC")
                .then(|| value.to_ascii_lowercase())
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// True when `dn` is `base` or lies beneath it (DNs compared ignoring case and spaces after commas).
pub fn is_within(dn: &str, base: &str) -> bool {
    let norm = |s: &str| {
        s.split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let (dn, base) = (norm(dn), norm(base));
    dn.len() >= base.len() && dn[dn.len() - base.len()..] == base[..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_guid_bytes_are_mixed_endian() {
        // objectGUID of a Samba user as ldapsearch shows it (base64 CqEz6HhdyUCKf1tlj7v96A==) and
        // as ldbsearch prints it.
        let bytes = [
            0x0a, 0xa1, 0x33, 0xe8, 0x78, 0x5d, 0xc9, 0x40, 0x8a, 0x7f, 0x5b, 0x65, 0x8f, 0xbb,
            0xfd, 0xe8,
        ];
        let guid = guid_from_bytes(&bytes).expect("16 bytes");
        assert_eq!(guid.to_string(), "e833a10a-5d78-40c9-8a7f-5b658fbbfde8");
        assert_eq!(guid_to_bytes(guid), bytes);
        assert_eq!(guid_from_bytes(&bytes[..15]), None);
    }

    #[test]
    fn extended_dns_give_guid_sid_and_dn() {
        let (guid, sid, dn) = split_extended_dn(
            "<GUID=e833a10a-5d78-40c9-8a7f-5b658fbbfde8>;<SID=S-1-5-21-1-2-3-1103>;CN=User 1,DC=contoso,DC=test",
        );
        assert_eq!(
            guid.map(|g| g.to_string()).as_deref(),
            Some("e833a10a-5d78-40c9-8a7f-5b658fbbfde8")
        );
        assert_eq!(
            sid.map(|s| s.to_string()).as_deref(),
            Some("S-1-5-21-1-2-3-1103")
        );
        assert_eq!(dn, "CN=User 1,DC=contoso,DC=test");
        assert_eq!(split_extended_dn("CN=x,DC=y"), (None, None, "CN=x,DC=y"));
        assert_eq!(split_extended_dn("<GUID=broken").2, "<GUID=broken");
    }

    #[test]
    fn ranges_say_where_the_next_one_starts() {
        assert_eq!(next_range_start("range=0-1499"), Some(Some(1500)));
        assert_eq!(next_range_start("Range=1500-*"), Some(None));
        assert_eq!(next_range_start("range=x"), None);
        assert_eq!(next_range_start("lang-en"), None);
    }

    #[test]
    fn generalized_time_and_domains() {
        let t = parse_generalized_time("20250106090000.0Z").expect("valid");
        assert_eq!(t.to_rfc3339(), "2025-01-06T09:00:00+00:00");
        assert_eq!(parse_generalized_time("yesterday"), None);
        assert_eq!(
            dns_domain_of("DC=Corp,DC=contoso, DC=test"),
            "corp.contoso.test"
        );
        assert!(is_within("CN=a,OU=Sales,DC=x", "ou=sales, dc=X"));
        assert!(!is_within("CN=a,OU=Sales,DC=x", "OU=Staff,DC=x"));
        assert!(!is_within("DC=x", "OU=Sales,DC=x"));
    }

    #[test]
    fn kinds_come_from_the_most_specific_class() {
        let classes = |cs: &[&str]| cs.iter().map(|c| c.as_bytes().to_vec()).collect::<Vec<_>>();
        let computer = classes(&["top", "person", "organizationalPerson", "user", "computer"]);
        assert_eq!(kind_of(&computer), Some(LdapKind::Computer));
        assert_eq!(
            kind_of(&classes(&["top", "person", "user"])),
            Some(LdapKind::User)
        );
        assert_eq!(
            kind_of(&classes(&["top", "contact"])),
            Some(LdapKind::Contact)
        );
        assert_eq!(kind_of(&classes(&["top", "organizationalUnit"])), None);
    }
}
