//! Descriptor to SDDL.

use std::fmt::Write;

use super::{ACE_FLAGS, ACE_TYPES, LABEL_BITS, RIGHT_BITS, RIGHT_SETS};
use crate::ace::{Ace, AceType};
use crate::acl::Acl;
use crate::alias::{alias_of, Domains};
use crate::descriptor::control;
use crate::{Error, Result, SecurityDescriptor, Sid};

/// Writes `sd` as SDDL the way Windows does. With `strict`, anything SDDL cannot say (bytes
/// after an ordinary ACE's SID, callback data that is not a conditional expression) is an
/// error; otherwise it is left out.
pub(crate) fn write(sd: &SecurityDescriptor, domains: &Domains, strict: bool) -> Result<String> {
    let mut out = String::with_capacity(64 + 48 * sd.dacl.as_ref().map_or(0, |a| a.aces.len()));
    if let Some(owner) = &sd.owner {
        out.push_str("O:");
        write_sid(&mut out, owner, domains);
    }
    if let Some(group) = &sd.group {
        out.push_str("G:");
        write_sid(&mut out, group, domains);
    }
    if sd.has(control::DACL_PRESENT) {
        out.push_str("D:");
        write_acl_flags(
            &mut out,
            sd.control,
            control::DACL_PROTECTED,
            control::DACL_AUTO_INHERIT_REQ,
            control::DACL_AUTO_INHERITED,
        );
        write_acl(&mut out, sd.dacl.as_ref(), domains, strict)?;
    }
    if sd.has(control::SACL_PRESENT) {
        out.push_str("S:");
        write_acl_flags(
            &mut out,
            sd.control,
            control::SACL_PROTECTED,
            control::SACL_AUTO_INHERIT_REQ,
            control::SACL_AUTO_INHERITED,
        );
        write_acl(&mut out, sd.sacl.as_ref(), domains, strict)?;
    }
    Ok(out)
}

/// A SID as its alias when it has one, else `S-1-…`.
pub(crate) fn write_sid(out: &mut String, sid: &Sid, domains: &Domains) {
    match alias_of(sid, domains) {
        Some(alias) => out.push_str(alias.code),
        None => sid.push_str_to(out),
    }
}

fn write_acl_flags(out: &mut String, bits: u16, protected: u16, req: u16, inherited: u16) {
    if bits & protected != 0 {
        out.push('P');
    }
    if bits & req != 0 {
        out.push_str("AR");
    }
    if bits & inherited != 0 {
        out.push_str("AI");
    }
}

fn write_acl(out: &mut String, acl: Option<&Acl>, domains: &Domains, strict: bool) -> Result<()> {
    let acl = match acl {
        Some(acl) => acl,
        None => {
            out.push_str("NO_ACCESS_CONTROL");
            return Ok(());
        }
    };
    for ace in &acl.aces {
        write_ace(out, ace, domains, strict)?;
    }
    Ok(())
}

fn write_ace(out: &mut String, ace: &Ace, domains: &Domains, strict: bool) -> Result<()> {
    out.push('(');
    match ACE_TYPES.iter().find(|(_, t)| *t == ace.ace_type) {
        Some((code, _)) => out.push_str(code),
        None => {
            let _ = write!(out, "0x{:02X}", ace.ace_type as u8);
        }
    }
    out.push(';');
    write_flags(out, ace.flags);
    out.push(';');
    write_rights(out, ace.mask, ace.ace_type == AceType::SystemMandatoryLabel);
    out.push(';');
    if let Some(g) = &ace.object_type {
        let _ = write!(out, "{}", g);
    }
    out.push(';');
    if let Some(g) = &ace.inherited_object_type {
        let _ = write!(out, "{}", g);
    }
    out.push(';');
    write_sid(out, &ace.sid, domains);
    if !ace.data.is_empty() {
        let extra = if ace.ace_type.is_callback() {
            crate::conditional::write_sddl(&ace.data, domains)
        } else if ace.ace_type == AceType::SystemResourceAttribute {
            crate::claims::write_sddl(&ace.data, domains)
        } else {
            None
        };
        match extra {
            Some(text) => {
                out.push(';');
                out.push_str(&text);
            }
            None if strict => {
                return Err(Error::NotExpressible {
                    reason: format!(
                        "the {:?} ACE for {} carries {} bytes SDDL cannot express",
                        ace.ace_type,
                        ace.sid,
                        ace.data.len()
                    ),
                })
            }
            None => {}
        }
    }
    out.push(')');
    Ok(())
}

fn write_flags(out: &mut String, bits: u8) {
    let known = ACE_FLAGS.iter().fold(0, |acc, (_, b)| acc | b);
    if bits & !known != 0 {
        // A flag without letters (the critical flag): the whole field as a number.
        let _ = write!(out, "0x{:x}", bits);
        return;
    }
    for (code, bit) in ACE_FLAGS {
        if bits & bit != 0 {
            out.push_str(code);
        }
    }
}

/// Writes an access mask as Windows does: a file or registry set if it is exactly one, else bit
/// letters if they cover every bit, else hex.
pub(crate) fn write_rights(out: &mut String, mask: u32, label: bool) {
    if label {
        let all = LABEL_BITS.iter().fold(0, |acc, (_, b)| acc | b);
        if mask & !all == 0 && mask != 0 {
            for (code, bit) in LABEL_BITS {
                if mask & bit != 0 {
                    out.push_str(code);
                }
            }
            return;
        }
    } else if let Some((code, _)) = RIGHT_SETS.iter().find(|(_, m)| *m == mask) {
        out.push_str(code);
        return;
    }
    // An empty mask is an empty field, as in Windows' resource attribute ACEs and Samba's output.
    let covered = RIGHT_BITS.iter().fold(0, |acc, (_, b)| acc | b);
    if mask & !covered != 0 {
        push_hex(out, mask);
        return;
    }
    for (code, bit) in RIGHT_BITS {
        if mask & bit != 0 {
            out.push_str(code);
        }
    }
}

/// Appends `0x` and `value` in lower-case hex, as Windows writes masks.
fn push_hex(out: &mut String, value: u32) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push_str("0x");
    let mut started = false;
    for shift in (0..8).rev() {
        let digit = (value >> (shift * 4)) & 15;
        if digit != 0 || started || shift == 0 {
            started = true;
            out.push(DIGITS[digit as usize] as char);
        }
    }
}
