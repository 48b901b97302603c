//! The parts of the `rehome` binary that its tests use too: the demo's directories, fleet and
//! set-up.

pub mod demo;
