//! What an outside probe of the server found, kept fixed: sign-in under load and attack, login
//! CSRF, log injection, the password policy, agent bodies, and the other hardening. One module
//! per area under `security/`.

mod login;
mod agent_bodies;
mod connections;
mod tenant_admins;
mod slow_clients;
mod failed_communications;
mod data_files;
mod headers;
