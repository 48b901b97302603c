//! The secret box: every secret the store keeps (PSKs, agent-certificate keys, runbook passwords)
//! is sealed with XChaCha20-Poly1305 under a 32-byte master key kept outside the database, a fresh
//! random nonce per value, and the row's purpose and id as associated data, so a ciphertext copied
//! into another row does not open. Stored as `v1:<base64 of nonce ‖ ciphertext>`.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::{Error, Result};

/// The environment variable that may hold the master key (base64 of 32 bytes).
pub const KEY_ENV: &str = "REHOME_SECRET_KEY";
/// The key file's name under the data directory, used when [`KEY_ENV`] is not set.
pub const KEY_FILE: &str = "secret.key";

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

/// Seals and opens stored secrets with the master key. Cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox { key: <hidden> }")
    }
}

impl SecretBox {
    /// A box over `key`.
    pub fn new(key: [u8; 32]) -> SecretBox {
        SecretBox {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// A box over a fresh random key, for tests and throw-away stores.
    pub fn random() -> SecretBox {
        SecretBox {
            cipher: XChaCha20Poly1305::new(&XChaCha20Poly1305::generate_key(&mut OsRng)),
        }
    }

    /// A box over base64 `text` (32 bytes once decoded).
    pub fn from_base64(text: &str) -> Result<SecretBox> {
        let bytes = B64
            .decode(text.trim().as_bytes())
            .map_err(|_| Error::field(KEY_ENV, "not base64: give 32 random bytes in base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::field(KEY_ENV, "not 32 bytes: give 32 random bytes in base64"))?;
        Ok(SecretBox::new(key))
    }

    /// The server's box: the key in `REHOME_SECRET_KEY` if set, else `<data_dir>/secret.key`,
    /// created (mode 0600) with a random key on first start.
    pub fn load(data_dir: &Path) -> Result<SecretBox> {
        match std::env::var(KEY_ENV) {
            Ok(text) if !text.trim().is_empty() => SecretBox::from_base64(&text),
            _ => SecretBox::from_key_file(&data_dir.join(KEY_FILE)),
        }
    }

    /// The box of the key file at `path`, creating it with a random key when it does not exist.
    pub fn from_key_file(path: &Path) -> Result<SecretBox> {
        let cannot = |what: &str, e: std::io::Error| {
            Error::Internal(format!(
                "cannot {} the secret key file {}: {}",
                what,
                path.display(),
                e
            ))
        };
        match std::fs::read_to_string(path) {
            Ok(text) => SecretBox::from_base64(&text).map_err(|_| {
                Error::Internal(format!(
                    "the secret key file {} does not hold 32 bytes in base64",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| cannot("create the folder of", e))?;
                }
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                write_private(path, &B64.encode(key)).map_err(|e| cannot("write", e))?;
                tracing::info!(path = %path.display(), "created a new secret key file");
                Ok(SecretBox {
                    cipher: XChaCha20Poly1305::new(&key),
                })
            }
            Err(e) => Err(cannot("read", e)),
        }
    }

    /// Seals `plain` for the row named by `aad` (purpose and id, e.g. `psk:<id>`).
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<String> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal("cannot seal a secret".to_string()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{}{}", PREFIX, B64.encode(out)))
    }

    /// Seals a text value.
    pub fn seal_str(&self, aad: &str, plain: &str) -> Result<String> {
        self.seal(aad, plain.as_bytes())
    }

    /// Opens what [`SecretBox::seal`] made for the same `aad`. Fails on another key, another
    /// row, or a value that was tampered with.
    pub fn open(&self, aad: &str, stored: &str) -> Result<Vec<u8>> {
        let cannot = || {
            Error::Internal(format!(
                "a stored secret ({}) cannot be opened with this server's secret key",
                aad.split(':').next().unwrap_or(aad)
            ))
        };
        let body = stored.strip_prefix(PREFIX).ok_or_else(cannot)?;
        let bytes = B64.decode(body.as_bytes()).map_err(|_| cannot())?;
        if bytes.len() < NONCE_LEN {
            return Err(cannot());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| cannot())
    }

    /// Opens a text value.
    pub fn open_str(&self, aad: &str, stored: &str) -> Result<String> {
        String::from_utf8(self.open(aad, stored)?)
            .map_err(|_| Error::Internal("a stored secret is not text".to_string()))
    }
}

/// True when `stored` is a sealed value rather than a clear one left by an older version.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_row() {
        let sb = SecretBox::random();
        let sealed = sb.seal_str("psk:1", "hunter2").expect("seal");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(sb.open_str("psk:1", &sealed).expect("open"), "hunter2");
        assert!(sb.open_str("psk:2", &sealed).is_err(), "another row");
        assert!(
            SecretBox::random().open_str("psk:1", &sealed).is_err(),
            "another key"
        );
        assert_ne!(
            sealed,
            sb.seal_str("psk:1", "hunter2").expect("seal"),
            "fresh nonce"
        );
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("rehome-key-{}", uuid::Uuid::new_v4()));
        let path = dir.join(KEY_FILE);
        let first = SecretBox::from_key_file(&path).expect("create");
        let sealed = first.seal_str("x", "v").expect("seal");
        let again = SecretBox::from_key_file(&path).expect("reuse");
        assert_eq!(again.open_str("x", &sealed).expect("open"), "v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
