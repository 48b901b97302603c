//! Access control entries: the model and the MS-DTYP binary form (2.4.4).

use crate::guid::Guid;
use crate::{Error, Result, Sid};

/// ACE flags (the `AceFlags` byte), with their SDDL letters.
pub mod flags {
    /// OI: inherited by child objects (files).
    pub const OBJECT_INHERIT: u8 = 0x01;
    /// CI: inherited by child containers (folders, keys).
    pub const CONTAINER_INHERIT: u8 = 0x02;
    /// NP: inheritance stops after one level.
    pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
    /// IO: applies only to children, not to this object.
    pub const INHERIT_ONLY: u8 = 0x08;
    /// ID: inherited from a parent rather than set here.
    pub const INHERITED: u8 = 0x10;
    /// Critical ACE (Windows 10+); SDDL has no letter for it.
    pub const CRITICAL: u8 = 0x20;
    /// SA: audit successful access.
    pub const SUCCESSFUL_ACCESS: u8 = 0x40;
    /// FA: audit failed access.
    pub const FAILED_ACCESS: u8 = 0x80;
}

/// Every ACE type MS-DTYP defines (2.4.4.1), except the reserved compound type 0x04.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AceType {
    /// A: ACCESS_ALLOWED_ACE.
    AccessAllowed = 0x00,
    /// D: ACCESS_DENIED_ACE.
    AccessDenied = 0x01,
    /// AU: SYSTEM_AUDIT_ACE.
    SystemAudit = 0x02,
    /// AL: SYSTEM_ALARM_ACE.
    SystemAlarm = 0x03,
    /// OA: ACCESS_ALLOWED_OBJECT_ACE.
    AccessAllowedObject = 0x05,
    /// OD: ACCESS_DENIED_OBJECT_ACE.
    AccessDeniedObject = 0x06,
    /// OU: SYSTEM_AUDIT_OBJECT_ACE.
    SystemAuditObject = 0x07,
    /// OL: SYSTEM_ALARM_OBJECT_ACE.
    SystemAlarmObject = 0x08,
    /// XA: ACCESS_ALLOWED_CALLBACK_ACE (conditional).
    AccessAllowedCallback = 0x09,
    /// XD: ACCESS_DENIED_CALLBACK_ACE (conditional).
    AccessDeniedCallback = 0x0A,
    /// ZA: ACCESS_ALLOWED_CALLBACK_OBJECT_ACE.
    AccessAllowedCallbackObject = 0x0B,
    /// ACCESS_DENIED_CALLBACK_OBJECT_ACE (no SDDL letters; written as 0x0C).
    AccessDeniedCallbackObject = 0x0C,
    /// XU: SYSTEM_AUDIT_CALLBACK_ACE.
    SystemAuditCallback = 0x0D,
    /// SYSTEM_ALARM_CALLBACK_ACE (no SDDL letters; written as 0x0E).
    SystemAlarmCallback = 0x0E,
    /// SYSTEM_AUDIT_CALLBACK_OBJECT_ACE (no SDDL letters; written as 0x0F).
    SystemAuditCallbackObject = 0x0F,
    /// SYSTEM_ALARM_CALLBACK_OBJECT_ACE (no SDDL letters; written as 0x10).
    SystemAlarmCallbackObject = 0x10,
    /// ML: SYSTEM_MANDATORY_LABEL_ACE.
    SystemMandatoryLabel = 0x11,
    /// RA: SYSTEM_RESOURCE_ATTRIBUTE_ACE.
    SystemResourceAttribute = 0x12,
    /// SP: SYSTEM_SCOPED_POLICY_ID_ACE.
    SystemScopedPolicyId = 0x13,
    /// TL: SYSTEM_PROCESS_TRUST_LABEL_ACE.
    SystemProcessTrustLabel = 0x14,
    /// FL: SYSTEM_ACCESS_FILTER_ACE.
    SystemAccessFilter = 0x15,
}

impl AceType {
    /// The type for a type byte, if MS-DTYP defines it.
    pub fn from_u8(value: u8) -> Option<AceType> {
        use AceType::*;
        Some(match value {
            0x00 => AccessAllowed,
            0x01 => AccessDenied,
            0x02 => SystemAudit,
            0x03 => SystemAlarm,
            0x05 => AccessAllowedObject,
            0x06 => AccessDeniedObject,
            0x07 => SystemAuditObject,
            0x08 => SystemAlarmObject,
            0x09 => AccessAllowedCallback,
            0x0A => AccessDeniedCallback,
            0x0B => AccessAllowedCallbackObject,
            0x0C => AccessDeniedCallbackObject,
            0x0D => SystemAuditCallback,
            0x0E => SystemAlarmCallback,
            0x0F => SystemAuditCallbackObject,
            0x10 => SystemAlarmCallbackObject,
            0x11 => SystemMandatoryLabel,
            0x12 => SystemResourceAttribute,
            0x13 => SystemScopedPolicyId,
            0x14 => SystemProcessTrustLabel,
            0x15 => SystemAccessFilter,
            _ => return None,
        })
    }

    /// Whether the body carries object flags and optional object GUIDs.
    pub fn is_object(self) -> bool {
        matches!(self as u8, 0x05..=0x08 | 0x0B | 0x0C | 0x0F | 0x10)
    }

    /// Whether the trailing bytes are a callback's application data (a conditional expression).
    pub fn is_callback(self) -> bool {
        matches!(self as u8, 0x09..=0x10)
    }

