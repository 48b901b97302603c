//! SDDL to descriptor.

use super::{lookup, ACE_FLAGS, ACE_TYPES, LABEL_BITS, RIGHT_BITS, RIGHT_SETS};
use crate::ace::{Ace, AceType};
use crate::acl::Acl;
use crate::alias::{self, Domains};
use crate::descriptor::control;
use crate::guid::Guid;
use crate::sid::parse_sid_prefix;
use crate::{Error, Result, SecurityDescriptor, Sid};

/// Reads SDDL into a descriptor; domain-relative aliases are resolved against `domains`.
pub(crate) fn parse(text: &str, domains: &Domains) -> Result<SecurityDescriptor> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
        domains,
    };
    let mut sd = SecurityDescriptor::new();
    let mut seen = [false; 4];
    loop {
        // Windows skips white space between the parts (and Active Directory's schema defaults
        // carry some); the writer never puts any back.
        p.skip_space();
        if p.at >= p.s.len() {
            break;
        }
        let start = p.at;
        let tag = p.s[p.at];
        if p.s.get(p.at + 1) != Some(&b':') {
            return Err(p.error("expected O:, G:, D: or S:"));
        }
        let index = match tag {
            b'O' => 0,
            b'G' => 1,
            b'D' => 2,
            b'S' => 3,
            _ => return Err(p.error("expected O:, G:, D: or S:")),
        };
        if seen[index] {
            return Err(p.error("this part appears twice"));
        }
        seen[index] = true;
        p.at += 2;
        match index {
            0 => sd.owner = Some(p.sid(false)?),
            1 => sd.group = Some(p.sid(false)?),
            _ => {
                let dacl = index == 2;
                let (flags, acl) = p.acl(dacl)?;
                sd.control |= flags;
                if dacl {
                    sd.dacl = acl;
                } else {
                    sd.sacl = acl;
                }
            }
        }
        debug_assert!(p.at > start);
    }
    Ok(sd)
}

pub(crate) struct Parser<'a> {
    pub(crate) s: &'a [u8],
    pub(crate) at: usize,
    pub(crate) domains: &'a Domains,
}

