//! The LDAP controls an import sends to Active Directory, and the parsing of the ones it gets back.
//! Responses are parsed here rather than with ldap3's parsers because those panic on a malformed
//! value, and a directory's answer is data, not something to trust.

use ldap3::asn1::{parse_tag, parse_uint, StructureTag};
use ldap3::controls::{Control, RawControl};

/// Simple paged results (RFC 2696).
pub const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
/// DirSync: changes since a cookie, as AD's replication sees them.
pub const DIRSYNC: &str = "1.2.840.113556.1.4.841";
/// Show deleted: tombstones in CN=Deleted Objects take part in the search.
pub const SHOW_DELETED: &str = "1.2.840.113556.1.4.417";
/// Extended DN: DN-valued attributes come as `<GUID=…>;<SID=…>;dn`.
pub const EXTENDED_DN: &str = "1.2.840.113556.1.4.529";

/// DirSync flag: return only attributes the caller could read anyway (no replication secrets).
const DIRSYNC_OBJECT_SECURITY: i64 = 0x1;
/// DirSync flag: parents before children, so a new OU comes before its users.
const DIRSYNC_ANCESTORS_FIRST_ORDER: i64 = 0x800;
/// The most a DirSync page may carry; AD's default, also used by Samba.
const DIRSYNC_MAX_BYTES: i64 = 1_048_576;

/// One value of the tiny BER subset these controls need.
enum Ber<'a> {
    Integer(i64),
    Octets(&'a [u8]),
}

/// Definite-length BER: `SEQUENCE { items }`.
fn sequence_of(items: &[Ber<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for item in items {
        match item {
            Ber::Integer(v) => {
                // Minimal two's complement, big-endian.
                let bytes = v.to_be_bytes();
                let mut start = 0;
                while start < 7
                    && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
                        || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
                {
                    start += 1;
                }
                push_tlv(&mut body, 0x02, &bytes[start..]);
            }
            Ber::Octets(v) => push_tlv(&mut body, 0x04, v),
        }
    }
    let mut out = Vec::with_capacity(body.len() + 6);
    push_tlv(&mut out, 0x30, &body);
    out
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
}

/// The paged results request control for one page.
pub fn paged(size: u32, cookie: &[u8]) -> RawControl {
    let size = i64::from(size.clamp(1, i32::MAX as u32));
    let value = sequence_of(&[Ber::Integer(size), Ber::Octets(cookie)]);
    RawControl {
        ctype: PAGED_RESULTS.to_string(),
        crit: false,
        val: Some(value),
    }
}

/// The DirSync request control resuming from `cookie` (empty: from the beginning). It must be
/// critical: a DC that ignored it would answer with everything, silently.
pub fn dirsync(cookie: &[u8]) -> RawControl {
    let flags = DIRSYNC_OBJECT_SECURITY | DIRSYNC_ANCESTORS_FIRST_ORDER;
    let value = sequence_of(&[
        Ber::Integer(flags),
        Ber::Integer(DIRSYNC_MAX_BYTES),
        Ber::Octets(cookie),
    ]);
    RawControl {
        ctype: DIRSYNC.to_string(),
        crit: true,
        val: Some(value),
    }
}

/// The show-deleted control (no value).
pub fn show_deleted() -> RawControl {
    RawControl {
        ctype: SHOW_DELETED.to_string(),
        crit: true,
        val: None,
    }
}

/// The extended-DN control asking for GUIDs and SIDs as text (option 1).
pub fn extended_dn() -> RawControl {
    let value = sequence_of(&[Ber::Integer(1)]);
    RawControl {
        ctype: EXTENDED_DN.to_string(),
        crit: false,
        val: Some(value),
    }
}

/// The parts of a response control value `SEQUENCE { INTEGER, (INTEGER,) OCTET STRING }`.
fn sequence(value: &[u8]) -> Option<Vec<StructureTag>> {
    let (_, tag) = parse_tag(value).ok()?;
    tag.expect_constructed()
}

fn uint(tag: StructureTag) -> Option<u64> {
    let bytes = tag.expect_primitive()?;
    parse_uint(&bytes).ok().map(|(_, v)| v)
}

fn find<'a>(controls: &'a [Control], oid: &str) -> Option<&'a [u8]> {
    controls
        .iter()
        .find(|c| c.1.ctype == oid)
        .and_then(|c| c.1.val.as_deref())
}

