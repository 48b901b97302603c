//! The rehome control plane: the admin JSON API under `/api/v1/`, the web console at `/`, the agent
//! API under `/agent/`, all on one port, over a store on SQLite or PostgreSQL.

pub mod agent_api;
pub mod api;
mod app;
pub mod audit;
pub mod auth;
pub mod console;
pub mod csv_export;
pub mod directory;
pub mod enrollment;
mod error;
pub mod jobs;
pub mod licences;
pub mod limits;
pub mod listener;
pub mod lock_screen;
pub mod metrics;
pub mod migration;
pub mod packages;
pub mod secrets;
pub mod serve;
pub mod sleeper;
pub mod store;

pub use app::{router, App, Settings};
pub use error::{Error, Result, Upstream};
