//! Command packages: a zip with `cmdline.cmd` at its root that a runbook runs at Startup or
//! Completion. An upload is checked here before the server stores it: it must be a zip, small
//! enough, not a decompression bomb, and every entry must stay inside the folder the agent
//! extracts it to. A crate of its own so the checks can be fuzzed without building the server.

use std::fmt;
use std::io::{self, Cursor, Read};

/// Largest zip accepted.
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;
/// Largest total size of the entries once extracted.
pub const MAX_UNCOMPRESSED_BYTES: u64 = 1024 * 1024 * 1024;
/// Most entries in one package.
pub const MAX_ENTRIES: usize = 10_000;
/// Highest ratio of extracted to compressed size for an entry above [`RATIO_FLOOR`]: ordinary
/// files rarely pass 20, crafted bombs reach 1,000.
pub const MAX_RATIO: u64 = 200;
/// Entries smaller than this extracted are not held to [`MAX_RATIO`].
pub const RATIO_FLOOR: u64 = 1024 * 1024;
/// The script every package runs, at its root (any case).
pub const ENTRY_SCRIPT: &str = "cmdline.cmd";

/// What a valid package holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSummary {
    /// Number of entries, folders included.
    pub entries: usize,
    /// Total size once extracted.
    pub uncompressed: u64,
}

/// Why an upload is not a package the agent can run: what to fix, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal(message.into())
}

/// Why an entry name would leave the folder it is extracted to, or be misread on Windows, if it
/// would (see [`model::package_entry`]).
pub fn escapes(name: &str) -> Option<&'static str> {
    model::package_entry::entry_problem(name)
}

/// Checks an uploaded zip: a [`Refusal`] says what to fix.
pub fn check(bytes: &[u8]) -> Result<PackageSummary, Refusal> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(refuse(format!(
            "a command package is at most {} MiB",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        )));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| refuse("not a zip file: upload a .zip with cmdline.cmd at its root"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(refuse(format!(
            "the zip has {} entries; at most {} are allowed",
            archive.len(),
            MAX_ENTRIES
        )));
    }
    let mut has_script = false;
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| refuse(format!("entry {} cannot be read: {}", i, e)))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if let Some(why) = escapes(&name) {
            return Err(refuse(format!(
                "entry {:?} {}: every entry must stay inside the package's folder",
                name, why
            )));
        }
        if entry.is_symlink() {
            return Err(refuse(format!(
                "entry {:?} is a symbolic link: packages hold only files and folders",
                name
            )));
        }
        if entry.encrypted() {
            return Err(refuse(format!(
                "entry {:?} is encrypted: the agent cannot open it",
                name
            )));
        }
        let size = entry.size();
        if size > RATIO_FLOOR && size / entry.compressed_size().max(1) > MAX_RATIO {
            return Err(refuse(format!(
                "entry {:?} expands {} times: this looks like a zip bomb",
                name,
                size / entry.compressed_size().max(1)
            )));
        }
        declared = declared.saturating_add(size);
        if declared > MAX_UNCOMPRESSED_BYTES {
            return Err(refuse(format!(
                "the package extracts to more than {} MiB",
                MAX_UNCOMPRESSED_BYTES / (1024 * 1024)
            )));
        }
        has_script |= name.eq_ignore_ascii_case(ENTRY_SCRIPT);
    }
    if !has_script {
        return Err(refuse(format!(
            "the zip has no {} at its root: the agent runs that file",
            ENTRY_SCRIPT
        )));
    }
    // The sizes above are what the zip declares; extracting proves them (and the checksums),
    // reading at most one byte more than declared from each entry.
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| refuse(format!("entry {} cannot be extracted: {}", i, e)))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let size = entry.size();
        let read = io::copy(&mut entry.take(size.saturating_add(1)), &mut io::sink())
            .map_err(|e| refuse(format!("entry {:?} is damaged: {}", name, e)))?;
        if read != size {
            return Err(refuse(format!(
                "entry {:?} extracts to a different size than it declares",
                name
            )));
        }
    }
    Ok(PackageSummary {
        entries: archive.len(),
        uncompressed: declared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_folder_are_caught() {
        for bad in [
            "../evil.cmd",
            "a/../../evil.cmd",
            "a\\..\\..\\evil.cmd",
            "/etc/passwd",
            "\\Windows\\evil.cmd",
            "C:evil.cmd",
            "C:\\Windows\\evil.cmd",
            "cmdline.cmd:stream",
            "",
        ] {
            assert!(escapes(bad).is_some(), "{bad:?} should be refused");
        }
        for good in [
            "cmdline.cmd",
            "tools/setup.exe",
            "a\\b.txt",
            "dots..in.name",
            "dir/",
        ] {
            assert_eq!(escapes(good), None, "{good:?} should be allowed");
        }
    }

    #[test]
    fn zips_with_names_windows_misreads_are_refused_on_upload() {
        for bad in [
            ".. /evil.cmd",
            "a/.. /.. /evil.cmd",
            "...",
            "CON",
            "tools/nul.txt",
        ] {
            let zip = stored_zip(&[("cmdline.cmd", b"echo hi"), (bad, b"x")]);
            let e = check(&zip).expect_err(bad).to_string();
            assert!(e.contains("inside the package's folder"), "{bad}: {e}");
        }
        assert!(check(&stored_zip(&[
            ("cmdline.cmd", b"echo hi"),
            ("tools/a.txt", b"x")
        ]))
        .is_ok());
    }

    fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, content) in entries {
            w.start_file(*name, options).expect("entry");
            w.write_all(content).expect("write");
        }
        w.finish().expect("zip").into_inner()
    }

    /// Overwrites the 4-byte little-endian field `offset` bytes after every `signature`.
    fn patch(bytes: &mut [u8], signature: u32, offset: usize, value: u32) {
        let sig = signature.to_le_bytes();
        let starts: Vec<usize> = (0..bytes.len().saturating_sub(4))
            .filter(|&i| bytes[i..i + 4] == sig)
            .collect();
        assert!(!starts.is_empty(), "signature found");
        for i in starts {
            bytes[i + offset..i + offset + 4].copy_from_slice(&value.to_le_bytes());
        }
    }

    #[test]
    fn a_zip_that_understates_its_sizes_is_refused() {
        let good = stored_zip(&[("cmdline.cmd", &[b'x'; 100])]);
        assert_eq!(check(&good).map(|s| s.uncompressed).ok(), Some(100));
        let mut lying = good;
        // Uncompressed size: 22 bytes into a local header, 24 into a central directory entry.
        patch(&mut lying, 0x0403_4b50, 22, 10);
        patch(&mut lying, 0x0201_4b50, 24, 10);
        match check(&lying) {
            Err(Refusal(message)) => {
                assert!(message.starts_with("entry \"cmdline.cmd\""), "{}", message);
            }
            other => panic!("refused as a lie, not {:?}", other),
        }
    }
}
