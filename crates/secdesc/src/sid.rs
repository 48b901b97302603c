use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::guid::Guid;
use crate::{Error, Result};

/// The most sub-authorities a SID may carry (MS-DTYP 2.4.2).
pub const MAX_SUB_AUTHORITIES: usize = 15;

/// A security identifier: revision 1, a 48-bit identifier authority and up to 15 sub-authorities.
///
/// Stored inline (no heap allocation), so that cloning and translating descriptors stays cheap.
#[derive(Clone)]
pub struct Sid {
    authority: u64,
    len: u8,
    // Unused slots stay zero so that the derived-free comparisons below only need the used part.
    subs: [u32; MAX_SUB_AUTHORITIES],
}

impl Sid {
    /// Builds a SID from its authority and sub-authorities.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Result<Sid> {
        if authority >= 1 << 48 {
            return Err(invalid(
                String::new(),
                "identifier authority exceeds 48 bits",
            ));
        }
        if sub_authorities.len() > MAX_SUB_AUTHORITIES {
            return Err(invalid(String::new(), "more than 15 sub-authorities"));
        }
        let mut subs = [0; MAX_SUB_AUTHORITIES];
        subs[..sub_authorities.len()].copy_from_slice(sub_authorities);
        Ok(Sid {
            authority,
            len: sub_authorities.len() as u8,
            subs,
        })
    }

    /// The 48-bit identifier authority (5 for NT AUTHORITY, 12 for Entra ID).
    pub fn authority(&self) -> u64 {
        self.authority
    }

    /// The sub-authorities, domain part first and relative identifier last.
    pub fn sub_authorities(&self) -> &[u32] {
        &self.subs[..self.len as usize]
    }

    /// The relative identifier: the last sub-authority, if any.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities().last().copied()
    }

    /// This SID with `rid` appended, e.g. a domain SID plus 512 for Domain Admins.
    pub fn with_rid(&self, rid: u32) -> Result<Sid> {
        if self.len as usize == MAX_SUB_AUTHORITIES {
            return Err(invalid(self.to_string(), "more than 15 sub-authorities"));
        }
        let mut sid = self.clone();
        sid.subs[sid.len as usize] = rid;
        sid.len += 1;
        Ok(sid)
    }

    /// The SID without its last sub-authority (the domain of a domain account).
    pub fn parent(&self) -> Option<Sid> {
        if self.len == 0 {
            return None;
        }
        let mut sid = self.clone();
        sid.len -= 1;
        sid.subs[sid.len as usize] = 0;
        Some(sid)
    }

    /// Whether this SID is `domain` followed by exactly one more sub-authority.
    pub fn is_in_domain(&self, domain: &Sid) -> bool {
        self.authority == domain.authority
            && self.len == domain.len + 1
            && self.sub_authorities()[..domain.len as usize] == *domain.sub_authorities()
    }

    /// The length of the binary form: 8 bytes of header plus 4 per sub-authority.
    pub fn binary_len(&self) -> usize {
        8 + 4 * self.len as usize
    }

    /// Reads a binary SID from the start of `bytes`, returning it and the bytes it used.
    pub fn from_bytes_prefix(bytes: &[u8]) -> Result<(Sid, usize)> {
        if bytes.len() < 8 {
            return Err(invalid(
                String::new(),
                "a binary SID needs at least 8 bytes",
            ));
        }
        if bytes[0] != 1 {
            return Err(invalid(String::new(), "a binary SID has revision 1"));
        }
        let count = bytes[1] as usize;
        if count > MAX_SUB_AUTHORITIES {
            return Err(invalid(String::new(), "more than 15 sub-authorities"));
        }
        let len = 8 + 4 * count;
        if bytes.len() < len {
            return Err(invalid(String::new(), "the binary SID is cut short"));
        }
        let mut authority = 0u64;
        for b in &bytes[2..8] {
            authority = authority << 8 | u64::from(*b);
        }
        let mut subs = [0; MAX_SUB_AUTHORITIES];
        for (i, sub) in subs.iter_mut().enumerate().take(count) {
            let at = 8 + 4 * i;
            *sub = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        }
        Ok((
            Sid {
                authority,
                len: count as u8,
                subs,
            },
            len,
        ))
    }

    /// Reads a binary SID that fills `bytes` exactly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sid> {
        let (sid, used) = Sid::from_bytes_prefix(bytes)?;
        if used != bytes.len() {
            return Err(invalid(
                sid.to_string(),
                "trailing bytes after the binary SID",
            ));
        }
        Ok(sid)
    }

    /// Appends the binary form to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.push(1);
        out.push(self.len);
        out.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for sub in self.sub_authorities() {
            out.extend_from_slice(&sub.to_le_bytes());
        }
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.binary_len());
        self.write_bytes(&mut out);
        out
    }

    /// The SID Entra ID gives an object: `S-1-12-1-` and the object id's four little-endian
    /// 32-bit words.
    pub fn from_entra_object_id(id: &Guid) -> Sid {
        let b = id.to_bytes_le();
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut subs = [0; MAX_SUB_AUTHORITIES];
        subs[..5].copy_from_slice(&[1, word(0), word(4), word(8), word(12)]);
        Sid {
            authority: 12,
            len: 5,
            subs,
        }
    }

    /// The Entra object id of an `S-1-12-1-a-b-c-d` SID; `None` for any other SID.
    pub fn entra_object_id(&self) -> Option<Guid> {
        let s = self.sub_authorities();
        if self.authority != 12 || s.len() != 5 || s[0] != 1 {
            return None;
        }
        let mut b = [0u8; 16];
        for (i, word) in s[1..].iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
        }
        Some(Guid::from_bytes_le(b))
    }
}

