//! Password hashing (Argon2id, the crate's default parameters), generation and policy.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};

use crate::{Error, Result};

/// Shortest password the policy accepts.
pub const MIN_LENGTH: usize = 12;

/// Length of generated passwords (bootstrap, reset): about 143 bits from 62 symbols.
const GENERATED_LENGTH: usize = 24;

/// A fresh random password for bootstrap and reset.
pub fn generate() -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(GENERATED_LENGTH)
        .map(char::from)
        .collect()
}

/// The Argon2id PHC string of `password`. Slow on purpose: run it off the async threads.
pub async fn hash(password: &str) -> Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("hash password: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("hash task: {e}")))?
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub async fn verify(password: &str, phc: &str) -> bool {
    let password = password.to_string();
    let phc = phc.to_string();
    tokio::task::spawn_blocking(move || match PasswordHash::new(&phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody has, verified against when the user name is unknown so that an
/// unknown name takes as long to refuse as a wrong password.
pub async fn dummy_hash() -> &'static str {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async { hash(&generate()).await.unwrap_or_default() })
        .await
}

/// Checks a new password against the policy, naming `field` in the error.
pub fn check_policy(field: &str, user_name: &str, new: &str, current: Option<&str>) -> Result<()> {
    if new.chars().count() < MIN_LENGTH {
        return Err(Error::field(
            field,
            format!("use at least {MIN_LENGTH} characters"),
        ));
    }
    if new.eq_ignore_ascii_case(user_name) {
        return Err(Error::field(field, "must not be the user name"));
    }
    if current == Some(new) {
        return Err(Error::field(field, "must differ from the current password"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse battery").await.expect("hash");
        let b = hash("correct horse battery").await.expect("hash");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &a).await);
        assert!(!verify("correct horse batterY", &a).await);
        assert!(!verify("x", "not a hash").await);
    }

    #[test]
    fn policy_names_the_field_and_the_rule() {
        assert!(check_policy("new", "alice", "short", None).is_err());
        assert!(check_policy("new", "alice-the-admin", "Alice-The-Admin", None).is_err());
        assert!(check_policy(
            "new",
            "alice",
            "same-old-password",
            Some("same-old-password")
        )
        .is_err());
        assert!(check_policy("new", "alice", "a-good-long-password", Some("other")).is_ok());
        let generated = generate();
        assert!(generated.len() >= 20);
        assert!(check_policy("new", "admin", &generated, None).is_ok());
    }
}
