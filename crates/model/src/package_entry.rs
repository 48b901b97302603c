//! Entry names of a command package, judged as Windows will read them. The server refuses a
//! package with a bad name on upload, and an agent that unpacks one refuses it again, so a package
//! that slipped past an older server still cannot write outside its folder.
//!
//! Windows drops trailing dots and spaces from each path component (`.. ` is `..`), treats `CON`,
//! `NUL`, `COM1` … as devices whatever the extension, and reads `\` as a separator.

/// Device names Windows reserves in every folder, with or without an extension.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Why `name` cannot be extracted safely on Windows, if it cannot. A trailing `/` (a folder
/// entry) is allowed.
pub fn entry_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("has no name");
    }
    if name.chars().any(|c| (c as u32) < 0x20) {
        return Some("has a control character in its name");
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("is an absolute path");
    }
    // A drive letter (`C:`), a UNC device path or an alternate data stream all need a colon.
    if name.contains(':') {
        return Some("names a drive or a stream (a colon in the path)");
    }
    if name
        .chars()
        .any(|c| matches!(c, '<' | '>' | '"' | '|' | '?' | '*'))
    {
        return Some("has a character Windows does not allow in names (< > \" | ? *)");
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    for part in trimmed.split(['/', '\\']) {
        let windows = part.trim_end_matches(['.', ' ']);
        if part == ".." || (windows.is_empty() && part.contains("..")) || windows == ".." {
            return Some(
                "climbs out of the folder with `..` (Windows drops trailing dots and spaces)",
            );
        }
        if windows.is_empty() {
            return Some("has an empty part, or one made only of dots and spaces");
        }
        let base = windows.split('.').next().unwrap_or(windows).trim_end();
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(base)) {
            return Some("uses a device name Windows reserves (CON, NUL, COM1 …)");
        }
    }
    None
}

fn u16_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]) as usize)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The entry names of a zip, read from its central directory (what an unpacker goes by), or why
/// they cannot be read. Zip64 archives are refused: command packages are far below its sizes.
pub fn zip_entry_names(bytes: &[u8]) -> Result<Vec<String>, &'static str> {
    const END: u32 = 0x0605_4b50;
    const ENTRY: u32 = 0x0201_4b50;
    // The end record is 22 bytes, followed by a comment of at most 65,535.
    let lowest = bytes.len().saturating_sub(22 + 65_535);
    let end = (lowest..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&at| u32_at(bytes, at) == Some(END))
        .ok_or("not a zip file (no end of central directory)")?;
    let count = u16_at(bytes, end + 10).ok_or("the zip is cut short")?;
    let offset = u32_at(bytes, end + 16).ok_or("the zip is cut short")?;
    if count == 0xFFFF || offset == 0xFFFF_FFFF {
        return Err("a zip64 archive; command packages are plain zip files");
    }
    let mut at = offset as usize;
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(bytes, at) != Some(ENTRY) {
            return Err("the zip's central directory is damaged");
        }
        let name_len = u16_at(bytes, at + 28).ok_or("the zip is cut short")?;
        let extra_len = u16_at(bytes, at + 30).ok_or("the zip is cut short")?;
        let comment_len = u16_at(bytes, at + 32).ok_or("the zip is cut short")?;
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or("the zip is cut short")?;
        names.push(String::from_utf8_lossy(name).into_owned());
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(names)
}

/// Checks every entry name of the zip `bytes` with [`entry_problem`]; the error names the entry.
pub fn check_zip(bytes: &[u8]) -> Result<(), String> {
    for name in zip_entry_names(bytes).map_err(str::to_string)? {
        if let Some(why) = entry_problem(&name) {
            return Err(format!("entry {:?} {}", name, why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_zip, entry_problem, zip_entry_names};

    /// A stored zip of empty entries, as small as the format allows.
    fn zip(names: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for name in names {
            let offset = out.len() as u32;
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&[0; 12]);
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(name.as_bytes());
            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let start = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn an_unpacker_refuses_a_package_with_a_bad_name_again() {
        let good = zip(&["cmdline.cmd", "tools/", "tools/a.exe"]);
        assert_eq!(
            zip_entry_names(&good).unwrap(),
            vec!["cmdline.cmd", "tools/", "tools/a.exe"]
        );
        assert!(check_zip(&good).is_ok());
        let bad = zip(&["cmdline.cmd", "a/.. /.. /evil.cmd"]);
        assert!(check_zip(&bad).unwrap_err().contains("evil.cmd"));
        assert!(check_zip(&zip(&["cmdline.cmd", "NUL.txt"])).is_err());
        assert!(check_zip(b"not a zip").is_err());
        let mut cut = good.clone();
        cut.truncate(good.len() - 30);
        assert!(check_zip(&cut).is_err());
    }

    #[test]
    fn names_windows_would_misread_are_refused() {
        for bad in [
            "",
            "../evil.cmd",
            "a/../../evil.cmd",
            "a\\..\\..\\evil.cmd",
            ".. /evil.cmd",
            "a/.. /.. /evil.cmd",
            "../",
            "...",
            "a/.../b.cmd",
            ". ./x",
            "/etc/passwd",
            "\\\\server\\share\\x",
            "C:evil.cmd",
            "file.txt:stream",
            "CON",
            "con.txt",
            "a/NUL",
            "Com1.log",
            "LPT9 .txt",
            "aux",
            "a//b",
            "what?.cmd",
            "tab\there",
        ] {
            assert!(entry_problem(bad).is_some(), "{:?} should be refused", bad);
        }
    }

    #[test]
    fn ordinary_names_pass() {
        for good in [
            "cmdline.cmd",
            "tools/setup.exe",
            "tools/",
            "dots..in.name",
            ".hidden",
            "a/b/c.ps1",
            "CONSOLE.txt",
            "COM10.txt",
            "lpt.txt",
            "nul-device-notes.md",
        ] {
            assert_eq!(entry_problem(good), None, "{:?} should be allowed", good);
        }
    }
}
