//! Properties over generated descriptors: binary and SDDL round trips, translation idempotence,
//! and mutated binaries that never panic and, when accepted, are written back unchanged.

use secdesc::translate::{translate, SidMap, TranslateMode, TranslateOptions};
use secdesc::SecurityDescriptor;

use crate::gen::{self, Rng};

#[test]
fn generated_descriptors_round_trip_through_binary_and_sddl() {
    let mut rng = Rng::new(1);
    for i in 0..3000 {
        let sd = gen::descriptor(&mut rng);
        let bytes = sd.to_bytes();
        let back = SecurityDescriptor::from_bytes(&bytes)
            .unwrap_or_else(|e| panic!("#{} {:?}: {}", i, sd, e));
        assert_eq!(back, sd, "#{}", i);
        assert_eq!(back.to_bytes(), bytes);
        let sddl = sd.to_sddl(None);
        let again = SecurityDescriptor::from_sddl(&sddl, None)
            .unwrap_or_else(|e| panic!("#{} {}: {}", i, sddl, e));
        assert_eq!(again, sd, "#{} {}", i, sddl);
    }
}

#[test]
fn translating_twice_equals_translating_once() {
    let mut rng = Rng::new(2);
    for i in 0..2000 {
        let sd = gen::descriptor(&mut rng);
        let map: SidMap = (0..1 + rng.below(4))
            .map(|_| (gen::sid(&mut rng), gen::sid(&mut rng)))
            .collect();
        // A map whose targets are also sources chains; real maps go from one directory to another.
        if map.iter().any(|(_, to)| map.get(to).is_some()) {
            continue;
        }
        for mode in [TranslateMode::Add, TranslateMode::Replace] {
            let options = TranslateOptions {
                mode,
                owner_and_group: rng.below(2) == 0,
            };
            let mut once = sd.clone();
            translate(&mut once, &map, &options).unwrap();
            let mut twice = once.clone();
            let changes = translate(&mut twice, &map, &options).unwrap();
            assert_eq!(twice, once, "#{} {:?}", i, options);
            assert!(changes.is_empty(), "#{} {:?}", i, changes);
            assert!(once.try_to_bytes().is_ok());
        }
    }
}

#[test]
fn mutated_binaries_never_panic_and_write_back_unchanged_when_accepted() {
    let mut rng = Rng::new(3);
    let mut accepted = 0;
    for _ in 0..20000 {
        let mut bytes = gen::descriptor(&mut rng).to_bytes();
        for _ in 0..1 + rng.below(3) {
            match rng.below(3) {
                0 if !bytes.is_empty() => {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] = rng.next() as u8;
                }
                1 if !bytes.is_empty() => {
                    let keep = rng.below(bytes.len() as u64) as usize;
                    bytes.truncate(keep);
                }
                _ => bytes.push(rng.next() as u8),
            }
        }
        if let Ok(sd) = SecurityDescriptor::from_bytes(&bytes) {
            accepted += 1;
            assert_eq!(sd.to_bytes(), bytes);
            let _ = sd.to_sddl(None);
        }
    }
    assert!(
        accepted > 1000,
        "the mutations are too destructive to test anything: {}",
        accepted
    );
}

/// Fifty nested negations read, are written as `!(…)` fifty deep, and read back: the reader
/// counts `!(` as one level, as the writer means it (found by fuzzing).
#[test]
fn deeply_negated_conditions_written_back_read_back() {
    let domain: secdesc::Sid = "S-1-5-21-1-2-3".parse().expect("sid");
    let text = format!("S:(XU;SA;FA;;;SA;({}Member_of_Any 0x10))", "!".repeat(50));
    let sd = secdesc::SecurityDescriptor::from_sddl(&text, Some(&domain)).expect("reads");
    let written = sd.to_sddl(Some(&domain));
    let again = secdesc::SecurityDescriptor::from_sddl(&written, Some(&domain))
        .expect("written SDDL reads back");
    assert_eq!(again, sd, "{}", written);
}
