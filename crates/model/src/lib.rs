//! The types the rehome server and agent share: ids, directory objects, runbooks and batches with
//! their validation, the plan of steps a runbook becomes on a device, schedule rules as pure
//! functions of time, statuses, and the agent protocol with its signed and encrypted envelope.

pub mod assignment;
pub mod batch;
pub mod clock;
pub mod computer_list;
pub mod csv_guard;
pub mod directory;
pub mod envelope;
mod error;
pub mod html;
pub mod ids;
pub mod licence;
pub mod package_entry;
pub mod plan;
pub mod protocol;
pub mod readiness;
pub mod rename;
pub mod rules;
pub mod runbook;
pub mod schedule;
pub mod status;
pub mod translation;
pub mod visible;

pub use error::{Error, FieldError, Result, Validator};
