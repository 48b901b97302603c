//! Password hashing (Argon2id with the crate's default parameters, in caller-provided working
//! memory so [`super::gate`] can reuse it), generation and policy.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};

use crate::{Error, Result};

/// Shortest password the policy accepts.
pub const MIN_LENGTH: usize = 12;

/// Length of generated passwords (bootstrap, reset): about 143 bits from 62 symbols.
const GENERATED_LENGTH: usize = 24;

/// A hash of a password nobody has (random output bytes), checked against when a login cannot be
/// checked against the account (unknown name, locked account), so that every refusal costs the
/// same time as a wrong password.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$0gmZHu7MUgzPU8D9BiCrvw$MpUNQhYJqQfEg8UIV7Hs/i4+RWZpDmomKzu0/vsMoFM";

/// Common passwords and the words they are built on, lower case, one a line; a password that is
/// one of them, give or take digits and symbols at either end, is refused.
const COMMON: &str = include_str!("common_passwords.txt");

/// A fresh random password for bootstrap and reset.
pub fn generate() -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(GENERATED_LENGTH)
        .map(char::from)
        .collect()
}

/// The Argon2id PHC string of `password`, computed in `memory` (grown as needed). Slow on
/// purpose: run it off the async threads, through [`super::gate::PasswordGate`].
pub fn hash_with(password: &str, memory: &mut Vec<Block>) -> Result<String> {
    let params = Params::default();
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let salt_text =
        SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    memory.resize(params.block_count(), Block::default());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut memory[..])
        .map_err(|e| Error::Internal(format!("hash password: {e}")))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| Error::Internal(format!("hash parameters: {e}")))?,
        salt: Some(salt_text.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| Error::Internal(format!("hash output: {e}")))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`, computed in `memory` (grown as needed). A
/// malformed stored hash never matches.
pub fn verify_with(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_err()
    {
        return false;
    }
    // Output's equality is constant-time.
    Output::new(&out).is_ok_and(|out| out == expected)
}

/// Checks a new password against the policy, naming `field` in the error: at least
/// [`MIN_LENGTH`] characters, not the user name, not mostly one repeated or sequential run
/// (`aaaaaaaaaaaa`, `123456789012`, `abcabcabcabc`), not a common password, not the current one.
pub fn check_policy(field: &str, user_name: &str, new: &str, current: Option<&str>) -> Result<()> {
    if new.chars().count() < MIN_LENGTH {
        return Err(Error::field(
            field,
            format!("use at least {MIN_LENGTH} characters"),
        ));
    }
    let lower = new.to_lowercase();
    let name = user_name.to_lowercase();
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    if lower == name || core == name {
        return Err(Error::field(field, "must not be the user name"));
    }
    if is_repetitive(&lower) {
        return Err(Error::field(
            field,
            "is made of repeated or sequential characters; use several unrelated words",
        ));
    }
    if is_common(&lower) {
        return Err(Error::field(
            field,
            "is a commonly used password; use several unrelated words",
        ));
    }
    if current == Some(new) {
        return Err(Error::field(field, "must differ from the current password"));
    }
    Ok(())
}

/// True when the password repeats a short unit (`abcabcabcabc`) or when most steps between
/// neighbouring characters stay on the same key or move to the next or previous one
/// (`aaaaaaaaaaaa`, `123456789012`, `zyxwvutsrqpo`).
fn is_repetitive(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    let n = chars.len();
    let repeats_unit = (1..=n / 2).any(|unit| (unit..n).all(|i| chars[i] == chars[i - unit]));
    if repeats_unit {
        return true;
    }
    let steps = chars
        .windows(2)
        .filter(|w| is_small_step(w[0], w[1]))
        .count();
    steps * 4 >= (n - 1) * 3
}

fn is_small_step(a: char, b: char) -> bool {
    let (a, b) = (a as i64, b as i64);
    let diff = b - a;
    // 9 to 0 continues a run of digits, as on the keyboard's top row.
    diff.abs() <= 1 || (a == '9' as i64 && b == '0' as i64) || (a == '0' as i64 && b == '9' as i64)
}

/// True when `lower`, or `lower` without digits and symbols at either end, is on the common list.
fn is_common(lower: &str) -> bool {
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    let compact: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    COMMON
        .lines()
        .map(str::trim)
        .filter(|w| !w.is_empty() && !w.starts_with('#'))
        .any(|w| w == lower || w == core || w == compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_differ_by_salt_and_fit_the_standard_verifier() {
        use argon2::password_hash::PasswordVerifier;
        let mut memory = Vec::new();
        let a = hash_with("correct horse battery", &mut memory).expect("hash");
        let b = hash_with("correct horse battery", &mut memory).expect("hash");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify_with("correct horse battery", &a, &mut memory));
        assert!(!verify_with("correct horse batterY", &a, &mut memory));
        assert!(!verify_with("x", "not a hash", &mut memory));
        // Hashes stored by earlier versions (the crate's own hasher) still verify, and back.
        let parsed = PasswordHash::new(&a).expect("phc");
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::generate(&mut OsRng);
        let old = Argon2::default()
            .hash_password(b"an older password", &salt)
            .expect("hash")
            .to_string();
        assert!(verify_with("an older password", &old, &mut memory));
        assert!(!verify_with("an older password", DUMMY_HASH, &mut memory));
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

    #[test]
    fn policy_refuses_repeats_runs_names_and_common_passwords() {
        let refused = |pw: &str| check_policy("new", "alice.smith", pw, None).unwrap_err();
        for weak in [
            "aaaaaaaaaaaa",
            "abcabcabcabc",
            "123456789012",
            "abcdefghijklm",
            "zyxwvutsrqpo",
            "111122223333",
        ] {
            let e = refused(weak).to_string();
            assert!(e.contains("new"), "{weak}: {e}");
            let Error::Invalid(fields) = refused(weak) else {
                panic!("not a field error")
            };
            assert!(fields[0].message.contains("repeated"), "{weak}: {fields:?}");
        }
        for common in [
            "password1234",
            "Password1234!",
            "P@ssw0rd2024!!",
            "qwertyuiop12",
            "iloveyou2025",
            "!!Welcome2025",
            "Dragon-2025-!!",
        ] {
            let Error::Invalid(fields) = refused(common) else {
                panic!("not a field error")
            };
            assert!(fields[0].message.contains("common"), "{common}: {fields:?}");
        }
        let Error::Invalid(fields) = refused("Alice.Smith-2024!") else {
            panic!("not a field error")
        };
        assert!(fields[0].message.contains("user name"), "{fields:?}");
        for fine in [
            "correct horse battery",
            "a-fine-new-password",
            "Tulip-Granite-Oboe-7",
            "secret-user-pass-1",
        ] {
            assert!(
                check_policy("new", "alice.smith", fine, None).is_ok(),
                "{fine}"
            );
        }
    }
}
