//! Identifier newtypes, so an agent id can never be passed where a runbook id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new random id.
            pub fn new() -> $name {
                $name(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> std::result::Result<$name, uuid::Error> {
                Uuid::parse_str(s).map($name)
            }
        }
    )*};
}

uuid_id! {
    /// A registered agent (one per device registration).
    AgentId,
    /// A runbook.
    RunbookId,
    /// A batch.
    BatchId,
    /// A source or target directory.
    DirectoryId,
    /// A pre-shared key.
    PskId,
    /// An agent certificate: the server's signing and encryption identity for agents.
    CertificateId,
    /// An admin console user.
    UserId,
    /// An object's GUID in its directory (objectGUID in AD, id in Entra).
    ObjectGuid,
    /// A licence, named by its issuer.
    LicenceId,
    /// A bulk enrollment token (BPRT) of an Entra directory.
    BulkTokenId,
    /// A sign-in under way that ends in a bulk enrollment token.
    EnrollmentFlowId,
}
