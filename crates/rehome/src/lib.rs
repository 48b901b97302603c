//! The parts of the `rehome` binary that its tests use too: the demo's directories and set-up,
//! and the fleet of simulated agents.

pub mod demo;
pub mod fleet;
