//! The tray starts in every user's session at sign-in: `rehome-agent.exe tray` under the
//! machine's Run key, written by `install` (the MSI writes the same value) and removed by
//! `uninstall`.

use agent::{RegValue, Result};

use crate::keys::KeyName;
use crate::win::registry;

/// The machine's Run key.
pub const RUN_KEY: &str = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run";
/// The value naming the tray in it.
pub const RUN_VALUE: &str = "RehomeTray";

fn run_key() -> KeyName {
    KeyName::parse(RUN_KEY).expect("a fixed key name")
}

/// The command line that starts the tray of `exe`.
pub fn command(exe: &str) -> String {
    format!("\"{}\" tray", exe)
}

/// Starts the tray of `exe` at every sign-in.
pub fn register(exe: &str) -> Result<()> {
    registry::create(&run_key(), registry::WRITE)?.set_value(RUN_VALUE, &RegValue::Sz(command(exe)))
}

/// Stops starting the tray at sign-in; true when it was registered.
pub fn unregister() -> Result<bool> {
    registry::delete_value(&run_key(), RUN_VALUE)
}
