//! Durable file writes: whole files are replaced atomically, logs are appended and fsynced before
//! the caller acts on them, so a crash or power cut leaves either the old or the new content.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

pub(crate) fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { what, path, source }
}

/// Creates `dir` and its parents.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(io_err("creating", dir))
}

/// Reads a whole file, `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("reading", path)(e)),
    }
}

/// Removes `path` if it exists.
pub(crate) fn remove_optional(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("removing", path)(e)),
    }
}

/// Replaces `path` with `bytes`: written to a temporary file beside it, fsynced, renamed over the
/// old file, then the directory fsynced so the rename itself survives a power cut.
/// `private` makes the file readable by its owner only (it holds a secret key).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let tmp = temp_path(path);
    {
        let mut file = open_new(&tmp, private).map_err(io_err("creating", &tmp))?;
        file.write_all(bytes).map_err(io_err("writing", &tmp))?;
        file.sync_all().map_err(io_err("syncing", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err("replacing", path))?;
    sync_dir(path)
}

/// Appends `line` and a newline to `path`, and fsyncs before returning.
pub(crate) fn append_line(path: &Path, line: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err("opening", path))?;
    let mut record = Vec::with_capacity(line.len() + 1);
    record.extend_from_slice(line);
    record.push(b'\n');
    // One write call, so a crash tears at most this record, never interleaves two.
    file.write_all(&record)
        .map_err(io_err("appending to", path))?;
    file.sync_data().map_err(io_err("syncing", path))
}

/// The complete lines of an append-only log. A last line without its newline is a record torn by
/// a crash while it was written: it was never acted on, so it is cut off the file, lest the next
/// record be appended to it.
pub(crate) fn read_lines(path: &Path) -> Result<Vec<String>> {
    let bytes = match read_optional(path)? {
        Some(bytes) => bytes,
        None => return Ok(Vec::new()),
    };
    let keep = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |end| end + 1);
    if keep < bytes.len() {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err("opening", path))?;
        file.set_len(keep as u64)
            .map_err(io_err("repairing", path))?;
        file.sync_all().map_err(io_err("syncing", path))?;
    }
    let complete = &bytes[..keep];
    let text = std::str::from_utf8(complete).map_err(|e| Error::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(text
        .split('\n')
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(unix)]
fn open_new(path: &Path, private: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        options.mode(0o600);
    }
    let file = options.open(path)?;
    if private {
        // A temp file left by an earlier crash keeps its old mode: set it explicitly.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_new(path: &Path, _private: bool) -> io::Result<File> {
    // On Windows the state directory under %ProgramData% is protected by its inherited ACL.
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[cfg(unix)]
fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing", dir))
}

#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> Result<()> {
    // Windows has no directory fsync; MoveFileEx replaces the file atomically on NTFS.
    Ok(())
}

/// A directory of its own for one test, removed with what it holds when the test ends, whether
/// it passed or not.
#[cfg(test)]
pub(crate) struct Scratch(PathBuf);

#[cfg(test)]
impl Scratch {
    /// A new directory in the system's temporary directory, its name starting with `name`.
    pub(crate) fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rehome-{}-{}", name, uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

#[cfg(test)]
impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> Scratch {
        Scratch::new(&format!("fsutil-{}", name))
    }

    #[test]
    fn a_scratch_directory_is_gone_after_its_test() {
        let dir = scratch("gone");
        let path = dir.0.clone();
        append_line(&dir.join("log"), b"one").expect("append");
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn a_torn_last_line_is_dropped() {
        let dir = scratch("torn");
        let path = dir.join("log");
        append_line(&path, b"one").expect("append");
        append_line(&path, b"two").expect("append");
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(b"{\"half").expect("write");
        assert_eq!(read_lines(&path).expect("read"), vec!["one", "two"]);
        append_line(&path, b"three").expect("append");
        assert_eq!(
            read_lines(&path).expect("read"),
            vec!["one", "two", "three"]
        );
    }

    #[test]
    fn atomic_write_replaces_and_can_be_private() {
        let dir = scratch("atomic");
        let path = dir.join("identity.json");
        write_atomic(&path, b"old", true).expect("write");
        write_atomic(&path, b"new", true).expect("write");
        assert_eq!(fs::read(&path).expect("read"), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!dir.join("identity.json.tmp").exists());
    }
}
