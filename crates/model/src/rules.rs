//! Rules for the values engineers type into runbooks, each returning an error that names the field
//! and says what would be right.

use uuid::Uuid;

use crate::{Error, Result};

/// The dialogs a user may see; a QR code URL gets each one's anchor appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Dialog {
    /// Asks the user to sign in once so their credentials are cached.
    CacheCredentials,
    /// The migration can be started (or snoozed).
    MigrationAvailable,
    /// The migration is about to start (the countdown).
    MigrationStarting,
    /// The migration is running.
    MigrationInProgress,
    /// The migration finished.
    MigrationComplete,
    /// The server cannot be reached.
    ServiceUnavailable,
}

impl Dialog {
    /// Every dialog.
    pub const ALL: [Dialog; 6] = [
        Dialog::CacheCredentials,
        Dialog::MigrationAvailable,
        Dialog::MigrationStarting,
        Dialog::MigrationInProgress,
        Dialog::MigrationComplete,
        Dialog::ServiceUnavailable,
    ];

    /// The anchor appended to the QR code URL for this dialog.
    pub fn anchor(self) -> &'static str {
        match self {
            Dialog::CacheCredentials => "CacheCredentials",
            Dialog::MigrationAvailable => "MigrationAvailable",
            Dialog::MigrationStarting => "MigrationStarting",
            Dialog::MigrationInProgress => "MigrationInProgress",
            Dialog::MigrationComplete => "MigrationComplete",
            Dialog::ServiceUnavailable => "ServiceUnavailable",
        }
    }
}

/// Checks a QR code URL: blank means no QR code; otherwise an http(s) URL without a fragment.
pub fn check_qr_url(field: &str, url: &str) -> Result<()> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(());
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            Error::field(
                field,
                "start the URL with https:// (or leave it blank for no QR code)",
            )
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(Error::field(field, "the URL needs a host name"));
    }
    if url.contains('#') {
        return Err(Error::field(
            field,
            "leave out the #anchor: one is added for each dialog",
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::field(field, "a URL cannot contain spaces"));
    }
    Ok(())
}

/// The URL a dialog's QR code encodes, or `None` when the QR code URL is blank.
pub fn qr_url_for(url: &str, dialog: Dialog) -> Option<String> {
    let url = url.trim();
    if url.is_empty() {
        None
    } else {
        Some(format!("{}#{}", url, dialog.anchor()))
    }
}