/// The cookie of the paged results response control; empty when the last page was sent.
/// `None` when the control is missing or malformed.
pub fn paged_cookie(controls: &[Control]) -> Option<Vec<u8>> {
    let mut parts = sequence(find(controls, PAGED_RESULTS)?)?.into_iter();
    let _estimate = parts.next()?;
    parts.next()?.expect_primitive()
}

/// The DirSync response: whether more changes wait, and the cookie to resume from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSyncResponse {
    /// The DC has more changes than fitted in this answer.
    pub more: bool,
    /// The cookie for the next call.
    pub cookie: Vec<u8>,
}

/// Parses the DirSync response control; `None` when it is missing or malformed.
pub fn dirsync_response(controls: &[Control]) -> Option<DirSyncResponse> {
    let mut parts = sequence(find(controls, DIRSYNC)?)?.into_iter();
    let more = uint(parts.next()?)? != 0;
    let _unused = parts.next()?;
    let cookie = parts.next()?.expect_primitive()?;
    Some(DirSyncResponse { more, cookie })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::controls::ControlType;

    fn response(oid: &str, value: Vec<u8>) -> Vec<Control> {
        let kind = (oid == PAGED_RESULTS).then_some(ControlType::PagedResults);
        vec![Control(
            kind,
            RawControl {
                ctype: oid.to_string(),
                crit: false,
                val: Some(value),
            },
        )]
    }

    #[test]
    fn paged_cookies_round_trip() {
        let request = paged(500, b"abc");
        let controls = response(PAGED_RESULTS, request.val.clone().unwrap_or_default());
        assert_eq!(paged_cookie(&controls), Some(b"abc".to_vec()));
        assert_eq!(
            paged_cookie(&response(PAGED_RESULTS, vec![0x30, 0x03, 0x02])),
            None
        );
        assert_eq!(paged_cookie(&[]), None);
    }

    #[test]
    fn dirsync_responses_parse_and_garbage_does_not_panic() {
        let value = sequence_of(&[Ber::Integer(1), Ber::Integer(0), Ber::Octets(b"cookie")]);
        let parsed = dirsync_response(&response(DIRSYNC, value));
        assert_eq!(
            parsed,
            Some(DirSyncResponse {
                more: true,
                cookie: b"cookie".to_vec()
            })
        );
        assert_eq!(dirsync_response(&response(DIRSYNC, vec![0xff; 7])), None);
        assert!(dirsync(b"").crit);
    }

    #[test]
    fn integers_and_long_lengths_encode_as_ber() {
        assert_eq!(
            sequence_of(&[Ber::Integer(1)]),
            [0x30, 0x03, 0x02, 0x01, 0x01]
        );
        assert_eq!(
            sequence_of(&[Ber::Integer(0x800)]),
            [0x30, 0x04, 0x02, 0x02, 0x08, 0x00]
        );
        assert_eq!(
            sequence_of(&[Ber::Integer(0x80)]),
            [0x30, 0x04, 0x02, 0x02, 0x00, 0x80]
        );
        assert_eq!(
            sequence_of(&[Ber::Integer(-1)]),
            [0x30, 0x03, 0x02, 0x01, 0xff]
        );
        let long = sequence_of(&[Ber::Octets(&[7; 200])]);
        assert_eq!(&long[..6], &[0x30, 0x81, 0xcb, 0x04, 0x81, 0xc8]);
    }
}
