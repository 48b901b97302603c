//! The security descriptor and its MS-DTYP self-relative binary form (2.4.6).

use crate::acl::Acl;
use crate::{Error, Result, Sid};

/// Security descriptor control flags (the `Control` field).
pub mod control {
    /// OD: the owner was set by a default mechanism.
    pub const OWNER_DEFAULTED: u16 = 0x0001;
    /// GD: the group was set by a default mechanism.
    pub const GROUP_DEFAULTED: u16 = 0x0002;
    /// DP: the descriptor has a DACL (absent offset = NULL DACL, which grants everyone everything).
    pub const DACL_PRESENT: u16 = 0x0004;
    /// DD: the DACL was set by a default mechanism.
    pub const DACL_DEFAULTED: u16 = 0x0008;
    /// SP: the descriptor has a SACL.
    pub const SACL_PRESENT: u16 = 0x0010;
    /// SD: the SACL was set by a default mechanism.
    pub const SACL_DEFAULTED: u16 = 0x0020;
    /// DT: the DACL is trusted (server security).
    pub const DACL_TRUSTED: u16 = 0x0040;
    /// SS: server security.
    pub const SERVER_SECURITY: u16 = 0x0080;
    /// DACL auto-inherit required (SDDL `D:AR`).
    pub const DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
    /// SACL auto-inherit required (SDDL `S:AR`).
    pub const SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
    /// DACL auto-inherited (SDDL `D:AI`).
    pub const DACL_AUTO_INHERITED: u16 = 0x0400;
    /// SACL auto-inherited (SDDL `S:AI`).
    pub const SACL_AUTO_INHERITED: u16 = 0x0800;
    /// DACL protected from inheritance (SDDL `D:P`).
    pub const DACL_PROTECTED: u16 = 0x1000;
    /// SACL protected from inheritance (SDDL `S:P`).
    pub const SACL_PROTECTED: u16 = 0x2000;
    /// The resource manager control byte is valid.
    pub const RM_CONTROL_VALID: u16 = 0x4000;
    /// Self-relative form: always set in the binary form.
    pub const SELF_RELATIVE: u16 = 0x8000;
}

/// The four parts a self-relative descriptor points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Part {
    Owner = 0,
    Group = 1,
    Sacl = 2,
    Dacl = 3,
}

/// Where the parts sat in the buffer a descriptor was read from, so that writing an unchanged
/// descriptor gives back the same bytes even when its parts are in an unusual order or padded.
#[derive(Clone, Debug)]
struct Layout {
    order: [Part; 4],
    /// Bytes before each part (indexed by `Part`) and, last, after the final part.
    gaps: [Vec<u8>; 5],
}

impl Default for Layout {
    /// The order Samba and Windows' `MakeSelfRelativeSD`-style writers agree on for new
    /// descriptors: owner, group, SACL, DACL.
    fn default() -> Layout {
        Layout {
            order: [Part::Owner, Part::Group, Part::Sacl, Part::Dacl],
            gaps: Default::default(),
        }
    }
}

/// A security descriptor: control flags, owner, group, DACL and SACL.
#[derive(Clone, Debug, Default)]
pub struct SecurityDescriptor {
    /// Control flags (see [`control`]); DACL_PRESENT and SACL_PRESENT say whether each ACL applies.
    pub control: u16,
    /// The resource manager control byte (`Sbz1`), meaningful with RM_CONTROL_VALID.
    pub rm_control: u8,
    /// The owner.
    pub owner: Option<Sid>,
    /// The primary group.
    pub group: Option<Sid>,
    /// The discretionary ACL; `None` with DACL_PRESENT is a NULL DACL.
    pub dacl: Option<Acl>,
    /// The system ACL (audit entries, mandatory label, resource attributes).
    pub sacl: Option<Acl>,
    layout: Layout,
}

impl PartialEq for SecurityDescriptor {
    /// Equal when they say the same thing; where the parts sat in a buffer does not count.
    fn eq(&self, other: &SecurityDescriptor) -> bool {
        self.control == other.control
            && self.rm_control == other.rm_control
            && self.owner == other.owner
            && self.group == other.group
            && self.dacl == other.dacl
            && self.sacl == other.sacl
    }
}

impl Eq for SecurityDescriptor {}

const HEADER_LEN: usize = 20;

impl SecurityDescriptor {
    /// An empty descriptor: no owner, group, DACL or SACL.
    pub fn new() -> SecurityDescriptor {
        SecurityDescriptor {
            control: control::SELF_RELATIVE,
            ..SecurityDescriptor::default()
        }
    }

    /// Whether a control flag (see [`control`]) is set.
    pub fn has(&self, flag: u16) -> bool {
        self.control & flag != 0
    }

