//! What an outside probe of the server found, kept fixed: sign-in under load and attack, login
//! CSRF, log injection, the password policy, agent bodies, and the other hardening. One module
//! per area under `security/`.

mod admin_bodies;
mod agent_bodies;
mod audit;
mod connections;
mod data_files;
mod failed_communications;
mod headers;
mod login;
mod registrations;
mod slow_clients;
mod tenant_admins;
