//! Any bytes as a command package the agent received: reading its entry names never panics and
//! never reads outside the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(names) = model::package_entry::zip_entry_names(data) {
        assert!(names.len() <= data.len() / 46 + 1);
        for name in &names {
            let _ = model::package_entry::entry_problem(name);
        }
    }
});
