//! Command packages: a zip with `cmdline.cmd` at its root. Before a workstation unpacks one, its
//! entry names are read from the zip's central directory and checked against the rules Windows
//! applies to paths ([`model::package_entry`], the same rules the server applies on upload), so no
//! entry can land outside the package's folder.

use model::package_entry::{entry_problem, zip_entry_names};

use crate::{Error, Result};

/// The script a package runs, at its root.
pub const SCRIPT: &str = "cmdline.cmd";

/// The entry names of `zip`, from its central directory.
pub fn entries(name: &str, zip: &[u8]) -> Result<Vec<String>> {
    zip_entry_names(zip).map_err(|why| {
        Error::Device(format!(
            "the command package {} cannot be unpacked: {}",
            name, why
        ))
    })
}

/// Checks every entry of the package `name` and that `cmdline.cmd` is at its root; returns the
/// entries.
pub fn check(name: &str, zip: &[u8]) -> Result<Vec<String>> {
    let entries = entries(name, zip)?;
    for entry in &entries {
        if let Some(why) = entry_problem(entry) {
            return Err(Error::Device(format!(
                "the command package {} is refused: its entry {:?} {}",
                name, entry, why
            )));
        }
    }
    if !entries.iter().any(|e| e.eq_ignore_ascii_case(SCRIPT)) {
        return Err(Error::Device(format!(
            "the command package {} has no {} at its root",
            name, SCRIPT
        )));
    }
    Ok(entries)
}
