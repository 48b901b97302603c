//! Any bytes as an uploaded command package: the zip checks never panic, never read more than
//! the limits allow, and a package they accept has `cmdline.cmd` at its root and only entry
//! names that stay inside the package's folder on Windows.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use command_package::check;

fuzz_target!(|data: &[u8]| {
    let summary = match check(data) {
        Ok(summary) => summary,
        Err(_) => return,
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(data)).expect("an accepted zip opens");
    assert_eq!(archive.len(), summary.entries);
    let mut script = false;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).expect("an accepted entry reads");
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        assert_eq!(model::package_entry::entry_problem(&name), None, "{name:?}");
        assert!(!entry.is_symlink() && !entry.encrypted());
        script |= name.eq_ignore_ascii_case("cmdline.cmd");
    }
    assert!(script);
});
