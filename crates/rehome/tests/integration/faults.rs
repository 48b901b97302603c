//! Faults, each with its figure of what was lost (the goal is nothing): the server process
//! SIGKILLed and started again, the database cut off and restored, the agent's disk full while it
//! spools events.

mod database;
mod disk;
mod kill;
