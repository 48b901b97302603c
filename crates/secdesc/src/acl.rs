//! Access control lists: the model and the MS-DTYP binary form (2.4.5).

use crate::ace::Ace;
use crate::{Error, Result};

/// ACL_REVISION: ACLs without object ACEs.
pub const ACL_REVISION: u8 = 2;
/// ACL_REVISION_DS: ACLs that may hold object ACEs.
pub const ACL_REVISION_DS: u8 = 4;
/// The largest ACL the 16-bit size field can describe.
pub const MAX_ACL_SIZE: usize = u16::MAX as usize;

/// An access control list: a revision and ordered ACEs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Acl {
    /// 2 ([`ACL_REVISION`]) or 4 ([`ACL_REVISION_DS`], needed for object ACEs).
    pub revision: u8,
    /// The entries, in order.
    pub aces: Vec<Ace>,
    /// Bytes after the last ACE up to the declared ACL size. Windows leaves free space in some
    /// ACLs; it is kept so that an unchanged ACL is written back byte for byte.
    pub slack: Vec<u8>,
}

impl Acl {
    /// An empty ACL of the given revision.
    pub fn new(revision: u8) -> Acl {
        Acl {
            revision,
            aces: Vec::new(),
            slack: Vec::new(),
        }
    }

    /// The size of the binary form.
    pub fn binary_len(&self) -> usize {
        8 + self.aces.iter().map(Ace::binary_len).sum::<usize>() + self.slack.len()
    }

    /// The smallest revision that can hold these ACEs: 4 if any is an object ACE, else 2.
    pub fn minimum_revision(&self) -> u8 {
        if self.aces.iter().any(|a| a.ace_type.is_object()) {
            ACL_REVISION_DS
        } else {
            ACL_REVISION
        }
    }

    /// Checks that the binary form fits its 16-bit size and count fields.
    pub fn check_size(&self, which: &'static str) -> Result<()> {
        let size = self.binary_len();
        let too_big_ace = self.aces.iter().any(|a| a.binary_len() > u16::MAX as usize);
        if size > MAX_ACL_SIZE || self.aces.len() > u16::MAX as usize || too_big_ace {
            return Err(Error::AclTooLarge {
                acl: which,
                size,
                count: self.aces.len(),
            });
        }
        Ok(())
    }

    /// Reads an ACL from the start of `bytes` (`base` is its offset, for error messages) and
    /// returns it with its declared size.
    pub(crate) fn read(bytes: &[u8], base: usize) -> Result<(Acl, usize)> {
        let err = |at: usize, reason: &'static str| Error::Binary {
            offset: base + at,
            reason,
        };
        if bytes.len() < 8 {
            return Err(err(0, "an ACL header needs 8 bytes"));
        }
        let revision = bytes[0];
        if !(2..=4).contains(&revision) {
            return Err(err(0, "the ACL revision is not 2, 3 or 4"));
        }
        if bytes[1] != 0 || bytes[6] != 0 || bytes[7] != 0 {
            return Err(err(1, "reserved ACL header bytes are not zero"));
        }
        let size = u16::from_le_bytes([bytes[2], bytes[3]]) as usize;
        let count = u16::from_le_bytes([bytes[4], bytes[5]]) as usize;
        if size < 8 || size > bytes.len() {
            return Err(err(2, "the ACL size runs past the end of the descriptor"));
        }
        let body = &bytes[..size];
        // Each ACE takes at least 8 bytes: a cheap bound that also caps the allocation.
        if count > (size - 8) / 8 {
            return Err(err(4, "more ACEs than fit the ACL size"));
        }
        let mut aces = Vec::with_capacity(count);
        let mut at = 8;
        for _ in 0..count {
            let (ace, used) = Ace::read(&body[at..], base + at)?;
            aces.push(ace);
            at += used;
        }
        Ok((
            Acl {
                revision,
                aces,
                slack: body[at..].to_vec(),
            },
            size,
        ))
    }

    /// Appends the binary form; the caller has checked [`Acl::check_size`].
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(self.revision);
        out.push(0);
        out.extend_from_slice(&(self.binary_len() as u16).to_le_bytes());
        out.extend_from_slice(&(self.aces.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        for ace in &self.aces {
            ace.write(out);
        }
        out.extend_from_slice(&self.slack);
    }
}