impl<'a> Parser<'a> {
    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::Sddl {
            offset: self.at,
            reason: reason.into(),
        }
    }

    fn error_at(&self, offset: usize, reason: impl Into<String>) -> Error {
        Error::Sddl {
            offset,
            reason: reason.into(),
        }
    }

    /// Skips the white space Windows tolerates between parts and before an ACE.
    fn skip_space(&mut self) {
        while matches!(
            self.peek(),
            Some(b' ') | Some(b'\t') | Some(b'\r') | Some(b'\n')
        ) {
            self.at += 1;
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    pub(crate) fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected '{}'", c as char)))
        }
    }

    /// Reads a SID: `S-1-…` or a two-letter alias. Inside an ACE (`in_ace`) the SID must end at
    /// `;` or `)`.
    pub(crate) fn sid(&mut self, in_ace: bool) -> Result<Sid> {
        let start = self.at;
        let rest = &self.s[self.at..];
        let sid = if rest.len() >= 2 && (rest[0] == b'S' || rest[0] == b's') && rest[1] == b'-' {
            let (sid, used) = parse_sid_prefix(rest).map_err(|reason| self.error(reason))?;
            self.at += used;
            sid
        } else {
            let code = rest
                .get(..2)
                .ok_or_else(|| self.error("expected a SID (S-1-…) or a two-letter alias"))?;
            let alias = alias::find(code).ok_or_else(|| {
                // The first two characters as typed, however many bytes each takes.
                let typed: String = String::from_utf8_lossy(&rest[..rest.len().min(8)])
                    .chars()
                    .take(2)
                    .collect();
                self.error(format!("unknown SID alias {:?}", typed))
            })?;
            let sid = alias.sid(self.domains).ok_or_else(|| {
                self.error(format!(
                    "the alias {} ({}) is relative to a domain: give the domain SID",
                    alias.code, alias.name
                ))
            })?;
            self.at += 2;
            sid
        };
        if in_ace && self.peek().is_none() {
            return Err(self.error("unexpected end: expected ';' or ')'"));
        }
        if in_ace && !matches!(self.peek(), Some(b';') | Some(b')')) {
            return Err(self.error_at(
                start,
                "expected a SID (S-1-…) or a two-letter alias, then ';' or ')'",
            ));
        }
        Ok(sid)
    }

    /// Reads ACL flags and ACEs after `D:` or `S:`; returns the control bits and the ACL
    /// (`None` for NO_ACCESS_CONTROL).
    fn acl(&mut self, dacl: bool) -> Result<(u16, Option<Acl>)> {
        let (present, protected, req, inherited) = if dacl {
            (
                control::DACL_PRESENT,
                control::DACL_PROTECTED,
                control::DACL_AUTO_INHERIT_REQ,
                control::DACL_AUTO_INHERITED,
            )
        } else {
            (
                control::SACL_PRESENT,
                control::SACL_PROTECTED,
                control::SACL_AUTO_INHERIT_REQ,
                control::SACL_AUTO_INHERITED,
            )
        };
        let mut bits = present;
        let mut null = false;
        loop {
            self.skip_space();
            let rest = &self.s[self.at..];
            if rest.starts_with(b"NO_ACCESS_CONTROL") {
                null = true;
                self.at += 17;
            } else if rest.starts_with(b"AI") {
                bits |= inherited;
                self.at += 2;
            } else if rest.starts_with(b"AR") {
                bits |= req;
                self.at += 2;
            } else if rest.starts_with(b"P") {
                bits |= protected;
                self.at += 1;
            } else {
                break;
            }
        }
        let mut acl = Acl::new(crate::acl::ACL_REVISION);
        // One allocation instead of a growth series: at most one ACE per '(' left.
        let opening = self.s[self.at..].iter().filter(|c| **c == b'(').count();
        acl.aces.reserve_exact(opening.min(64));
        loop {
            self.skip_space();
            if self.peek() != Some(b'(') {
                break;
            }
            acl.aces.push(self.ace()?);
        }
        if let Some(c) = self.peek() {
            if self.s.get(self.at + 1) != Some(&b':') || !matches!(c, b'O' | b'G' | b'D' | b'S') {
                return Err(self.error("expected an ACE '(' or the next part (O:, G:, D:, S:)"));
            }
        }
        if null {
            if !acl.aces.is_empty() {
                return Err(self.error("NO_ACCESS_CONTROL (a NULL ACL) cannot have ACEs"));
            }
            return Ok((bits, None));
        }
        acl.revision = acl.minimum_revision();
        acl.check_size(if dacl { "DACL" } else { "SACL" })?;
        Ok((bits, Some(acl)))
    }

    /// The text up to the next `;` (not consumed).
    fn field(&mut self) -> (usize, &'a [u8]) {
        let start = self.at;
        while self.at < self.s.len() && self.s[self.at] != b';' && self.s[self.at] != b')' {
            self.at += 1;
        }
        (start, &self.s[start..self.at])
    }

    fn ace(&mut self) -> Result<Ace> {
        self.expect(b'(')?;
        let (start, text) = self.field();
        let ace_type = lookup(ACE_TYPES, text)
            .or_else(|| {
                parse_number(text)
                    .and_then(|n| u8::try_from(n).ok())
                    .and_then(AceType::from_u8)
            })
            .ok_or_else(|| {
                self.error_at(
                    start,
                    format!("unknown ACE type {:?}", String::from_utf8_lossy(text)),
                )
            })?;
        self.expect(b';')?;
        let (start, text) = self.field();
        let ace_flags = if text.first().map_or(false, u8::is_ascii_digit) {
            parse_number(text).and_then(|n| u8::try_from(n).ok())
        } else {
            letters(text, ACE_FLAGS, |acc, bit| acc | bit, 0u8)
        }
        .ok_or_else(|| {
            self.error_at(
                start,
                format!("invalid ACE flags {:?}", String::from_utf8_lossy(text)),
            )
        })?;
        self.expect(b';')?;
        let (start, text) = self.field();
        let mask = rights(text).ok_or_else(|| {
            self.error_at(
                start,
                format!("invalid access rights {:?}", String::from_utf8_lossy(text)),
            )
        })?;
        self.expect(b';')?;
        let object_type = self.guid(ace_type)?;
        self.expect(b';')?;
        let inherited_object_type = self.guid(ace_type)?;
        self.expect(b';')?;
        let sid = self.sid(true)?;
        let mut ace = Ace {
            ace_type,
            flags: ace_flags,
            mask,
            object_type,
            inherited_object_type,
            sid,
            data: Vec::new(),
        };
        if self.peek() == Some(b';') {
            self.at += 1;
            ace.data = if ace_type.is_callback() {
                crate::conditional::parse_sddl(self)?
            } else if ace_type == AceType::SystemResourceAttribute {
                crate::claims::parse_sddl(self)?
            } else {
                return Err(self.error("only callback (XA, XD, ZA, XU) and resource attribute (RA) ACEs take a seventh field"));
            };
        }
        self.expect(b')')?;
        Ok(ace)
    }

    fn guid(&mut self, ace_type: AceType) -> Result<Option<Guid>> {
        let (start, text) = self.field();
        if text.is_empty() {
            return Ok(None);
        }
        if !ace_type.is_object() {
            return Err(self.error_at(
                start,
                "only object ACEs (OA, OD, OU, OL, ZA) take object GUIDs",
            ));
        }
        let text = std::str::from_utf8(text).map_err(|_| self.error_at(start, "invalid GUID"))?;
        text.parse::<Guid>()
            .map(Some)
            .map_err(|_| self.error_at(start, format!("invalid GUID {:?}", text)))
    }
}

/// Reads an access mask: a number, or letter codes (bit codes, FA/FR/…/KX, NR/NW/NX).
fn rights(text: &[u8]) -> Option<u32> {
    if text.first().map_or(false, u8::is_ascii_digit) {
        return parse_number(text).and_then(|n| u32::try_from(n).ok());
    }
    let mut mask = 0u32;
    for code in text.chunks(2) {
        // Windows accepts NR/NW/NX in any ACE, not only in a mandatory label.
        mask |= lookup(RIGHT_SETS, code)
            .or_else(|| lookup(RIGHT_BITS, code))
            .or_else(|| lookup(LABEL_BITS, code))?;
    }
    Some(mask)
}

/// Adds up two-letter codes from `table`; `None` on an unknown code or an odd length.
fn letters<T: Copy>(
    text: &[u8],
    table: &[(&str, T)],
    add: impl Fn(T, T) -> T,
    zero: T,
) -> Option<T> {
    let mut acc = zero;
    for code in text.chunks(2) {
        let value = lookup(table, code)?;
        acc = add(acc, value);
    }
    Some(acc)
}

/// Reads a number the way Windows' `wcstoul(…, 0)` does: `0x` hex, a leading `0` octal, else
/// decimal. The whole text must be the number.
pub(crate) fn parse_number(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    // from_str_radix would also take a sign, which Windows does not.
    if text.len() > 20
        || !text.bytes().skip(2).all(|c| c.is_ascii_hexdigit())
        || text.starts_with('+')
    {
        return None;
    }
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u64::from_str_radix(&text[1..], 8).ok()
    } else {
        text.parse().ok()
    }
}