fn invalid(input: String, reason: &'static str) -> Error {
    Error::InvalidSid { input, reason }
}

impl PartialEq for Sid {
    fn eq(&self, other: &Sid) -> bool {
        self.authority == other.authority && self.sub_authorities() == other.sub_authorities()
    }
}

impl Eq for Sid {}

impl Hash for Sid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.authority << 8 | u64::from(self.len));
        for sub in self.sub_authorities() {
            state.write_u32(*sub);
        }
    }
}

impl PartialOrd for Sid {
    fn partial_cmp(&self, other: &Sid) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sid {
    fn cmp(&self, other: &Sid) -> Ordering {
        self.authority
            .cmp(&other.authority)
            .then_with(|| self.sub_authorities().cmp(other.sub_authorities()))
    }
}

impl FromStr for Sid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Sid> {
        match parse_sid_prefix(s.as_bytes()) {
            Ok((sid, used)) if used == s.len() => Ok(sid),
            Ok(_) => Err(invalid(
                s.to_string(),
                "unexpected characters after the SID",
            )),
            Err(reason) => Err(invalid(s.to_string(), reason)),
        }
    }
}

/// Reads an `S-1-…` SID from the start of `text` and returns it with the number of bytes used.
///
/// Stops at the first byte that cannot continue the SID, so that SDDL such as `O:S-1-5-32-544G:…`
/// can be read without knowing where the SID ends.
pub(crate) fn parse_sid_prefix(text: &[u8]) -> std::result::Result<(Sid, usize), &'static str> {
    if text.len() < 4 || !(text[0] == b'S' || text[0] == b's') || &text[1..4] != b"-1-" {
        return Err("a SID starts with S-1-");
    }
    let mut at = 4;
    let authority = if text[at..].starts_with(b"0x") || text[at..].starts_with(b"0X") {
        at += 2;
        // At most 12 hex digits: SDDL may follow with a letter such as D that is also a hex digit.
        let start = at;
        while at < text.len() && at - start < 12 && text[at].is_ascii_hexdigit() {
            at += 1;
        }
        let digits = std::str::from_utf8(&text[start..at]).unwrap_or("");
        u64::from_str_radix(digits, 16).map_err(|_| "the identifier authority is not a number")?
    } else {
        read_decimal(text, &mut at).ok_or("the identifier authority is not a number")?
    };
    if authority >= 1 << 48 {
        return Err("identifier authority exceeds 48 bits");
    }
    let mut subs = [0; MAX_SUB_AUTHORITIES];
    let mut len = 0;
    while at + 1 < text.len() && text[at] == b'-' && text[at + 1].is_ascii_digit() {
        at += 1;
        let value = read_decimal(text, &mut at).ok_or("a sub-authority is not a number")?;
        if value > u64::from(u32::MAX) {
            return Err("a sub-authority is not a 32-bit number");
        }
        if len == MAX_SUB_AUTHORITIES {
            return Err("more than 15 sub-authorities");
        }
        subs[len] = value as u32;
        len += 1;
    }
    Ok((
        Sid {
            authority,
            len: len as u8,
            subs,
        },
        at,
    ))
}

