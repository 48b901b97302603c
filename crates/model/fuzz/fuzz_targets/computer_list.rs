//! Any text as a computer-list CSV: reading never panics, and a list that reads is written back
//! as CSV that reads to the same list, every cell through the CSV guard.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::computer_list::{parse, write};

fuzz_target!(|data: &[u8]| {
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(_) => return,
    };
    let computers = match parse(text) {
        Ok(computers) => computers,
        Err(bad) => {
            assert!(!bad.is_empty(), "a refusal names at least one line");
            return;
        }
    };
    let written = write(&computers);
    for line in written.lines() {
        for cell in line.split("\",\"") {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "a cell a spreadsheet would run: {line:?}"
            );
        }
    }
    assert_eq!(parse(&written).expect("written CSV reads back"), computers);
});
