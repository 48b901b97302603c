//! Windows Hello containers: one folder per enrolled user under the NGC store,
//! `%SystemRoot%\ServiceProfiles\LocalService\AppData\Local\Microsoft\Ngc\{…}`, whose `1.dat`
//! names the user's SID (UTF-16). A PIN or biometric enrolled for the old identity cannot sign in
//! the new one, so every container goes and each user enrols again at their next sign-in (what
//! `certutil -DeleteHelloContainer` does in a user's own session, for all users at once from the
//! service).

use std::path::{Path, PathBuf};

use agent::{Effect, Error, Result};

use super::system;

/// The NGC store under `%SystemRoot%`.
pub const NGC: &str = "ServiceProfiles\\LocalService\\AppData\\Local\\Microsoft\\Ngc";

/// The NGC store of this device.
pub fn store() -> Result<PathBuf> {
    Ok(Path::new(&system::expand("%SystemRoot%")?).join(NGC))
}

/// The SID a container's `1.dat` names, as text.
fn owner(container: &Path) -> Option<String> {
    let bytes = std::fs::read(container.join("1.dat")).ok()?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16_lossy(&units);
    let sid = text.trim_end_matches('\0').trim();
    if sid.starts_with("S-1-") {
        Some(sid.to_string())
    } else {
        None
    }
}

/// The containers of `store`: folder, owner's SID when `1.dat` names it.
pub fn containers(store: &Path) -> Result<Vec<(PathBuf, Option<String>)>> {
    let entries = match std::fs::read_dir(store) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Io {
                what: "listing the Windows Hello containers in",
                path: store.to_path_buf(),
                source: e,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io {
            what: "listing the Windows Hello containers in",
            path: store.to_path_buf(),
            source: e,
        })?;
        let path = entry.path();
        if path.is_dir() {
            let sid = owner(&path);
            out.push((path, sid));
        }
    }
    out.sort();
    Ok(out)
}

/// Removes every container of `store`.
pub fn reset(store: &Path) -> Result<Effect> {
    let found = containers(store)?;
    if found.is_empty() {
        return Ok(Effect::unchanged(
            "no Windows Hello container on the device",
        ));
    }
    let mut owners = Vec::new();
    for (path, sid) in &found {
        std::fs::remove_dir_all(path).map_err(|e| Error::Io {
            what: "removing the Windows Hello container",
            path: path.clone(),
            source: e,
        })?;
        owners.push(sid.clone().unwrap_or_else(|| "an unknown user".to_string()));
    }
    Ok(Effect::changed(
        found.len(),
        format!(
            "removed {} Windows Hello container(s) ({}): each user enrols again at the next sign-in",
            found.len(),
            owners.join(", ")
        ),
    ))
}