fn read_decimal(text: &[u8], at: &mut usize) -> Option<u64> {
    let start = *at;
    let mut value: u64 = 0;
    while *at < text.len() && text[*at].is_ascii_digit() {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(text[*at] - b'0'))?;
        *at += 1;
    }
    if *at == start {
        None
    } else {
        Some(value)
    }
}

/// The longest text of a SID: `S-1-0x` and twelve hexadecimal digits, then fifteen
/// sub-authorities of up to ten digits, each after a dash.
const MAX_TEXT: usize = 6 + 12 + MAX_SUB_AUTHORITIES * 11;

/// Appends `value` in decimal to `text` at `*at`.
fn push_decimal(text: &mut [u8; MAX_TEXT], at: &mut usize, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    let run = &digits[i..];
    text[*at..*at + run.len()].copy_from_slice(run);
    *at += run.len();
}

impl Sid {
    /// Writes the `S-1-…` form into `text` and returns it, without the formatting
    /// machinery: an import or a match run writes a million SIDs, and a call of it per part
    /// took most of their time (as it did the SDDL writer's). The authority is in decimal
    /// below 2^32, else `0x` and twelve hexadecimal digits, as Windows writes it.
    fn text<'a>(&self, text: &'a mut [u8; MAX_TEXT]) -> &'a str {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        text[..4].copy_from_slice(b"S-1-");
        let mut at = 4;
        if self.authority >= 1 << 32 {
            text[at..at + 2].copy_from_slice(b"0x");
            at += 2;
            for shift in (0..12).rev() {
                text[at] = HEX[((self.authority >> (shift * 4)) & 0xF) as usize];
                at += 1;
            }
        } else {
            push_decimal(text, &mut at, self.authority);
        }
        for sub in self.sub_authorities() {
            text[at] = b'-';
            at += 1;
            push_decimal(text, &mut at, u64::from(*sub));
        }
        // Only ASCII digits, letters and dashes were written.
        std::str::from_utf8(&text[..at]).unwrap_or("")
    }

    /// Appends the `S-1-…` form to `out`.
    pub(crate) fn push_str_to(&self, out: &mut String) {
        out.push_str(self.text(&mut [0u8; MAX_TEXT]));
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text(&mut [0u8; MAX_TEXT]))
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self)
    }
}

