//! The simulated file system and the other areas' securable objects: descriptors kept in the
//! descriptor log, files listed, moved, freed to the cloud and removed, and the environment the
//! Areas to Ignore expand. The `Workstation` implementation calls these.

use model::runbook::Area;
use secdesc::SecurityDescriptor;

use super::{SimWorkstation, DACL_BITS, SACL_BITS};
use crate::workstation::{
    SecurityParts, FILE_ATTRIBUTE_PINNED, FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS,
    FILE_ATTRIBUTE_UNPINNED,
};
use crate::{fsutil, Error, Result};
use model::protocol::sha256_hex;

/// The folder, beside `workstation.json`, that keeps file contents by their SHA-256.
pub const CONTENTS_DIR: &str = "contents";
/// What a file the agent creates gets: the permissions it inherits under `C:\ProgramData` or
/// a profile folder (SYSTEM and Administrators, full control).
const NEW_FILE_SDDL: &str = "O:BAG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)";

impl SimWorkstation {
    /// Refuses a UNC path whose share is not connected, as Windows answers ERROR_NOT_CONNECTED
    /// (or access denied) without credentials for it.
    fn reachable(&self, path: &str) -> Result<()> {
        if !path.starts_with("\\\\") {
            return Ok(());
        }
        let lower = path.to_lowercase();
        let connected = self
            .shares
            .iter()
            .any(|share| lower == *share || lower.starts_with(&format!("{}\\", share)));
        if connected {
            Ok(())
        } else {
            Err(Error::Device(format!(
                "{} is on a share this device is not connected to",
                path
            )))
        }
    }

    pub(super) fn sim_connect_share(
        &mut self,
        unc: &str,
        account: &str,
        password: &str,
    ) -> Result<()> {
        self.require("connect_share")?;
        if account.is_empty() || password.is_empty() {
            return Err(Error::Device(format!(
                "connecting to {} needs an account and its password",
                unc
            )));
        }
        let share = unc.trim_end_matches('\\').to_lowercase();
        let host_share: Vec<&str> = share.trim_start_matches('\\').split('\\').collect();
        let known = self
            .state
            .files
            .keys()
            .any(|p| p.to_lowercase().starts_with(&share));
        if host_share.len() < 2 || !known {
            return Err(Error::Device(format!(
                "the network path {} was not found (ERROR_BAD_NETPATH)",
                unc
            )));
        }
        self.shares.insert(share);
        Ok(())
    }

    pub(super) fn sim_disconnect_share(&mut self, unc: &str) -> Result<()> {
        self.shares
            .remove(&unc.trim_end_matches('\\').to_lowercase());
        Ok(())
    }

    pub(super) fn sim_securable_objects(&self, area: Area) -> Result<Vec<String>> {
        if area == Area::FileSystem {
            // Local volumes only: the shares of other hosts are not this device's file system.
            let mut listed: Vec<String> = self
                .state
                .files
                .keys()
                .filter(|p| !p.starts_with("\\\\"))
                .cloned()
                .collect();
            // Listed while they still existed, deleted before the walk reached them.
            listed.extend(self.faults.vanished_files.iter().cloned());
            return Ok(listed);
        }
        let prefix = SimWorkstation::object_key(area, "")?;
        Ok(self
            .state
            .area_objects
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(str::to_string)
            .collect())
    }

    pub(super) fn sim_read_descriptor(&self, area: Area, object: &str) -> Result<Vec<u8>> {
        self.reachable(object)?;
        let found = if area == Area::FileSystem {
            self.state.files.get(object)
        } else {
            self.descriptor_at(&SimWorkstation::object_key(area, object)?)
        };
        found
            .cloned()
            .ok_or_else(|| Error::NotFound(object.to_string()))
    }

    pub(super) fn sim_write_descriptor(
        &mut self,
        area: Area,
        object: &str,
        descriptor: &[u8],
        parts: SecurityParts,
    ) -> Result<()> {
        self.reachable(object)?;
        let key = SimWorkstation::object_key(area, object)?;
        let current = self
            .descriptor_at(&key)
            .ok_or_else(|| Error::NotFound(object.to_string()))?;
        let mut sd = SecurityDescriptor::from_bytes(current)?;
        let new = SecurityDescriptor::from_bytes(descriptor)?;
        // SetNamedSecurityInfoW replaces the parts it is given and keeps the others.
        if parts.owner {
            sd.owner = new.owner;
        }
        if parts.group {
            sd.group = new.group;
        }
        if parts.dacl {
            sd.dacl = new.dacl;
            sd.control = (sd.control & !DACL_BITS) | (new.control & DACL_BITS);
        }
        if parts.sacl {
            sd.sacl = new.sacl;
            sd.control = (sd.control & !SACL_BITS) | (new.control & SACL_BITS);
        }
        let bytes = sd.to_bytes();
        self.log.append(&key, Some(&bytes))?;
        let slot = if key.contains('|') {
            self.state.area_objects.get_mut(&key)
        } else {
            self.state.files.get_mut(&key)
        };
        if let Some(slot) = slot {
            *slot = bytes;
        }
        self.writes += 1;
        if self.faults.crash_after_writes == Some(self.writes) {
            self.log.flush()?;
            panic!("simulated crash after {} descriptor writes", self.writes);
        }
        Ok(())
    }

