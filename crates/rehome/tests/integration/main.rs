//! End-to-end tests: a real server (on the backend chosen by `REHOME_TEST_DATABASE`) on a
//! loopback port, and real agents on simulated workstations talking to it over HTTP.

mod browser;
mod cli;
mod directories;
mod failover;
mod faults;
mod fleet;
mod hybrid;
mod licences;
mod lock_screen;
mod migration;
mod refusals;
mod retry;
mod scenarios;
mod skew;
mod support;