    /// Whether the ACE belongs in a SACL rather than a DACL.
    pub fn is_system(self) -> bool {
        !matches!(self as u8, 0x00 | 0x01 | 0x05 | 0x06 | 0x09..=0x0C)
    }

    /// Whether the ACE denies access.
    pub fn is_deny(self) -> bool {
        matches!(self as u8, 0x01 | 0x06 | 0x0A | 0x0C)
    }
}

/// Object ACE flag: the ObjectType GUID is present.
const OBJECT_TYPE_PRESENT: u32 = 1;
/// Object ACE flag: the InheritedObjectType GUID is present.
const INHERITED_OBJECT_TYPE_PRESENT: u32 = 2;

/// One access control entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ace {
    /// What kind of entry this is.
    pub ace_type: AceType,
    /// Inheritance and audit flags (see [`flags`]).
    pub flags: u8,
    /// The access mask.
    pub mask: u32,
    /// Object ACEs: the property, property set, child class or extended right it applies to.
    pub object_type: Option<Guid>,
    /// Object ACEs: the child class that inherits it.
    pub inherited_object_type: Option<Guid>,
    /// The trustee.
    pub sid: Sid,
    /// Bytes after the SID inside the ACE: the conditional expression of a callback ACE, the
    /// claim of a resource attribute ACE, or trailing bytes of any other ACE (kept so that an
    /// unchanged ACE is written back byte for byte).
    pub data: Vec<u8>,
}

impl Ace {
    /// An ACE of `ace_type` with `flags` and `mask` for `sid`, without object GUIDs or data.
    pub fn new(ace_type: AceType, flags: u8, mask: u32, sid: Sid) -> Ace {
        Ace {
            ace_type,
            flags,
            mask,
            object_type: None,
            inherited_object_type: None,
            sid,
            data: Vec::new(),
        }
    }

    /// Whether the ACE was inherited from a parent (the ID flag).
    pub fn is_inherited(&self) -> bool {
        self.flags & flags::INHERITED != 0
    }

    /// The size of the binary form.
    pub fn binary_len(&self) -> usize {
        let object = if self.ace_type.is_object() {
            4 + 16
                * (self.object_type.is_some() as usize
                    + self.inherited_object_type.is_some() as usize)
        } else {
            0
        };
        8 + object + self.sid.binary_len() + self.data.len()
    }

    /// Reads one ACE from the start of `bytes` (`base` is its offset, for error messages).
    pub(crate) fn read(bytes: &[u8], base: usize) -> Result<(Ace, usize)> {
        let err = |at: usize, reason: &'static str| Error::Binary {
            offset: base + at,
            reason,
        };
        if bytes.len() < 8 {
            return Err(err(0, "an ACE needs at least 8 bytes"));
        }
        let ace_type = AceType::from_u8(bytes[0]).ok_or_else(|| err(0, "unknown ACE type"))?;
        let ace_flags = bytes[1];
        let size = u16::from_le_bytes([bytes[2], bytes[3]]) as usize;
        if size < 8 || size > bytes.len() {
            return Err(err(2, "the ACE size does not fit its ACL"));
        }
        let body = &bytes[..size];
        let mask = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
        let mut at = 8;
        let mut object_type = None;
        let mut inherited_object_type = None;
        if ace_type.is_object() {
            let object_flags = body
                .get(8..12)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| err(8, "the object ACE is cut short"))?;
            if object_flags & !3 != 0 {
                return Err(err(8, "unknown object ACE flags"));
            }
            at = 12;
            if object_flags & OBJECT_TYPE_PRESENT != 0 {
                object_type = Some(
                    Guid::read(&body[at..])
                        .ok_or_else(|| err(at, "the object type GUID is cut short"))?,
                );
                at += 16;
            }
            if object_flags & INHERITED_OBJECT_TYPE_PRESENT != 0 {
                inherited_object_type = Some(
                    Guid::read(&body[at..])
                        .ok_or_else(|| err(at, "the inherited object type GUID is cut short"))?,
                );
                at += 16;
            }
        }
        let (sid, used) = Sid::from_bytes_prefix(&body[at..])
            .map_err(|_| err(at, "the ACE's SID is malformed"))?;
        at += used;
        let ace = Ace {
            ace_type,
            flags: ace_flags,
            mask,
            object_type,
            inherited_object_type,
            sid,
            data: body[at..].to_vec(),
        };
        Ok((ace, size))
    }

    /// Appends the binary form; the caller has checked that the size fits 16 bits.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(self.ace_type as u8);
        out.push(self.flags);
        out.extend_from_slice(&(self.binary_len() as u16).to_le_bytes());
        out.extend_from_slice(&self.mask.to_le_bytes());
        if self.ace_type.is_object() {
            let object_flags = if self.object_type.is_some() {
                OBJECT_TYPE_PRESENT
            } else {
                0
            } | if self.inherited_object_type.is_some() {
                INHERITED_OBJECT_TYPE_PRESENT
            } else {
                0
            };
            out.extend_from_slice(&object_flags.to_le_bytes());
            if let Some(g) = self.object_type {
                out.extend_from_slice(&g.to_bytes_le());
            }
            if let Some(g) = self.inherited_object_type {
                out.extend_from_slice(&g.to_bytes_le());
            }
        }
        self.sid.write_bytes(out);
        out.extend_from_slice(&self.data);
    }
}