    pub(super) fn sim_environment_variable(&self, name: &str) -> Result<Option<String>> {
        let value = match name.to_ascii_lowercase().as_str() {
            "systemroot" | "windir" => "C:\\Windows",
            "systemdrive" => "C:",
            "programfiles" => "C:\\Program Files",
            "programfiles(x86)" => "C:\\Program Files (x86)",
            "programdata" | "allusersprofile" => "C:\\ProgramData",
            "public" => "C:\\Users\\Public",
            _ => return Ok(None),
        };
        Ok(Some(value.to_string()))
    }

    pub(super) fn sim_remove_tree(&mut self, path: &str) -> Result<usize> {
        self.require("remove_tree")?;
        let root = path.trim_end_matches('\\').to_lowercase();
        let prefix = format!("{}\\", root);
        let gone: Vec<String> = self
            .state
            .files
            .keys()
            .filter(|p| {
                let p = p.to_lowercase();
                p == root || p.starts_with(&prefix)
            })
            .cloned()
            .collect();
        for path in &gone {
            self.state.files.remove(path);
            self.state.file_attributes.remove(path);
            self.state.out_of_sync.remove(path);
            self.state.file_contents.remove(path);
            self.log.append(path, None)?;
        }
        if !gone.is_empty() {
            self.save()?;
        }
        Ok(gone.len())
    }

    pub(super) fn sim_list_files(&self, folder: &str) -> Result<Vec<String>> {
        self.require("list_files")?;
        self.reachable(folder)?;
        let prefix = format!("{}\\", folder.trim_end_matches('\\')).to_lowercase();
        Ok(self
            .state
            .files
            .keys()
            .filter(|p| p.to_lowercase().starts_with(&prefix))
            .cloned()
            .collect())
    }

    pub(super) fn sim_file_attributes(&self, path: &str) -> Result<Option<u32>> {
        self.require("file_attributes")?;
        Ok(self
            .state
            .files
            .contains_key(path)
            .then(|| self.state.file_attributes.get(path).copied().unwrap_or(0)))
    }

    pub(super) fn sim_dehydrate(&mut self, path: &str) -> Result<bool> {
        self.require("dehydrate")?;
        if !self.state.files.contains_key(path) {
            return Err(Error::NotFound(path.to_string()));
        }
        if self.state.out_of_sync.contains(path) {
            return Ok(false);
        }
        let attributes = self
            .state
            .file_attributes
            .entry(path.to_string())
            .or_insert(0);
        let cloud_only = (*attributes & !FILE_ATTRIBUTE_PINNED)
            | FILE_ATTRIBUTE_UNPINNED
            | FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS;
        if *attributes == cloud_only {
            return Ok(false);
        }
        *attributes = cloud_only;
        self.save()?;
        Ok(true)
    }

    pub(super) fn sim_move_file(&mut self, from: &str, to: &str) -> Result<()> {
        self.require("move_file")?;
        if self.state.files.contains_key(to) {
            return Err(Error::Device(format!(
                "cannot move {} to {}: a file is there (ERROR_ALREADY_EXISTS)",
                from, to
            )));
        }
        let descriptor = self
            .state
            .files
            .remove(from)
            .ok_or_else(|| Error::NotFound(from.to_string()))?;
        // The new name first: a crash between the two records leaves the file in both places,
        // never in neither.
        self.log.append(to, Some(&descriptor))?;
        self.log.append(from, None)?;
        self.state.files.insert(to.to_string(), descriptor);
        if let Some(attributes) = self.state.file_attributes.remove(from) {
            self.state
                .file_attributes
                .insert(to.to_string(), attributes);
        }
        if self.state.out_of_sync.remove(from) {
            self.state.out_of_sync.insert(to.to_string());
        }
        if let Some(content) = self.state.file_contents.remove(from) {
            self.state.file_contents.insert(to.to_string(), content);
        }
        self.save()?;
        self.moves += 1;
        if self.faults.crash_after_moves == Some(self.moves) {
            panic!("simulated crash after {} moves", self.moves);
        }
        Ok(())
    }

    /// Where the bytes hashing to `sha256` are kept.
    fn content_path(&self, sha256: &str) -> std::path::PathBuf {
        self.dir.join(CONTENTS_DIR).join(sha256)
    }

    pub(super) fn sim_read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        self.require("read_file")?;
        self.reachable(path)?;
        if !self.state.files.contains_key(path) {
            return Ok(None);
        }
        match self.state.file_contents.get(path) {
            Some(sha256) => {
                let at = self.content_path(sha256);
                fsutil::read_optional(&at)?.map(Some).ok_or(Error::Corrupt {
                    path: at,
                    reason: format!("the content of {} is missing", path),
                })
            }
            None => Ok(Some(Vec::new())),
        }
    }

    pub(super) fn sim_write_file(&mut self, path: &str, bytes: &[u8]) -> Result<bool> {
        self.require("write_file")?;
        self.reachable(path)?;
        let sha256 = sha256_hex(bytes);
        let exists = self.state.files.contains_key(path);
        if exists && self.state.file_contents.get(path) == Some(&sha256) {
            return Ok(false);
        }
        // The bytes first, under their hash: the state that names them is saved after.
        let at = self.content_path(&sha256);
        if fsutil::read_optional(&at)?.is_none() {
            fsutil::create_dir(&self.dir.join(CONTENTS_DIR))?;
            fsutil::write_atomic(&at, bytes, false)?;
        }
        if !exists {
            let descriptor = SecurityDescriptor::from_sddl(NEW_FILE_SDDL, None)?.to_bytes();
            self.log.append(path, Some(&descriptor))?;
            self.state.files.insert(path.to_string(), descriptor);
        }
        self.state.file_contents.insert(path.to_string(), sha256);
        self.save()?;
        Ok(true)
    }
}