serde_as_text!(Sid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_a_domain_user_sid() {
        let sid: Sid = "S-1-5-21-1004336348-1177238915-682003330-512"
            .parse()
            .unwrap();
        assert_eq!(sid.authority(), 5);
        assert_eq!(sid.rid(), Some(512));
        assert_eq!(
            sid.to_string(),
            "S-1-5-21-1004336348-1177238915-682003330-512"
        );
    }

    #[test]
    fn refuses_garbage() {
        assert!("S-1-5-x".parse::<Sid>().is_err());
        assert!("1-5-32".parse::<Sid>().is_err());
        assert!("S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16"
            .parse::<Sid>()
            .is_err());
        assert!("S-1-5-4294967296".parse::<Sid>().is_err());
        assert!("S-1-281474976710656".parse::<Sid>().is_err());
    }

    #[test]
    fn large_authorities_are_written_in_hex_and_read_back() {
        let sid = Sid::new(0x1234_5678_9abc, &[7]).unwrap();
        assert_eq!(sid.to_string(), "S-1-0x123456789ABC-7");
        assert_eq!(sid.to_string().parse::<Sid>().unwrap(), sid);
    }

    #[test]
    fn the_longest_and_the_smallest_sids_are_written_whole() {
        let longest = Sid::new((1 << 48) - 1, &[u32::MAX; MAX_SUB_AUTHORITIES]).unwrap();
        let text = longest.to_string();
        assert_eq!(text.len(), MAX_TEXT);
        assert!(
            text.starts_with("S-1-0xFFFFFFFFFFFF-4294967295-"),
            "{}",
            text
        );
        assert_eq!(text.parse::<Sid>().unwrap(), longest);
        let widest_decimal = Sid::new(u64::from(u32::MAX), &[0, 9, 10, 99, 100]).unwrap();
        assert_eq!(widest_decimal.to_string(), "S-1-4294967295-0-9-10-99-100");
        assert_eq!(Sid::new(0, &[]).unwrap().to_string(), "S-1-0");
        assert_eq!(
            Sid::new(1 << 32, &[]).unwrap().to_string(),
            "S-1-0x000100000000"
        );
    }

    #[test]
    fn binary_form_round_trips() {
        let sid: Sid = "S-1-5-32-544".parse().unwrap();
        let bytes = sid.to_bytes();
        assert_eq!(bytes, [1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0]);
        assert_eq!(Sid::from_bytes(&bytes).unwrap(), sid);
        assert!(Sid::from_bytes(&bytes[..15]).is_err());
    }

    #[test]
    fn entra_object_ids_map_to_sids_and_back() {
        let id: Guid = "73d664e4-0886-4a73-b745-c694da45ddb4".parse().unwrap();
        let sid = Sid::from_entra_object_id(&id);
        assert_eq!(
            sid.to_string(),
            "S-1-12-1-1943430372-1249052806-2496021943-3034400218"
        );
        assert_eq!(sid.entra_object_id(), Some(id));
        assert_eq!(
            "S-1-5-32-544".parse::<Sid>().unwrap().entra_object_id(),
            None
        );
    }

    /// The documented layout: `S-1-12-1-` then the object id's 16 bytes in GUID wire order (the
    /// first three fields little-endian, the last eight as written) read as four little-endian
    /// 32-bit words. Each vector spells out which bytes land in which word.
    #[test]
    fn entra_sids_follow_the_documented_byte_order() {
        let vectors = [
            // Words: 0x00000001; bytes 02 00 03 00 → 0x00030002; 04 05 06 07 → 0x07060504;
            // 08 09 0a 0b → 0x0b0a0908.
            (
                "00000001-0002-0003-0405-060708090a0b",
                "S-1-12-1-1-196610-117835012-185207048",
            ),
            ("00000000-0000-0000-0000-000000000000", "S-1-12-1-0-0-0-0"),
            (
                "ffffffff-ffff-ffff-ffff-ffffffffffff",
                "S-1-12-1-4294967295-4294967295-4294967295-4294967295",
            ),
            (
                "8e3f2a10-5b7c-4d9e-a1f2-0c3b4d5e6f70",
                "S-1-12-1-2386504208-1302223740-990704289-1886346829",
            ),
        ];
        for (id, expected) in vectors {
            let guid: Guid = id.parse().unwrap();
            let sid = Sid::from_entra_object_id(&guid);
            assert_eq!(sid.to_string(), expected, "{}", id);
            assert_eq!(sid.entra_object_id(), Some(guid), "{}", id);
            assert_eq!(guid.to_string(), id);
        }
        // Only S-1-12-1 with exactly four words after the 1 is an object id.
        for other in [
            "S-1-12-2-1-2-3-4",
            "S-1-12-1-1-2-3",
            "S-1-5-21-1-2-3-4",
            "S-1-12-1-1-2-3-4-5",
        ] {
            assert_eq!(
                other.parse::<Sid>().unwrap().entra_object_id(),
                None,
                "{}",
                other
            );
        }
    }

    #[test]
    fn ordering_and_equality_ignore_unused_slots() {
        let a: Sid = "S-1-5-21".parse().unwrap();
        let b: Sid = "S-1-5-21-0".parse().unwrap();
        assert!(a < b);
        assert_eq!(b.parent().unwrap(), a);
        assert!(b.is_in_domain(&a));
    }
}
