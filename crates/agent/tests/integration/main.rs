//! The agent against an in-process server that speaks the real protocol, on simulated
//! workstations, with a manual clock: whole migrations, crashes, lost uploads and backoffs run
//! in milliseconds.

mod actions;
mod app_files;
mod blocked;
mod credentials;
mod entra_join;
mod every_setting;
mod fake_server;
mod fleet;
mod gates;
mod http;
mod migration;
mod readiness;
mod registration;
mod requests;
mod restart;
mod resume;
mod run_as;
mod scenarios;
mod spool;
mod support;
mod timing;
mod user_choice;
mod verify;
mod wmi_namespaces;
