//! Security identifiers, access control lists and security descriptors as Windows defines them
//! (MS-DTYP), in both the self-relative binary form and SDDL, and the SID translation rewrite that
//! re-permissions a migrated workstation. Pure: no I/O.
//!
//! ```
//! use secdesc::{SecurityDescriptor, Sid};
//! use secdesc::translate::{translate, SidMap, TranslateMode, TranslateOptions};
//!
//! let mut sd = SecurityDescriptor::from_sddl("O:BAG:SYD:PAI(A;OICI;FA;;;S-1-5-21-1-2-3-1001)", None).unwrap();
//! let map: SidMap = [("S-1-5-21-1-2-3-1001".parse().unwrap(), "S-1-12-1-1-2-3-4".parse().unwrap())]
//!     .into_iter()
//!     .collect();
//! let options = TranslateOptions { mode: TranslateMode::Replace, owner_and_group: false };
//! let changes = translate(&mut sd, &map, &options).unwrap();
//! assert_eq!(changes.len(), 1);
//! assert_eq!(sd.to_sddl(None), "O:BAG:SYD:PAI(A;OICI;FA;;;S-1-12-1-1-2-3-4)");
//! ```

/// Serializes a type as its `Display` text and reads it back with `FromStr`, so SIDs and GUIDs
/// travel as the strings engineers know.
macro_rules! serde_as_text {
    ($t:ty) => {
        #[cfg(feature = "serde")]
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(
                &self,
                serializer: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(
                deserializer: D,
            ) -> std::result::Result<$t, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod ace;
pub mod acl;
pub mod alias;
mod claims;
pub mod cli;
mod conditional;
pub mod descriptor;
mod error;
mod explain;
mod guid;
mod sddl;
mod sid;
pub mod translate;

pub use ace::{Ace, AceType};
pub use acl::Acl;
pub use alias::Domains;
pub use descriptor::SecurityDescriptor;
pub use error::{Error, Result};
pub use explain::explain;
pub use guid::Guid;
pub use sid::{Sid, MAX_SUB_AUTHORITIES};

impl SecurityDescriptor {
    /// Reads SDDL. Domain-relative aliases (DA, DU, …, and EA, SA, RO, EK) need `domain`.
    pub fn from_sddl(sddl: &str, domain: Option<&Sid>) -> Result<SecurityDescriptor> {
        sddl::parse(sddl, &Domains::single(domain))
    }

    /// Reads SDDL with a separate forest root domain for EA, SA, RO and EK.
    pub fn from_sddl_with(sddl: &str, domains: &Domains) -> Result<SecurityDescriptor> {
        sddl::parse(sddl, domains)
    }

    /// Writes SDDL as Windows does; SIDs of `domain` get their aliases (DA, DU, …). Anything SDDL
    /// cannot say (bytes after an ordinary ACE's SID) is left out; see [`Self::try_to_sddl`].
    pub fn to_sddl(&self, domain: Option<&Sid>) -> String {
        self.to_sddl_with(&Domains::single(domain))
    }

    /// [`Self::to_sddl`] with a separate forest root domain.
    pub fn to_sddl_with(&self, domains: &Domains) -> String {
        sddl::write(self, domains, false).unwrap_or_default()
    }

    /// Writes SDDL, or says what in the descriptor SDDL cannot express.
    pub fn try_to_sddl(&self, domains: &Domains) -> Result<String> {
        sddl::write(self, domains, true)
    }
}
