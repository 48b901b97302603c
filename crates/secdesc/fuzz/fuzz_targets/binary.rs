//! Any bytes: reading never panics, and every accepted buffer is written back byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secdesc::SecurityDescriptor;

fuzz_target!(|data: &[u8]| {
    if let Ok(sd) = SecurityDescriptor::from_bytes(data) {
        assert_eq!(sd.to_bytes(), data);
        let _ = sd.to_sddl(None);
        let _ = sd.sids().count();
    }
});
