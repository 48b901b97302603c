//! Any text as a computer-list CSV: reading never panics, and a list that reads is written back
//! as CSV that reads to the same list, every cell through the CSV guard.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::computer_list::{parse, write};

/// The cells of one line `write` produced, as a spreadsheet shows them: every cell is quoted,
/// `""` inside is one quote.
fn cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut chars = line.chars().peekable();
    while chars.next() == Some('"') {
        let mut cell = String::new();
        loop {
            match chars.next() {
                Some('"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                Some('"') | None => break,
                Some(c) => cell.push(c),
            }
        }
        cells.push(cell);
        if chars.next() != Some(',') {
            break;
        }
    }
    cells
}

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
        let cells = cells(line);
        assert_eq!(cells.len(), 2, "every written line has two quoted cells: {line:?}");
        for cell in cells {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {line:?}"
            );
        }
    }
    assert_eq!(parse(&written).expect("written CSV reads back"), computers);
});