    /// Every SID the descriptor names: owner, group, then each ACE's trustee (DACL, then SACL).
    /// A SID may appear more than once.
    pub fn sids(&self) -> impl Iterator<Item = &Sid> {
        let aces = self
            .dacl
            .iter()
            .chain(self.sacl.iter())
            .flat_map(|acl| acl.aces.iter());
        self.owner
            .iter()
            .chain(self.group.iter())
            .chain(aces.map(|ace| &ace.sid))
    }

    /// Reads a self-relative security descriptor that fills `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<SecurityDescriptor> {
        let err = |offset: usize, reason: &'static str| Error::Binary { offset, reason };
        if bytes.len() < HEADER_LEN {
            return Err(err(0, "a security descriptor needs a 20-byte header"));
        }
        if bytes[0] != 1 {
            return Err(err(0, "the security descriptor revision is not 1"));
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        };
        let mut sd = SecurityDescriptor {
            control: u16::from_le_bytes([bytes[2], bytes[3]]),
            rm_control: bytes[1],
            ..SecurityDescriptor::default()
        };
        // Offsets in header order: owner, group, SACL, DACL.
        let mut parts = [
            (word(4), Part::Owner, 4),
            (word(8), Part::Group, 8),
            (word(12), Part::Sacl, 12),
            (word(16), Part::Dacl, 16),
        ];
        // Parts are read in buffer order so that what lies between them can be kept.
        parts.sort_by_key(|p| (p.0 == 0, p.0));
        let mut end = HEADER_LEN;
        let mut order = [Part::Owner; 4];
        for (i, &(offset, part, field)) in parts.iter().enumerate() {
            order[i] = part;
            if offset == 0 {
                continue;
            }
            if offset < end || offset >= bytes.len() {
                return Err(err(
                    field,
                    "a part's offset overlaps another part or runs past the end",
                ));
            }
            sd.layout.gaps[part as usize] = bytes[end..offset].to_vec();
            let rest = &bytes[offset..];
            let used = match part {
                Part::Owner | Part::Group => {
                    let (sid, used) = Sid::from_bytes_prefix(rest)
                        .map_err(|_| err(offset, "malformed owner or group SID"))?;
                    if part == Part::Owner {
                        sd.owner = Some(sid);
                    } else {
                        sd.group = Some(sid);
                    }
                    used
                }
                Part::Sacl | Part::Dacl => {
                    let (acl, used) = Acl::read(rest, offset)?;
                    if part == Part::Sacl {
                        sd.sacl = Some(acl);
                    } else {
                        sd.dacl = Some(acl);
                    }
                    used
                }
            };
            end = offset + used;
        }
        sd.layout.order = order;
        sd.layout.gaps[4] = bytes[end..].to_vec();
        Ok(sd)
    }

    /// The self-relative binary form, or an error if an ACL is too large for it.
    pub fn try_to_bytes(&self) -> Result<Vec<u8>> {
        if let Some(acl) = &self.dacl {
            acl.check_size("DACL")?;
        }
        if let Some(acl) = &self.sacl {
            acl.check_size("SACL")?;
        }
        Ok(self.to_bytes())
    }

    /// The self-relative binary form. Descriptors read or built by this crate always fit; for
    /// one assembled by hand, [`SecurityDescriptor::try_to_bytes`] checks the 64 KiB ACL limit.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.binary_len());
        out.push(1);
        out.push(self.rm_control);
        out.extend_from_slice(&self.control.to_le_bytes());
        out.extend_from_slice(&[0; 16]);
        for &part in &self.layout.order {
            let present = match part {
                Part::Owner => self.owner.is_some(),
                Part::Group => self.group.is_some(),
                Part::Sacl => self.sacl.is_some(),
                Part::Dacl => self.dacl.is_some(),
            };
            if !present {
                continue;
            }
            out.extend_from_slice(&self.layout.gaps[part as usize]);
            let offset = out.len() as u32;
            let field = 4 + 4 * part as usize;
            out[field..field + 4].copy_from_slice(&offset.to_le_bytes());
            match part {
                Part::Owner => self.owner.iter().for_each(|s| s.write_bytes(&mut out)),
                Part::Group => self.group.iter().for_each(|s| s.write_bytes(&mut out)),
                Part::Sacl => self.sacl.iter().for_each(|a| a.write(&mut out)),
                Part::Dacl => self.dacl.iter().for_each(|a| a.write(&mut out)),
            }
        }
        out.extend_from_slice(&self.layout.gaps[4]);
        out
    }

    /// The size of the binary form.
    pub fn binary_len(&self) -> usize {
        HEADER_LEN
            + self.owner.as_ref().map_or(0, Sid::binary_len)
            + self.group.as_ref().map_or(0, Sid::binary_len)
            + self.dacl.as_ref().map_or(0, Acl::binary_len)
            + self.sacl.as_ref().map_or(0, Acl::binary_len)
            + self.layout.gaps.iter().map(Vec::len).sum::<usize>()
    }
}