/// Checks `{…}` placeholders in a dialog text against those the dialog offers.
pub fn check_placeholders(field: &str, text: &str, allowed: &[&str]) -> Result<()> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| Error::field(field, "a { is not closed by }"))?;
        let name = &after[..close];
        if !allowed.contains(&name) {
            let offered: Vec<String> = allowed.iter().map(|a| format!("{{{}}}", a)).collect();
            return Err(Error::field(
                field,
                format!(
                    "{{{}}} is not a placeholder here; use {}",
                    name,
                    offered.join(", ")
                ),
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Checks a culture code such as `fr-FR`, `en`, `sr-Latn-RS` or `es-419`.
pub fn check_culture(field: &str, code: &str) -> Result<()> {
    let mut parts = code.split('-');
    let language = parts.next().unwrap_or("");
    let ok_language =
        (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_lowercase());
    let mut ok = ok_language;
    let mut rest: Vec<&str> = parts.collect();
    if ok && rest.first().map_or(false, |s| s.len() == 4) {
        let script = rest.remove(0);
        let mut chars = script.chars();
        ok = chars.next().map_or(false, |c| c.is_ascii_uppercase())
            && chars.all(|c| c.is_ascii_lowercase());
    }
    if ok && !rest.is_empty() {
        let region = rest.remove(0);
        ok = (region.len() == 2 && region.chars().all(|c| c.is_ascii_uppercase()))
            || (region.len() == 3 && region.chars().all(|c| c.is_ascii_digit()));
    }
    if ok && rest.is_empty() {
        Ok(())
    } else {
        Err(Error::field(
            field,
            format!(
                "{:?} is not a culture code such as fr-FR, de-DE or en",
                code
            ),
        ))
    }
}

/// Checks the OneDrive target folder name: exactly `OneDrive - ` followed by a name.
pub fn check_onedrive_folder(field: &str, name: &str) -> Result<()> {
    const PREFIX: &str = "OneDrive - ";
    let org = name.strip_prefix(PREFIX).ok_or_else(|| {
        let hint = if name.starts_with("OneDrive ")
            && name
                .chars()
                .any(|c| "\u{2010}\u{2011}\u{2012}\u{2013}\u{2014}\u{2212}".contains(c))
        {
            "use a plain hyphen (-), not a dash"
        } else {
            "start with \"OneDrive - \" (one space, a plain hyphen, one space)"
        };
        Error::field(field, hint)
    })?;
    if org.trim().is_empty() {
        return Err(Error::field(
            field,
            "add the organisation name after \"OneDrive - \"",
        ));
    }
    if org.starts_with(' ') || name.ends_with(' ') {
        return Err(Error::field(
            field,
            "no extra spaces before the organisation name or at the end",
        ));
    }
    if let Some(c) = org
        .chars()
        .find(|c| "\\/:*?\"<>|".contains(*c) || c.is_control())
    {
        return Err(Error::field(
            field,
            format!("{:?} cannot be in a folder name", c),
        ));
    }
    if org.ends_with('.') {
        return Err(Error::field(field, "a folder name cannot end with a dot"));
    }
    Ok(())
}

/// Reads tenant ids given one per line (blank lines ignored).
pub fn parse_tenant_ids(field: &str, text: &str) -> Result<Vec<Uuid>> {
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let id = Uuid::parse_str(line).map_err(|_| {
            Error::field(
                field,
                format!("line {}: {:?} is not a tenant id (a GUID)", i + 1, line),
            )
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Reads UNC paths given one per line (blank lines ignored); drive letters are refused because a
/// mapped drive means nothing to the agent's service account.
pub fn parse_unc_paths(field: &str, text: &str) -> Result<Vec<String>> {
    let mut paths = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bytes = line.as_bytes();
        if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
            return Err(Error::field(
                field,
                format!(
                    "line {}: {} is a drive letter; give the share as \\\\server\\share",
                    i + 1,
                    line
                ),
            ));
        }
        let line = line.trim_end_matches('\\');
        let rest = line.strip_prefix("\\\\").ok_or_else(|| {
            Error::field(
                field,
                format!(
                    "line {}: {:?} is not a UNC path such as \\\\server\\share",
                    i + 1,
                    line
                ),
            )
        })?;
        let mut parts = rest.split('\\');
        let server = parts.next().unwrap_or("");
        let share = parts.next().unwrap_or("");
        if server.is_empty() || share.is_empty() || parts.any(|p| p.is_empty() || p == "..") {
            return Err(Error::field(
                field,
                format!(
                    "line {}: {:?} needs a server and a share: \\\\server\\share[\\folder]",
                    i + 1,
                    line
                ),
            ));
        }
        paths.push(line.to_string());
    }
    Ok(paths)
}

/// Checks the Computer Account OU: blank means the domain's default container; otherwise a DN
/// whose first part is an OU. The built-in `CN=Computers` is a container, not an OU.
pub fn check_computer_ou(field: &str, dn: &str) -> Result<()> {
    let dn = dn.trim();
    if dn.is_empty() {
        return Ok(());
    }
    let rdns: Vec<(String, &str)> = dn
        .split(',')
        .map(|rdn| {
            let (key, value) = rdn.split_once('=').unwrap_or(("", ""));
            (key.trim().to_ascii_uppercase(), value.trim())
        })
        .collect();
    if rdns.iter().any(|(k, v)| k.is_empty() || v.is_empty()) {
        return Err(Error::field(
            field,
            "not a distinguished name such as OU=Workstations,DC=fabrikam,DC=com",
        ));
    }
    if rdns[0].0 == "CN" {
        return Err(Error::field(
            field,
            format!(
                "{} is a container, not an OU: leave this blank to use the domain default",
                rdns[0].1
            ),
        ));
    }
    if rdns[0].0 != "OU" {
        return Err(Error::field(field, "the first part must be OU=…"));
    }
    if !rdns.iter().any(|(k, _)| k == "DC") {
        return Err(Error::field(
            field,
            "the DN must end with the domain, e.g. DC=fabrikam,DC=com",
        ));
    }
    Ok(())
}

/// What a password must be, configurable to match the devices' own policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordPolicy {
    /// Minimum length.
    pub min_length: usize,
    /// How many of the four kinds (upper, lower, digit, symbol) it must mix.
    pub min_categories: usize,
}

impl Default for PasswordPolicy {
    /// Windows' own complexity rule, with a longer minimum.
    fn default() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 14,
            min_categories: 3,
        }
    }
}

impl PasswordPolicy {
    /// Checks `password` for the account `user`; the message never repeats the password.
    pub fn check(&self, field: &str, user: &str, password: &str) -> Result<()> {
        if password.chars().count() < self.min_length {
            return Err(Error::field(
                field,
                format!("use at least {} characters", self.min_length),
            ));
        }
        let kinds = [
            password.chars().any(|c| c.is_uppercase()),
            password.chars().any(|c| c.is_lowercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ];
        if kinds.iter().filter(|k| **k).count() < self.min_categories {
            return Err(Error::field(
                field,
                format!(
                    "mix at least {} of: upper case, lower case, digits, symbols",
                    self.min_categories
                ),
            ));
        }
        if user.len() >= 3 && password.to_lowercase().contains(&user.to_lowercase()) {
            return Err(Error::field(
                field,
                "the password may not contain the account name",
            ));
        }
        Ok(())
    }
}

/// Checks a whole number of days within `min..=max`.
pub fn check_days(field: &str, days: i64, min: i64, max: i64) -> Result<()> {
    if days < min || days > max {
        return Err(Error::field(
            field,
            format!("a whole number of days from {} to {}", min, max),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
