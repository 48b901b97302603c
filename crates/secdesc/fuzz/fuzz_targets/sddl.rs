//! Any text: reading SDDL never panics, and what is accepted is written back as SDDL that
//! reads to the same descriptor, and as a binary form that reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secdesc::{SecurityDescriptor, Sid};

fuzz_target!(|data: &[u8]| {
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(_) => return,
    };
    let domain: Sid = "S-1-5-21-1-2-3".parse().unwrap();
    let sd = match SecurityDescriptor::from_sddl(text, Some(&domain)) {
        Ok(sd) => sd,
        Err(_) => return,
    };
    let sddl = sd.to_sddl(Some(&domain));
    let again =
        SecurityDescriptor::from_sddl(&sddl, Some(&domain)).expect("written SDDL reads back");
    assert_eq!(again, sd, "{:?} -> {:?}", text, sddl);
    let bytes = sd
        .try_to_bytes()
        .expect("a parsed descriptor fits the binary form");
    assert_eq!(
        SecurityDescriptor::from_bytes(&bytes).expect("written binary reads back"),
        sd
    );
});
