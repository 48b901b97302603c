//! Command packages: a zip with `cmdline.cmd` at its root that a runbook runs at Startup or
//! Completion. An upload is checked here before it is stored (once, by its SHA-256): it must be a
//! zip, small enough, not a decompression bomb, and every entry must stay inside the folder the
//! agent extracts it to.

use std::io::{self, Cursor, Read};

use chrono::{DateTime, Utc};
use model::ids::RunbookId;
use model::runbook::{CommandPackageRef, Runbook};
use serde::Serialize;

use crate::store::packages::PackageRow;
use crate::{App, Error, Result};

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

fn refuse(message: impl Into<String>) -> Error {
    Error::field("body", message)
}

/// Why an entry name would leave the folder it is extracted to, or be misread on Windows, if it
/// would (see [`model::package_entry`]).
pub fn escapes(name: &str) -> Option<&'static str> {
    model::package_entry::entry_problem(name)
}

/// Checks an uploaded zip; the error names `body` and says what to fix.
pub fn validate(bytes: &[u8]) -> Result<PackageSummary> {
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

/// Checks a package's name as shown in runbooks.
pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 {
        return Err(Error::field(
            "name",
            "give the file name, 1 to 255 characters",
        ));
    }
    if !name.to_ascii_lowercase().ends_with(".zip") {
        return Err(Error::field("name", "a command package is a .zip file"));
    }
    if name.contains(['/', '\\']) {
        return Err(Error::field(
            "name",
            "a file name without folders is expected",
        ));
    }
    Ok(name.to_string())
}

/// A runbook that uses a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsedBy {
    /// The runbook's id.
    pub id: RunbookId,
    /// Its name.
    pub name: String,
}

/// A stored package as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageView {
    /// The name it was first uploaded as.
    pub name: String,
    /// Lower-case hex SHA-256 of the zip: what runbooks name.
    pub sha256: String,
    /// Size of the zip in bytes.
    pub size: u64,
    /// When it was first uploaded.
    pub uploaded_at: DateTime<Utc>,
    /// The runbooks that run it.
    pub used_by: Vec<UsedBy>,
}

/// The packages a runbook runs, with the field that names each.
pub fn packages_of(runbook: &Runbook) -> Vec<(&'static str, &CommandPackageRef)> {
    let mut out = Vec::new();
    if let Some(p) = &runbook.startup.command_package {
        out.push(("startup.command_package.sha256", p));
    }
    if let Some(p) = &runbook.completion.command_package {
        out.push(("completion.command_package.sha256", p));
    }
    out
}

fn used_by(runbooks: &[Runbook], sha256: &str) -> Vec<UsedBy> {
    runbooks
        .iter()
        .filter(|r| packages_of(r).iter().any(|(_, p)| p.sha256 == sha256))
        .map(|r| UsedBy {
            id: r.id,
            name: r.name.clone(),
        })
        .collect()
}

fn view(row: PackageRow, runbooks: &[Runbook]) -> PackageView {
    PackageView {
        used_by: used_by(runbooks, &row.sha256),
        name: row.name,
        sha256: row.sha256,
        size: row.size,
        uploaded_at: row.uploaded_at,
    }
}

/// Checks and stores an uploaded package. The same bytes uploaded again are stored once: the
/// answer is the stored package, and `true` only the first time.
pub async fn upload(app: &App, name: &str, bytes: Vec<u8>) -> Result<(PackageView, bool)> {
    let name = validate_name(name)?;
    let (bytes, sha256) = tokio::task::spawn_blocking(move || {
        validate(&bytes)?;
        let sha256 = model::protocol::sha256_hex(&bytes);
        Ok::<_, Error>((bytes, sha256))
    })
    .await
    .map_err(|e| Error::Internal(format!("package check stopped: {}", e)))??;
    let row = PackageRow {
        sha256: sha256.clone(),
        name,
        size: bytes.len() as u64,
        uploaded_at: app.clock.now(),
    };
    let created = app.store.insert_package(&row, &bytes).await?;
    let stored = list(app)
        .await?
        .into_iter()
        .find(|p| p.sha256 == sha256)
        .ok_or(Error::NotFound("command package"))?;
    Ok((stored, created))
}

/// Every stored package with the runbooks that use it.
pub async fn list(app: &App) -> Result<Vec<PackageView>> {
    let runbooks = app.store.runbooks().await?;
    Ok(app
        .store
        .packages()
        .await?
        .into_iter()
        .map(|row| view(row, &runbooks))
        .collect())
}

/// Deletes a package no runbook uses.
pub async fn delete(app: &App, sha256: &str) -> Result<()> {
    let sha256 = sha256.to_ascii_lowercase();
    let users = used_by(&app.store.runbooks().await?, &sha256);
    if let Some(first) = users.first() {
        return Err(Error::Conflict(format!(
            "runbook {:?} runs this package; choose another package there first",
            first.name
        )));
    }
    if app.store.delete_package(&sha256).await? {
        Ok(())
    } else {
        Err(Error::NotFound("command package"))
    }
}

/// Field errors for each package `runbook` names that is not stored.
pub async fn check_runbook_packages(
    app: &App,
    runbook: &Runbook,
) -> Result<Vec<model::FieldError>> {
    let mut errors = Vec::new();
    for (field, package) in packages_of(runbook) {
        if !app.store.has_package(&package.sha256).await? {
            errors.push(model::FieldError::new(
                field,
                "no command package with this hash is stored: upload it first",
            ));
        }
    }
    Ok(errors)
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
            let e = validate(&zip).expect_err(bad).to_string();
            assert!(e.contains("body"), "{bad}: {e}");
        }
        assert!(validate(&stored_zip(&[
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
        assert_eq!(validate(&good).map(|s| s.uncompressed).ok(), Some(100));
        let mut lying = good;
        // Uncompressed size: 22 bytes into a local header, 24 into a central directory entry.
        patch(&mut lying, 0x0403_4b50, 22, 10);
        patch(&mut lying, 0x0201_4b50, 24, 10);
        match validate(&lying) {
            Err(Error::Invalid(fields)) => {
                assert_eq!(fields[0].field, "body");
                assert!(
                    fields[0].message.starts_with("entry \"cmdline.cmd\""),
                    "{}",
                    fields[0].message
                );
            }
            other => panic!("refused as a lie, not {:?}", other),
        }
    }

    #[test]
    fn package_names_are_zip_file_names() {
        assert_eq!(
            validate_name(" tools.ZIP ").ok().as_deref(),
            Some("tools.ZIP")
        );
        assert!(validate_name("tools.exe").is_err());
        assert!(validate_name("a/tools.zip").is_err());
        assert!(validate_name("").is_err());
    }
}
