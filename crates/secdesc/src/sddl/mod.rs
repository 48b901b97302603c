//! SDDL, the Security Descriptor Definition Language: reading and writing, with the letter codes
//! Windows uses for ACE types, ACE flags and access rights.

pub(crate) mod parse;
pub(crate) mod write;

pub(crate) use parse::parse;
pub(crate) use write::write;

use crate::ace::{flags, AceType};

/// A one- or two-letter code as a number: comparing these is much cheaper than comparing slices,
/// and parsing is mostly table look-ups.
pub(crate) fn code_key(code: &[u8]) -> u32 {
    match code {
        [a] => u32::from(*a),
        [a, b] => u32::from(*a) << 8 | u32::from(*b),
        _ => u32::MAX,
    }
}

/// Looks `code` up in a table of letter codes.
pub(crate) fn lookup<T: Copy>(table: &[(&str, T)], code: &[u8]) -> Option<T> {
    let key = code_key(code);
    table
        .iter()
        .find(|(c, _)| code_key(c.as_bytes()) == key)
        .map(|(_, v)| *v)
}

/// ACE type letters. Types without letters are written as `0x0C` and read back the same way.
pub(crate) const ACE_TYPES: &[(&str, AceType)] = &[
    ("A", AceType::AccessAllowed),
    ("D", AceType::AccessDenied),
    ("AU", AceType::SystemAudit),
    ("AL", AceType::SystemAlarm),
    ("OA", AceType::AccessAllowedObject),
    ("OD", AceType::AccessDeniedObject),
    ("OU", AceType::SystemAuditObject),
    ("OL", AceType::SystemAlarmObject),
    ("XA", AceType::AccessAllowedCallback),
    ("XD", AceType::AccessDeniedCallback),
    ("ZA", AceType::AccessAllowedCallbackObject),
    ("XU", AceType::SystemAuditCallback),
    ("ML", AceType::SystemMandatoryLabel),
    ("RA", AceType::SystemResourceAttribute),
    ("SP", AceType::SystemScopedPolicyId),
    ("TL", AceType::SystemProcessTrustLabel),
    ("FL", AceType::SystemAccessFilter),
];

/// ACE flag letters, in the order Windows writes them (ascending bits).
pub(crate) const ACE_FLAGS: &[(&str, u8)] = &[
    ("OI", flags::OBJECT_INHERIT),
    ("CI", flags::CONTAINER_INHERIT),
    ("NP", flags::NO_PROPAGATE_INHERIT),
    ("IO", flags::INHERIT_ONLY),
    ("ID", flags::INHERITED),
    ("SA", flags::SUCCESSFUL_ACCESS),
    ("FA", flags::FAILED_ACCESS),
];

/// Access right letters that stand for one bit, in the order Windows writes them (ascending bits).
pub(crate) const RIGHT_BITS: &[(&str, u32)] = &[
    ("CC", 0x0000_0001), // create child
    ("DC", 0x0000_0002), // delete child
    ("LC", 0x0000_0004), // list children
    ("SW", 0x0000_0008), // validated write (self)
    ("RP", 0x0000_0010), // read property
    ("WP", 0x0000_0020), // write property
    ("DT", 0x0000_0040), // delete tree
    ("LO", 0x0000_0080), // list object
    ("CR", 0x0000_0100), // control access (extended right)
    ("SD", 0x0001_0000), // delete
    ("RC", 0x0002_0000), // read control
    ("WD", 0x0004_0000), // write DAC
    ("WO", 0x0008_0000), // write owner
    ("GA", 0x1000_0000), // generic all
    ("GX", 0x2000_0000), // generic execute
    ("GW", 0x4000_0000), // generic write
    ("GR", 0x8000_0000), // generic read
];

/// Access right letters that stand for a whole file or registry mask. Windows writes them only
/// when the mask is exactly one of them; KX equals KR, so KR is written.
pub(crate) const RIGHT_SETS: &[(&str, u32)] = &[
    ("FA", 0x001F_01FF),
    ("FR", 0x0012_0089),
    ("FW", 0x0012_0116),
    ("FX", 0x0012_00A0),
    ("KA", 0x000F_003F),
    ("KR", 0x0002_0019),
    ("KW", 0x0002_0006),
    ("KX", 0x0002_0019),
];

/// Mandatory label policy letters (the mask of an ML ACE).
pub(crate) const LABEL_BITS: &[(&str, u32)] = &[("NW", 0x1), ("NR", 0x2), ("NX", 0x4)];

#[cfg(test)]
mod tests;
