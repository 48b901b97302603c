//! A small deterministic generator of descriptors for property tests (no proptest needed).

use secdesc::ace::{flags, Ace, AceType};
use secdesc::acl::Acl;
use secdesc::descriptor::control;
use secdesc::{Guid, SecurityDescriptor, Sid};

/// xorshift64*: fast, reproducible, good enough to explore shapes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// SIDs drawn from a small pool so that maps and duplicates actually meet.
pub fn sid(rng: &mut Rng) -> Sid {
    match rng.below(4) {
        0 => rng
            .pick(&["S-1-1-0", "S-1-5-18", "S-1-5-32-544", "S-1-3-0"])
            .parse()
            .unwrap(),
        1 => Sid::new(5, &[21, 1, 2, 3, 1000 + rng.below(6) as u32]).unwrap(),
        2 => Sid::new(12, &[1, rng.below(3) as u32, 2, 3, 4]).unwrap(),
        _ => {
            let n = rng.below(16) as usize;
            let subs: Vec<u32> = (0..n).map(|_| rng.next() as u32).collect();
            Sid::new(rng.below(1 << 48), &subs).unwrap()
        }
    }
}

fn guid(rng: &mut Rng) -> Option<Guid> {
    if rng.below(2) == 0 {
        return None;
    }
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next().to_le_bytes());
    b[8..].copy_from_slice(&rng.next().to_le_bytes());
    Some(Guid::from_bytes_le(b))
}

const TYPES: &[AceType] = &[
    AceType::AccessAllowed,
    AceType::AccessDenied,
    AceType::SystemAudit,
    AceType::AccessAllowedObject,
    AceType::AccessDeniedObject,
    AceType::SystemAuditObject,
    AceType::SystemMandatoryLabel,
    AceType::AccessDeniedCallbackObject,
];

pub fn ace(rng: &mut Rng) -> Ace {
    let ace_type = *rng.pick(TYPES);
    let mut ace = Ace::new(ace_type, rng.next() as u8 & !flags::CRITICAL, 0, sid(rng));
    if rng.below(5) == 0 {
        ace.flags |= flags::CRITICAL;
    }
    ace.mask = match rng.below(3) {
        0 => *rng.pick(&[
            0x1F01FF, 0x1200A9, 0x1301BF, 0x20019, 0xF01FF, 0, 0x10000000,
        ]),
        _ => rng.next() as u32,
    };
    if ace_type.is_object() {
        ace.object_type = guid(rng);
        ace.inherited_object_type = guid(rng);
    }
    ace
}

fn acl(rng: &mut Rng) -> Acl {
    let mut acl = Acl::new(2);
    for _ in 0..rng.below(8) {
        acl.aces.push(ace(rng));
    }
    acl.revision = acl.minimum_revision();
    acl
}

/// A descriptor SDDL can express exactly (binary-only details such as slack are left out).
pub fn descriptor(rng: &mut Rng) -> SecurityDescriptor {
    let mut sd = SecurityDescriptor::new();
    let acl_bits = control::DACL_PROTECTED
        | control::DACL_AUTO_INHERITED
        | control::DACL_AUTO_INHERIT_REQ
        | control::SACL_PROTECTED
        | control::SACL_AUTO_INHERITED
        | control::SACL_AUTO_INHERIT_REQ;
    sd.control |= rng.next() as u16 & acl_bits;
    if rng.below(4) != 0 {
        sd.owner = Some(sid(rng));
    }
    if rng.below(4) != 0 {
        sd.group = Some(sid(rng));
    }
    match rng.below(6) {
        0 => {
            sd.control &= !(control::DACL_PROTECTED
                | control::DACL_AUTO_INHERITED
                | control::DACL_AUTO_INHERIT_REQ)
        }
        1 => sd.control |= control::DACL_PRESENT, // NULL DACL
        _ => {
            sd.control |= control::DACL_PRESENT;
            sd.dacl = Some(acl(rng));
        }
    }
    if rng.below(3) == 0 {
        sd.control |= control::SACL_PRESENT;
        sd.sacl = Some(acl(rng));
    } else {
        sd.control &= !(control::SACL_PROTECTED
            | control::SACL_AUTO_INHERITED
            | control::SACL_AUTO_INHERIT_REQ);
    }
    sd
}
