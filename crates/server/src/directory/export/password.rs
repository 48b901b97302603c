//! The password a new account is created with: random, never stored, never shown, long and of
//! every character class, so it meets any complexity policy a target has (AD's default asks for
//! seven characters of three classes; Entra ID's for eight of three). The account is created
//! disabled; whoever enables it sets a password the user knows.

use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use rand::Rng;

/// Characters of a generated password.
pub const LENGTH: usize = 24;

const CLASSES: [&[u8]; 4] = [
    b"ABCDEFGHJKLMNPQRSTUVWXYZ",
    b"abcdefghijkmnopqrstuvwxyz",
    b"23456789",
    b"!#%+-.:=?@_~",
];

/// A new random password with at least one character of each class.
pub fn generate() -> String {
    let mut rng = OsRng;
    let mut chars: Vec<u8> = CLASSES
        .iter()
        .map(|class| class[rng.gen_range(0..class.len())])
        .collect();
    let all: Vec<u8> = CLASSES.concat();
    while chars.len() < LENGTH {
        chars.push(all[rng.gen_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    chars.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_password_has_every_class_and_no_two_are_alike() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        for p in [&a, &b] {
            assert_eq!(p.len(), LENGTH);
            for class in CLASSES {
                assert!(p.bytes().any(|c| class.contains(&c)), "{p}");
            }
        }
    }
}
