use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// A GUID (object id, schema id, extended right) in the Windows byte order: the first three
/// fields little-endian, as in object ACEs and Entra SIDs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid([u8; 16]);

impl Guid {
    /// Builds a GUID from its 16 bytes in the Windows (mixed-endian) wire order.
    pub fn from_bytes_le(bytes: [u8; 16]) -> Guid {
        Guid(bytes)
    }

    /// The 16 bytes in the Windows (mixed-endian) wire order.
    pub fn to_bytes_le(self) -> [u8; 16] {
        self.0
    }

    /// Reads a GUID from 16 wire-order bytes at the start of `bytes`.
    pub(crate) fn read(bytes: &[u8]) -> Option<Guid> {
        let mut b = [0u8; 16];
        b.copy_from_slice(bytes.get(..16)?);
        Some(Guid(b))
    }
}

impl FromStr for Guid {
    type Err = Error;

    /// Reads `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, optionally in braces, in either case.
    fn from_str(s: &str) -> Result<Guid> {
        let bad = || Error::InvalidGuid {
            input: s.to_string(),
        };
        let t = s
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(s);
        let t = t.as_bytes();
        if t.len() != 36 || t[8] != b'-' || t[13] != b'-' || t[18] != b'-' || t[23] != b'-' {
            return Err(bad());
        }
        // Text order: data1 (4 bytes), data2 (2), data3 (2), data4 (8).
        let mut text_order = [0u8; 16];
        let mut n = 0;
        let mut i = 0;
        while i < 36 {
            if t[i] == b'-' {
                i += 1;
                continue;
            }
            let hi = hex_value(t[i]).ok_or_else(bad)?;
            let lo = t.get(i + 1).and_then(|c| hex_value(*c)).ok_or_else(bad)?;
            text_order[n] = hi << 4 | lo;
            n += 1;
            i += 2;
        }
        let mut b = text_order;
        b[0..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
        Ok(Guid(b))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Guid {
    /// Lower case, as Windows writes object GUIDs in SDDL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({})", self)
    }
}

serde_as_text!(Guid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_formats_and_orders_bytes_like_windows() {
        let g: Guid = "bf967aba-0de6-11d0-a285-00aa003049e2".parse().unwrap();
        assert_eq!(g.to_bytes_le()[..4], [0xba, 0x7a, 0x96, 0xbf]);
        assert_eq!(g.to_bytes_le()[8..10], [0xa2, 0x85]);
        assert_eq!(g.to_string(), "bf967aba-0de6-11d0-a285-00aa003049e2");
        assert_eq!(
            "{BF967ABA-0DE6-11D0-A285-00AA003049E2}"
                .parse::<Guid>()
                .unwrap(),
            g
        );
    }

    #[test]
    fn refuses_malformed_text() {
        for bad in [
            "",
            "bf967aba0de611d0a28500aa003049e2",
            "bf967aba-0de6-11d0-a285-00aa003049eg",
            "bf967aba-0de6-11d0-a2850-0aa003049e2",
        ] {
            assert!(bad.parse::<Guid>().is_err(), "{}", bad);
        }
    }
}
