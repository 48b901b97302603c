//! The rehome agent: registers with the server, checks in, runs a runbook's phases step by step
//! through a durable journal on a [`Workstation`](workstation::Workstation), translates the SIDs it
//! finds there, and uploads its events from an on-disk spool.
//!
//! The agent is synchronous (threads, no async runtime) and builds with Rust 1.63, so it can be
//! cross-built for Windows with a distribution's toolchain.
//!
//! ```no_run
//! let config = agent::AgentConfig::new("http://127.0.0.1:5000", "psk…", "/tmp/pc-001");
//! let exit = agent::run(&config).expect("agent");
//! println!("{:?}", exit);
//! ```

pub mod client;
mod error;
mod fsutil;
pub mod journal;
pub mod package;
pub mod permissions;
pub mod preview;
pub mod readiness;
pub mod run;
pub mod sim;
pub mod spool;
pub mod tls;
pub mod verify;
pub mod workstation;

pub use error::{Error, Result};
pub use run::{run, Agent, AgentConfig, Exit, Signal, Sleeper, ThreadSleeper};
pub use sim::{SimFaults, SimSpec, SimState, SimUser, SimWorkstation};
pub use workstation::{
    BitLockerStatus, CommandOutcome, Effect, EnteredCredentials, Facts, RegValue, SecurityParts,
    TaskLogon, TaskPrincipal, Workstation,
};
