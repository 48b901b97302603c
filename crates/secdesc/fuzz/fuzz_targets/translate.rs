//! A map and options from the first bytes, a binary descriptor from the rest: translation never
//! panics, never leaves an ACL past 64 KiB, changes nothing when it fails, and a second run
//! changes nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secdesc::translate::{translate, SidMap, TranslateMode, TranslateOptions};
use secdesc::{SecurityDescriptor, Sid};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (head, body) = data.split_at(2);
    let mut sd = match SecurityDescriptor::from_bytes(body) {
        Ok(sd) => sd,
        Err(_) => return,
    };
    let mode = if head[0] & 1 == 0 {
        TranslateMode::Add
    } else {
        TranslateMode::Replace
    };
    let options = TranslateOptions {
        mode,
        owner_and_group: head[0] & 2 != 0,
    };
    // Map the first few SIDs the descriptor names to SIDs no source uses, so the map does not
    // chain (a chained map is not idempotent by design).
    let sources: Vec<Sid> = sd
        .sids()
        .take(1 + (head[1] % 4) as usize)
        .cloned()
        .collect();
    let map: SidMap = sources
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            (
                s,
                Sid::new(
                    99,
                    &[head[1] as u32, i as u32, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7],
                )
                .unwrap(),
            )
        })
        .collect();
    let before = sd.clone();
    match translate(&mut sd, &map, &options) {
        Ok(_) => {
            sd.try_to_bytes()
                .expect("a translated descriptor fits the binary form");
            let mut again = sd.clone();
            let changes = translate(&mut again, &map, &options).expect("a second run fits too");
            assert!(changes.is_empty(), "{:?}", changes);
            assert_eq!(again, sd);
        }
        Err(_) => assert_eq!(sd, before),
    }
});
