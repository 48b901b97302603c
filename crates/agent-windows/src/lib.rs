//! The rehome agent on Windows, `rehome-agent.exe`: a service running as LocalSystem that
//! registers with the server, checks in and carries out runbooks through the Win32 primitives of
//! [`win::workstation::WindowsWorkstation`]. The portable parts (command line, registry key
//! names, SMBIOS, time zone names) build and are tested everywhere; the Win32 edge only on
//! Windows. Builds with Rust 1.63, the toolchain that cross-builds it.

pub mod cli;
pub mod keys;
pub mod pipe;
pub mod smbios;
pub mod time_zones;
pub mod transport;
pub mod tray;
#[cfg(windows)]
pub mod win;

/// The agent's version, as `rehome-agent version` and the executable's version information
/// give it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
