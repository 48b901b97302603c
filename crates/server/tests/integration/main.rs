//! The server's integration tests, in one test binary. Each runs on the backend chosen by
//! `REHOME_TEST_DATABASE` (SQLite when unset; a `postgres://…` URL for PostgreSQL).

mod agent_api;
mod api;
mod auth;
mod batch_devices;
mod batches;
mod connections;
mod console;
mod console_actions;
mod console_areas;
mod console_capped;
mod console_deep_pages;
mod console_provisioning;
mod console_reports;
mod directory;
mod enrollment;
mod events;
mod export;
mod export_graph;
mod graph;
mod hybrid;
mod jobs;
mod ldap;
mod licences;
mod lock_screen;
mod matching_delta;
mod metrics;
mod openapi;
mod packages;
mod provisioning;
mod readiness;
mod readiness_pages;
mod secrets;
mod security;
mod support;
mod sync;
