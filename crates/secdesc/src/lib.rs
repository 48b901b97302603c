//! Security identifiers, access control lists and security descriptors as Windows defines them
//! (MS-DTYP), in both the self-relative binary form and SDDL, and the SID translation rewrite that
//! re-permissions a migrated workstation. Pure: no I/O.

mod error;
mod sid;

pub use error::{Error, Result};
pub use sid::Sid;
