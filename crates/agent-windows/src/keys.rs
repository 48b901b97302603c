//! Registry key names as the `Workstation` primitives give them (`HKLM\SOFTWARE\…`,
//! `HKU\<SID>\…`), split into their root and the path below it.

use agent::{Error, Result};

/// A predefined registry root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `HKEY_LOCAL_MACHINE`.
    LocalMachine,
    /// `HKEY_USERS`: every user's hive, loaded or not.
    Users,
    /// `HKEY_CURRENT_USER`: the hive of the account the agent runs as.
    CurrentUser,
    /// `HKEY_CLASSES_ROOT`.
    ClassesRoot,
}

impl Root {
    /// The short name the primitives use.
    pub fn short(self) -> &'static str {
        match self {
            Root::LocalMachine => "HKLM",
            Root::Users => "HKU",
            Root::CurrentUser => "HKCU",
            Root::ClassesRoot => "HKCR",
        }
    }
}

/// A key: its root and the path below it (empty for the root itself), separators as `\`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName {
    /// The root.
    pub root: Root,
    /// The path under the root, without leading or trailing separators.
    pub path: String,
}

impl KeyName {
    /// Reads `HKLM\SOFTWARE\x`, `HKEY_USERS\S-1-5-…\Software` and the like. Separators are `\`,
    /// doubled or not (`/` is a character of key names: `Content Type\application/pdf`); root
    /// names compare case-insensitively.
    pub fn parse(name: &str) -> Result<KeyName> {
        let mut parts = name.split('\\').filter(|p| !p.is_empty());
        let first = parts.next().unwrap_or("");
        let root = match first.to_ascii_uppercase().as_str() {
            "HKLM" | "HKEY_LOCAL_MACHINE" => Root::LocalMachine,
            "HKU" | "HKEY_USERS" => Root::Users,
            "HKCU" | "HKEY_CURRENT_USER" => Root::CurrentUser,
            "HKCR" | "HKEY_CLASSES_ROOT" => Root::ClassesRoot,
            _ => {
                return Err(Error::Device(format!(
                    "registry key {:?}: it must start with HKLM, HKU, HKCU or HKCR",
                    name
                )))
            }
        };
        let path = parts.collect::<Vec<_>>().join("\\");
        Ok(KeyName { root, path })
    }

    /// The key's full name, `HKU\S-1-5-…\Software`.
    pub fn full(&self) -> String {
        if self.path.is_empty() {
            self.root.short().to_string()
        } else {
            format!("{}\\{}", self.root.short(), self.path)
        }
    }

    /// A subkey's name.
    pub fn child(&self, name: &str) -> KeyName {
        KeyName {
            root: self.root,
            path: if self.path.is_empty() {
                name.to_string()
            } else {
                format!("{}\\{}", self.path, name)
            },
        }
    }

    /// For a key inside a user's hive (`HKU\<SID>\…`), the hive's name under `HKU` and the path
    /// inside it.
    pub fn user_hive(&self) -> Option<(&str, &str)> {
        if self.root != Root::Users || self.path.is_empty() {
            return None;
        }
        Some(match self.path.find('\\') {
            Some(i) => (&self.path[..i], &self.path[i + 1..]),
            None => (self.path.as_str(), ""),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_in_either_spelling_and_slashes_inside_key_names() {
        let k = KeyName::parse("HKEY_LOCAL_MACHINE\\SOFTWARE\\\\Policies\\").unwrap();
        assert_eq!(k.root, Root::LocalMachine);
        assert_eq!(k.path, "SOFTWARE\\Policies");
        assert_eq!(k.full(), "HKLM\\SOFTWARE\\Policies");
        let mime =
            KeyName::parse("HKLM\\SOFTWARE\\Classes\\MIME\\Content Type\\application/pdf").unwrap();
        assert_eq!(
            mime.path,
            "SOFTWARE\\Classes\\MIME\\Content Type\\application/pdf"
        );
        assert_eq!(KeyName::parse("hku").unwrap().full(), "HKU");
        assert!(KeyName::parse("HKXX\\Software").is_err());
        assert!(KeyName::parse("").is_err());
    }

    #[test]
    fn a_users_hive_and_the_path_inside_it() {
        let k = KeyName::parse("HKU\\S-1-5-21-1-2-3-1001\\Software\\App").unwrap();
        assert_eq!(
            k.user_hive(),
            Some(("S-1-5-21-1-2-3-1001", "Software\\App"))
        );
        let hive = KeyName::parse("HKU\\S-1-5-21-1-2-3-1001").unwrap();
        assert_eq!(hive.user_hive(), Some(("S-1-5-21-1-2-3-1001", "")));
        assert_eq!(KeyName::parse("HKU").unwrap().user_hive(), None);
        assert_eq!(KeyName::parse("HKLM\\SOFTWARE").unwrap().user_hive(), None);
        assert_eq!(
            hive.child("Software").full(),
            "HKU\\S-1-5-21-1-2-3-1001\\Software"
        );
    }
}
