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

#[cfg(test)]
mod tests {
    use super::entry_problem;

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
