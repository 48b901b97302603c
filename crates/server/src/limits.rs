//! What the server allows at once or per address, held by the [`crate::App`]: the password gate
//! (memory and cores spent on Argon2), failed sign-ins and refused agent registrations per client
//! address, and the agent bodies being read.

use chrono::Duration;

use crate::agent_api::uploads::UploadGate;
use crate::auth::gate::PasswordGate;
use crate::auth::throttle::AddressThrottle;

/// Failed sign-ins one client address may make in [`sign_in_window`] before its further attempts
/// are refused without being checked.
pub const SIGN_IN_FAILURES_PER_ADDRESS: u32 = 20;
/// Refused agent registrations one client address may cause in [`registration_window`] before
/// its further registrations are refused without being checked or recorded.
pub const REFUSED_REGISTRATIONS_PER_ADDRESS: u32 = 60;

/// The window of [`SIGN_IN_FAILURES_PER_ADDRESS`].
pub fn sign_in_window() -> Duration {
    Duration::minutes(15)
}

/// The window of [`REFUSED_REGISTRATIONS_PER_ADDRESS`].
pub fn registration_window() -> Duration {
    Duration::minutes(10)
}

/// The server's limits; see the module documentation.
#[derive(Debug)]
pub struct Limits {
    /// Password hashing and checking.
    pub passwords: PasswordGate,
    /// Failed sign-ins per client address.
    pub sign_in_failures: AddressThrottle,
    /// Refused agent registrations per client address.
    pub refused_registrations: AddressThrottle,
    /// Agent request bodies larger than a registration, being read at once.
    pub uploads: UploadGate,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            passwords: PasswordGate::default(),
            sign_in_failures: AddressThrottle::new(SIGN_IN_FAILURES_PER_ADDRESS, sign_in_window()),
            refused_registrations: AddressThrottle::new(
                REFUSED_REGISTRATIONS_PER_ADDRESS,
                registration_window(),
            ),
            uploads: UploadGate::default(),
        }
    }
}
