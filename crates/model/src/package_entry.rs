//! Entry names of a command package, judged as Windows will read them. The server refuses a
//! package with a bad name on upload, and an agent that unpacks one refuses it again, so a package
//! that slipped past an older server still cannot write outside its folder.
//!
//! Windows drops trailing dots and spaces from each path component (`.. ` is `..`), treats `CON`,
//! `NUL`, `COM1` … as devices whatever the extension, and reads `\` as a separator.

/// Device names Windows reserves in every folder, with or without an extension; `COM` and `LPT`
/// followed by one digit (superscripts ¹ ² ³ included) are [`is_port`].
const RESERVED: [&str; 6] = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];

/// `COM1`…`COM9`, `LPT1`…`LPT9` and their superscript forms, which Windows reserves too.
fn is_port(base: &str) -> bool {
    let mut chars = base.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    let rest: Vec<char> = chars.collect();
    (prefix.eq_ignore_ascii_case("COM") || prefix.eq_ignore_ascii_case("LPT"))
        && rest.len() == 1
        && (rest[0].is_ascii_digit() || matches!(rest[0], '¹' | '²' | '³'))
}

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
        if windows.len() != part.len() {
            return Some("ends a part with a dot or a space, which Windows would strip");
        }
        let base = windows.split('.').next().unwrap_or(windows).trim_end();
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(base)) || is_port(base) {
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
        let flags = u16_at(bytes, at + 8).ok_or("the zip is cut short")?;
        let name_len = u16_at(bytes, at + 28).ok_or("the zip is cut short")?;
        let extra_len = u16_at(bytes, at + 30).ok_or("the zip is cut short")?;
        let comment_len = u16_at(bytes, at + 32).ok_or("the zip is cut short")?;
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or("the zip is cut short")?;
        // Bit 11 marks UTF-8 names; without it a name is in the OEM code page, which agrees with
        // UTF-8 only on ASCII: anything else would be unpacked under another name.
        if flags & 0x0800 == 0 && !name.is_ascii() {
            return Err("an entry name outside ASCII without the UTF-8 flag: re-create the zip with UTF-8 names");
        }
        let name = std::str::from_utf8(name).map_err(|_| "an entry name is not valid UTF-8")?;
        names.push(name.to_string());
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::{entry_problem, zip_entry_names};

    /// The first entry of `bytes` that cannot be unpacked safely, as an unpacker reports it.
    fn check_zip(bytes: &[u8]) -> Result<(), String> {
        for name in zip_entry_names(bytes).map_err(str::to_string)? {
            if let Some(why) = entry_problem(&name) {
                return Err(format!("entry {:?} {}", name, why));
            }
        }
        Ok(())
    }

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
            "./x",
            "a/b./c",
            "a/b /c",
            "aux .txt",
            "con.d/x",
            "COM¹",
            "lpt9",
            "CONIN$",
            "a|b",
            "a*b",
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
            "tools\\sub\\a.txt",
            ".config/x",
            "console/x",
        ] {
            assert_eq!(entry_problem(good), None, "{:?} should be allowed", good);
        }
    }
}
