//! Command packages: a zip with `cmdline.cmd` at its root. Before a workstation unpacks one, its
//! entry names are read from the zip's central directory and checked against the rules Windows
//! applies to paths, so no entry can land outside the package's folder: no absolute path or drive,
//! no `..` (also written with trailing dots or spaces, which Windows strips), no device name
//! (`CON`, `NUL`, `COM1` …, with or without an extension), no alternate data stream (`:`), no
//! character Windows refuses in a name.

use crate::{Error, Result};

/// The script a package runs, at its root.
pub const SCRIPT: &str = "cmdline.cmd";

const EOCD: u32 = 0x0605_4b50;
const CENTRAL: u32 = 0x0201_4b50;

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 2)?;
    Some(usize::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn malformed(name: &str, why: &str) -> Error {
    Error::Device(format!(
        "the command package {} is not a zip: {}",
        name, why
    ))
}

/// The entry names of `zip`, from its central directory.
pub fn entries(name: &str, zip: &[u8]) -> Result<Vec<String>> {
    // The end-of-central-directory record is 22 bytes plus a comment of up to 65,535.
    let lowest = zip.len().saturating_sub(22 + 0xffff);
    let eocd = (lowest..=zip.len().saturating_sub(22))
        .rev()
        .find(|at| u32_at(zip, *at) == Some(EOCD))
        .ok_or_else(|| malformed(name, "no end of central directory"))?;
    let count = u16_at(zip, eocd + 10).ok_or_else(|| malformed(name, "truncated"))?;
    let mut at = u32_at(zip, eocd + 16).ok_or_else(|| malformed(name, "truncated"))? as usize;
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(zip, at) != Some(CENTRAL) {
            return Err(malformed(name, "a central directory entry is missing"));
        }
        let flags = u16_at(zip, at + 8).ok_or_else(|| malformed(name, "truncated"))?;
        let name_len = u16_at(zip, at + 28).ok_or_else(|| malformed(name, "truncated"))?;
        let extra = u16_at(zip, at + 30).ok_or_else(|| malformed(name, "truncated"))?;
        let comment = u16_at(zip, at + 32).ok_or_else(|| malformed(name, "truncated"))?;
        let raw = zip
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| malformed(name, "an entry name runs past the end"))?;
        // Bit 11: UTF-8 names; without it the names are in the OEM code page, which is ASCII
        // for every name these rules accept.
        let entry = if flags & 0x0800 != 0 || raw.is_ascii() {
            String::from_utf8(raw.to_vec())
                .map_err(|_| malformed(name, "an entry name is not UTF-8"))?
        } else {
            return Err(Error::Device(format!(
                "the command package {} has an entry name outside ASCII without the UTF-8 flag; re-create it with UTF-8 names",
                name
            )));
        };
        names.push(entry);
        at += 46 + name_len + extra + comment;
    }
    Ok(names)
}

/// Why Windows would put `entry` somewhere other than inside the package's folder, or refuse it.
pub fn check_entry(entry: &str) -> std::result::Result<(), String> {
    if entry.is_empty() {
        return Err("an empty name".into());
    }
    if entry.starts_with('/') || entry.starts_with('\\') {
        return Err("an absolute path".into());
    }
    let path = entry.strip_suffix('/').unwrap_or(entry);
    let path = path.strip_suffix('\\').unwrap_or(path);
    for segment in path.split(['/', '\\']) {
        if segment.contains(':') {
            return Err("a drive or an alternate data stream (':')".into());
        }
        if let Some(c) = segment
            .chars()
            .find(|c| matches!(c, '<' | '>' | '"' | '|' | '?' | '*') || (*c as u32) < 0x20)
        {
            return Err(format!("the character {:?}, which Windows refuses", c));
        }
        // Windows strips trailing dots and spaces: `.. ` and `...` are `..` to it.
        let trimmed = segment.trim_end_matches(['.', ' ']);
        if trimmed.is_empty() {
            return Err(format!(
                "the segment {:?}, which Windows reads as . or ..",
                segment
            ));
        }
        if trimmed.len() != segment.len() {
            return Err(format!(
                "the segment {:?}, which ends in a dot or a space Windows would strip",
                segment
            ));
        }
        let base = segment
            .split('.')
            .next()
            .unwrap_or(segment)
            .trim_end_matches(' ')
            .to_ascii_uppercase();
        let chars: Vec<char> = base.chars().collect();
        let device = matches!(
            base.as_str(),
            "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
        ) || ((base.starts_with("COM") || base.starts_with("LPT"))
            && chars.len() == 4
            && (chars[3].is_ascii_digit() || "¹²³".contains(chars[3])));
        if device {
            return Err(format!("the device name {}", segment));
        }
    }
    Ok(())
}

/// Checks every entry of the package `name` and that `cmdline.cmd` is at its root; returns the
/// entries.
pub fn check(name: &str, zip: &[u8]) -> Result<Vec<String>> {
    let entries = entries(name, zip)?;
    for entry in &entries {
        if let Err(why) = check_entry(entry) {
            return Err(Error::Device(format!(
                "the command package {} is refused: its entry {:?} is {}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_windows_would_place_outside_the_folder_are_refused() {
        for ok in [
            "cmdline.cmd",
            "tools/fix.ps1",
            "tools\\sub\\a.txt",
            "tools/",
            ".config/x",
            "console/x",
            "COM10.txt",
        ] {
            assert_eq!(check_entry(ok), Ok(()), "{}", ok);
        }
        for bad in [
            "",
            "/etc/passwd",
            "\\Windows\\x",
            "C:\\x",
            "C:x",
            "../x",
            "a/../../x",
            "a\\..\\x",
            ".. /x",
            "a/... /x",
            "a/.../x",
            "./x",
            "a/b./c",
            "a/b /c",
            "CON",
            "con.txt",
            "con.d/x",
            "tools/NUL",
            "aux .txt",
            "COM1.log",
            "lpt9",
            "COM¹",
            "file.txt:stream",
            "a|b",
            "a*b",
            "tab\there",
        ] {
            assert!(check_entry(bad).is_err(), "{:?} was accepted", bad);
        }
    }
}
