//! The system serial number in raw SMBIOS tables (DMTF DSP0134): the structure of type 1
//! (System Information) names its serial by the index of a string in its string set.

/// The serial of the first type-1 structure in `tables`; `None` when there is none, when it is
/// blank, or when it is a placeholder firmware leaves in (`To Be Filled By O.E.M.`, `Default
/// string`, `0`).
pub fn system_serial(tables: &[u8]) -> Option<String> {
    let mut at = 0;
    while at + 4 <= tables.len() {
        let kind = tables[at];
        let len = tables[at + 1] as usize;
        if len < 4 || at + len > tables.len() {
            return None;
        }
        // The strings follow the formatted part and end with a double NUL.
        let strings_start = at + len;
        let mut end = strings_start;
        while end + 1 < tables.len() && !(tables[end] == 0 && tables[end + 1] == 0) {
            end += 1;
        }
        if end + 1 >= tables.len() {
            return None;
        }
        if kind == 1 {
            // Offset 7: the serial number's string index (1-based, 0 = none).
            let index = *tables.get(at + 7)? as usize;
            if index == 0 || len < 8 {
                return None;
            }
            let strings: Vec<&[u8]> = tables[strings_start..end].split(|&b| b == 0).collect();
            let serial = String::from_utf8_lossy(strings.get(index - 1)?)
                .trim()
                .to_string();
            let placeholder = ["", "0", "To Be Filled By O.E.M.", "Default string", "None"];
            if placeholder.iter().any(|p| p.eq_ignore_ascii_case(&serial)) {
                return None;
            }
            return Some(serial);
        }
        if kind == 127 {
            return None;
        }
        at = end + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::system_serial;

    /// A type-0 (BIOS) structure with one string, then a type-1 structure whose serial is its
    /// third string, then the end-of-table structure.
    fn tables(serial: &str) -> Vec<u8> {
        let mut t = vec![0, 4, 0, 0];
        t.extend_from_slice(b"BIOS vendor\0\0");
        let mut system = vec![1u8, 8, 1, 0, 1, 2, 3, 3];
        system.extend_from_slice(b"Contoso\0Laptop 7\0");
        system.extend_from_slice(serial.as_bytes());
        system.extend_from_slice(b"\0\0");
        t.extend(system);
        t.extend_from_slice(&[127, 4, 2, 0, 0, 0]);
        t
    }

    #[test]
    fn the_serial_of_the_system_structure() {
        assert_eq!(
            system_serial(&tables("5CG1234XYZ")),
            Some("5CG1234XYZ".to_string())
        );
    }

    #[test]
    fn placeholders_and_truncated_tables_give_none() {
        assert_eq!(system_serial(&tables("To Be Filled By O.E.M.")), None);
        let t = tables("5CG1234XYZ");
        assert_eq!(system_serial(&t[..20]), None);
        assert_eq!(system_serial(&[]), None);
    }
}
