//! The claim of a resource attribute ACE (MS-DTYP 2.4.10.1, CLAIM_SECURITY_ATTRIBUTE_RELATIVE_V1)
//! and its SDDL form `("Name",TS,0x0,"value",…)`.

use std::fmt::Write;

use crate::sddl::parse::{parse_number, Parser};
use crate::sddl::write::write_sid;
use crate::{Domains, Result, Sid};

const INT64: u16 = 0x0001;
const UINT64: u16 = 0x0002;
const STRING: u16 = 0x0003;
const SID: u16 = 0x0005;
const BOOLEAN: u16 = 0x0006;
const OCTETS: u16 = 0x0010;

/// SDDL value type codes.
const TYPES: &[(&str, u16)] = &[
    ("TI", INT64),
    ("TU", UINT64),
    ("TS", STRING),
    ("TD", SID),
    ("TB", BOOLEAN),
    ("TX", OCTETS),
];

/// One claim value, already in its binary form (what a value offset points at).
fn encode_utf16z(text: &str) -> Vec<u8> {
    let mut out: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    out.extend_from_slice(&[0, 0]);
    out
}

/// Reads `("Name",TYPE,FLAGS,value,…)` and returns the binary claim, padded to 4 bytes.
pub(crate) fn parse_sddl(p: &mut Parser<'_>) -> Result<Vec<u8>> {
    p.expect(b'(')?;
    let name = quoted(p)?;
    p.expect(b',')?;
    let code = p.s.get(p.at..p.at + 2).unwrap_or(b"");
    let value_type = TYPES
        .iter()
        .find(|(c, _)| c.as_bytes() == code)
        .map(|(_, t)| *t)
        .ok_or_else(|| p.error("expected a claim type: TI, TU, TS, TD, TB or TX"))?;
    p.at += 2;
    p.expect(b',')?;
    let flags = number_token(p)?;
    let flags = u32::try_from(flags).map_err(|_| p.error("claim flags exceed 32 bits"))?;
    let mut values: Vec<Vec<u8>> = Vec::new();
    while p.peek() == Some(b',') {
        p.at += 1;
        values.push(value(p, value_type)?);
    }
    p.expect(b')')?;
    if values.is_empty() {
        return Err(p.error("a resource attribute needs at least one value"));
    }
    // Header, value offsets, name, then the values, in the order Windows lays them out.
    let header = 16 + 4 * values.len();
    let name = encode_utf16z(&name);
    let mut out =
        Vec::with_capacity(header + name.len() + values.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(&(header as u32).to_le_bytes());
    out.extend_from_slice(&value_type.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    let mut offset = header + name.len();
    for v in &values {
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        offset += v.len();
    }
    out.extend_from_slice(&name);
    for v in values {
        out.extend_from_slice(&v);
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
    Ok(out)
}

fn quoted(p: &mut Parser<'_>) -> Result<String> {
    p.expect(b'"')?;
    let start = p.at;
    let end = p.s[start..]
        .iter()
        .position(|c| *c == b'"')
        .ok_or_else(|| p.error("unterminated string"))?;
    // Claim names and strings are NUL-terminated in the binary form: a NUL cannot be carried.
    if let Some(nul) = p.s[start..start + end].iter().position(|c| *c == 0) {
        p.at = start + nul;
        return Err(p.error("a claim name or string cannot contain NUL"));
    }
    p.at = start + end + 1;
    Ok(String::from_utf8_lossy(&p.s[start..start + end]).into_owned())
}

fn number_token(p: &mut Parser<'_>) -> Result<u64> {
    let start = p.at;
    while p.peek().map_or(false, |c| c.is_ascii_alphanumeric()) {
        p.at += 1;
    }
    parse_number(&p.s[start..p.at]).ok_or_else(|| {
        p.at = start;
        p.error("expected a number")
    })
}

fn value(p: &mut Parser<'_>, value_type: u16) -> Result<Vec<u8>> {
    match value_type {
        INT64 => {
            let negative = p.peek() == Some(b'-');
            if negative {
                p.at += 1;
            }
            let start = p.at;
            let magnitude = number_token(p)?;
            let value = if negative {
                if magnitude == 1 << 63 {
                    Some(i64::MIN)
                } else {
                    i64::try_from(magnitude).ok().map(|v| -v)
                }
            } else {
                i64::try_from(magnitude).ok()
            };
            let value = value.ok_or_else(|| {
                Parser::error(
                    &Parser {
                        s: p.s,
                        at: start,
                        domains: p.domains,
                    },
                    "the number does not fit 64 bits",
                )
            })?;
            Ok(value.to_le_bytes().to_vec())
        }
        UINT64 => Ok(number_token(p)?.to_le_bytes().to_vec()),
        BOOLEAN => match number_token(p)? {
            v @ 0..=1 => Ok(v.to_le_bytes().to_vec()),
            _ => Err(p.error("a boolean claim value is 0 or 1")),
        },
        STRING => Ok(encode_utf16z(&quoted(p)?)),
        SID => {
            if !p.s[p.at..].starts_with(b"SID(") {
                return Err(p.error("expected SID(…)"));
            }
            p.at += 4;
            let sid = p.sid(true)?;
            p.expect(b')')?;
            let bytes = sid.to_bytes();
            let mut out = (bytes.len() as u32).to_le_bytes().to_vec();
            out.extend_from_slice(&bytes);
            Ok(out)
        }
        _ => {
            p.expect(b'#')?;
            let start = p.at;
            while p.peek().map_or(false, |c| c.is_ascii_hexdigit()) {
                p.at += 1;
            }
            let hex = &p.s[start..p.at];
            if hex.len() % 2 != 0 {
                return Err(p.error("an octet string has an even number of hex digits"));
            }
            let bytes: Vec<u8> = hex
                .chunks(2)
                .map(|pair| {
                    u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("x"), 16).unwrap_or(0)
                })
                .collect();
            let mut out = (bytes.len() as u32).to_le_bytes().to_vec();
            out.extend_from_slice(&bytes);
            Ok(out)
        }
    }
}

fn u32_at(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn utf16z_at(data: &[u8], at: usize) -> Option<String> {
    let mut units = Vec::new();
    let mut i = at;
    loop {
        let b = data.get(i..i + 2)?;
        let unit = u16::from_le_bytes([b[0], b[1]]);
        if unit == 0 {
            break;
        }
        units.push(unit);
        i += 2;
    }
    let text = String::from_utf16(&units).ok()?;
    if text.contains('"') {
        return None;
    }
    Some(text)
}

/// The SDDL text of a binary claim, with its parentheses, or `None` if it is not one.
pub(crate) fn write_sddl(data: &[u8], domains: &Domains) -> Option<String> {
    let name = utf16z_at(data, u32_at(data, 0)?)?;
    let value_type = u16::from_le_bytes([*data.get(4)?, *data.get(5)?]);
    let flags = u32_at(data, 8)?;
    let count = u32_at(data, 12)?;
    let code = TYPES.iter().find(|(_, t)| *t == value_type)?.0;
    if count == 0 || count > data.len() / 4 {
        return None;
    }
    let mut out = format!("(\"{}\",{},0x{:x}", name, code, flags);
    for i in 0..count {
        let at = u32_at(data, 16 + 4 * i)?;
        out.push(',');
        let word = || -> Option<[u8; 8]> {
            let mut b = [0u8; 8];
            b.copy_from_slice(data.get(at..at.checked_add(8)?)?);
            Some(b)
        };
        let _ = match value_type {
            INT64 => write!(out, "{}", i64::from_le_bytes(word()?)),
            UINT64 => write!(out, "{}", u64::from_le_bytes(word()?)),
            BOOLEAN => match u64::from_le_bytes(word()?) {
                v @ 0..=1 => write!(out, "{}", v),
                _ => return None,
            },
            STRING => write!(out, "\"{}\"", utf16z_at(data, at)?),
            _ => {
                let len = u32_at(data, at)?;
                let raw = data.get(at + 4..(at + 4).checked_add(len)?)?;
                if value_type == SID {
                    out.push_str("SID(");
                    write_sid(&mut out, &Sid::from_bytes(raw).ok()?, domains);
                    out.push(')');
                } else {
                    out.push('#');
                    for b in raw {
                        let _ = write!(out, "{:02x}", b);
                    }
                }
                Ok(())
            }
        };
    }
    out.push(')');
    Some(out)
}

#[cfg(test)]
mod tests {
    use crate::SecurityDescriptor;

    #[test]
    fn resource_attributes_round_trip_through_binary() {
        for s in [
            "S:(RA;;;;;WD;(\"Project\",TS,0x0,\"Alpha\",\"Beta\"))",
            "S:(RA;CI;;;;WD;(\"Secrecy\",TU,0x1,3))",
            "S:(RA;;;;;WD;(\"Delta\",TI,0x0,-5,7))",
            "S:(RA;;;;;WD;(\"Owners\",TD,0x0,SID(BA),SID(S-1-5-21-1-2-3-1001)))",
            "S:(RA;;;;;WD;(\"Flag\",TB,0x0,1))",
            "S:(RA;;;;;WD;(\"Blob\",TX,0x0,#00ff10))",
        ] {
            let sd =
                SecurityDescriptor::from_sddl(s, None).unwrap_or_else(|e| panic!("{}: {}", s, e));
            let back = SecurityDescriptor::from_bytes(&sd.to_bytes()).unwrap();
            assert_eq!(back.sacl.as_ref().unwrap().aces[0].data.len() % 4, 0);
            assert_eq!(back.to_sddl(None), s);
        }
    }

    #[test]
    fn bad_resource_attributes_are_errors() {
        for bad in [
            "S:(RA;;;;;WD;(\"P\",TQ,0x0,1))",
            "S:(RA;;;;;WD;(\"P\",TB,0x0,2))",
            "S:(RA;;;;;WD;(\"P\",TS,0x0))",
            "S:(RA;;;;;WD;(\"P,TS,0x0,\"a\"))",
            "S:(RA;;;;;WD;(\"P\",TX,0x0,#abc))",
            "S:(RA;;;;;WD;(\"P\0x\",TS,0x0,\"a\"))",
        ] {
            assert!(SecurityDescriptor::from_sddl(bad, None).is_err(), "{}", bad);
        }
    }
}
