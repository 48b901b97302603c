//! The migration configuration and its reports, as the API, the console, the CLI and the demo use
//! them: runbooks and batches checked as a whole before anything is stored, the warnings a batch's
//! schedule and computer selection deserve, progress counts, and the PSKs and agent certificates
//! of agent registration. Nothing here knows HTTP; the handlers in [`crate::api`] are edges around
//! these functions.

pub mod agents;
pub mod batches;
pub mod device_plan;
pub mod keys;
pub mod offline_join;
pub mod progress;
pub mod readiness;
pub mod removal;
pub mod runbooks;
