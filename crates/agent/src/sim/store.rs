//! The simulated file system's descriptors, kept apart from `workstation.json` so a device with
//! hundreds of thousands of files never rewrites them all for one change: an append-only log of
//! `(path, self-relative descriptor)` records, replayed at open and compacted when it has grown to
//! several times what it holds.
//!
//! Record: path length (u32 LE), path (UTF-8), descriptor length (u32 LE, `u32::MAX` for a
//! removal), descriptor. A record torn by a crash is cut off at the next open.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::fsutil::{self, io_err};
use crate::{Error, Result};

/// The log's file name, inside the workstation's folder.
pub const DESCRIPTORS_FILE: &str = "descriptors.log";
const REMOVED: u32 = u32::MAX;
/// Appends are buffered up to this size between checkpoints.
const FLUSH_AT: usize = 4 << 20;

/// Path → descriptor, as the file system holds them.
pub type Descriptors = BTreeMap<String, Vec<u8>>;

/// The log of one workstation.
#[derive(Debug)]
pub struct DescriptorLog {
    path: PathBuf,
    pending: Vec<u8>,
}

fn record(out: &mut Vec<u8>, path: &str, descriptor: Option<&[u8]>) {
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    match descriptor {
        Some(d) => {
            out.extend_from_slice(&(d.len() as u32).to_le_bytes());
            out.extend_from_slice(d);
        }
        None => out.extend_from_slice(&REMOVED.to_le_bytes()),
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Replays `bytes`; returns the descriptors, the records read and where the last whole one ends.
fn replay(bytes: &[u8], file: &Path) -> Result<(Descriptors, usize, usize)> {
    let mut files = Descriptors::new();
    let (mut at, mut records) = (0, 0);
    while let Some(path_len) = read_u32(bytes, at) {
        let path_len = path_len as usize;
        let path = match bytes.get(at + 4..at + 4 + path_len) {
            Some(p) => p,
            None => break,
        };
        let len_at = at + 4 + path_len;
        let len = match read_u32(bytes, len_at) {
            Some(n) => n,
            None => break,
        };
        let path = String::from_utf8(path.to_vec()).map_err(|_| Error::Corrupt {
            path: file.to_path_buf(),
            reason: format!("the record at byte {} names a path that is not UTF-8", at),
        })?;
        if len == REMOVED {
            files.remove(&path);
            at = len_at + 4;
        } else {
            let end = len_at + 4 + len as usize;
            match bytes.get(len_at + 4..end) {
                Some(d) => {
                    files.insert(path, d.to_vec());
                }
                None => break,
            }
            at = end;
        }
        records += 1;
    }
    Ok((files, records, at))
}

impl DescriptorLog {
    /// The log of the workstation in `dir`.
    pub fn new(dir: &Path) -> DescriptorLog {
        DescriptorLog {
            path: dir.join(DESCRIPTORS_FILE),
            pending: Vec::new(),
        }
    }

    /// Writes `files` as the whole log, replacing any.
    pub fn rewrite(&mut self, files: &Descriptors) -> Result<()> {
        let mut out = Vec::with_capacity(files.len() * 160);
        for (path, d) in files {
            record(&mut out, path, Some(d));
        }
        self.pending.clear();
        fsutil::write_atomic(&self.path, &out, false)
    }

    /// Reads the log; a torn last record is dropped and a log grown past twice its live records
    /// is compacted.
    pub fn load(&mut self) -> Result<Descriptors> {
        let bytes = fsutil::read_optional(&self.path)?.unwrap_or_default();
        let (files, records, end) = replay(&bytes, &self.path)?;
        if end < bytes.len() || records > 2 * files.len() + 1024 {
            self.rewrite(&files)?;
        }
        Ok(files)
    }

    /// Reads the log of `dir` without repairing it.
    pub fn read(dir: &Path) -> Result<Descriptors> {
        let path = dir.join(DESCRIPTORS_FILE);
        let bytes = fsutil::read_optional(&path)?.unwrap_or_default();
        Ok(replay(&bytes, &path)?.0)
    }

    /// Records that `path` now has `descriptor` (`None`: it was removed).
    pub fn append(&mut self, path: &str, descriptor: Option<&[u8]>) -> Result<()> {
        record(&mut self.pending, path, descriptor);
        if self.pending.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered records and syncs them.
    pub fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut file: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io_err("opening", &self.path))?;
        file.write_all(&self.pending)
            .map_err(io_err("appending to", &self.path))?;
        file.sync_data().map_err(io_err("syncing", &self.path))?;
        self.pending.clear();
        Ok(())
    }
}
