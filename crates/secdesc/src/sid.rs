use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// The most sub-authorities a SID may carry (MS-DTYP 2.4.2).
pub const MAX_SUB_AUTHORITIES: usize = 15;

/// A security identifier: revision 1, a 48-bit identifier authority and up to 15 sub-authorities.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    authority: u64,
    sub_authorities: Vec<u32>,
}

impl Sid {
    /// Builds a SID from its authority and sub-authorities.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Result<Sid> {
        if authority >= 1 << 48 {
            return Err(invalid(String::new(), "identifier authority exceeds 48 bits"));
        }
        if sub_authorities.len() > MAX_SUB_AUTHORITIES {
            return Err(invalid(String::new(), "more than 15 sub-authorities"));
        }
        Ok(Sid { authority, sub_authorities: sub_authorities.to_vec() })
    }

    /// The 48-bit identifier authority (5 for NT AUTHORITY, 12 for Entra ID).
    pub fn authority(&self) -> u64 {
        self.authority
    }

    /// The sub-authorities, domain part first and relative identifier last.
    pub fn sub_authorities(&self) -> &[u32] {
        &self.sub_authorities
    }

    /// The relative identifier: the last sub-authority, if any.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }
}

fn invalid(input: String, reason: &'static str) -> Error {
    Error::InvalidSid { input, reason }
}

impl FromStr for Sid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Sid> {
        let rest = s
            .strip_prefix("S-1-")
            .or_else(|| s.strip_prefix("s-1-"))
            .ok_or_else(|| invalid(s.to_string(), "a SID starts with S-1-"))?;
        let mut parts = rest.split('-');
        let authority_text = parts.next().unwrap_or("");
        let authority = if let Some(hex) = authority_text
            .strip_prefix("0x")
            .or_else(|| authority_text.strip_prefix("0X"))
        {
            u64::from_str_radix(hex, 16)
        } else {
            authority_text.parse::<u64>()
        }
        .map_err(|_| invalid(s.to_string(), "the identifier authority is not a number"))?;
        let mut subs = Vec::new();
        for part in parts {
            let value = part
                .parse::<u32>()
                .map_err(|_| invalid(s.to_string(), "a sub-authority is not a 32-bit number"))?;
            subs.push(value);
        }
        Sid::new(authority, &subs).map_err(|e| match e {
            Error::InvalidSid { reason, .. } => invalid(s.to_string(), reason),
        })
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.authority >= 1 << 32 {
            write!(f, "S-1-0x{:012X}", self.authority)?;
        } else {
            write!(f, "S-1-{}", self.authority)?;
        }
        for sub in &self.sub_authorities {
            write!(f, "-{}", sub)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Sid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Sid, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_a_domain_user_sid() {
        let sid: Sid = "S-1-5-21-1004336348-1177238915-682003330-512".parse().unwrap();
        assert_eq!(sid.authority(), 5);
        assert_eq!(sid.rid(), Some(512));
        assert_eq!(sid.to_string(), "S-1-5-21-1004336348-1177238915-682003330-512");
    }

    #[test]
    fn refuses_garbage() {
        assert!("S-1-5-x".parse::<Sid>().is_err());
        assert!("1-5-32".parse::<Sid>().is_err());
        assert!("S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16".parse::<Sid>().is_err());
    }
}
