//! The parts of the `rehome` binary that its tests use too: the demo's directories and set-up,
//! the fleet of simulated agents, and the database outage the fault tests and benchmark make.

pub mod demo;
pub mod fleet;
pub mod outage;
