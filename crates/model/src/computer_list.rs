//! The computer list of a batch as CSV: columns `name` and `objectGuid`. Import also takes what
//! `Get-ADComputer … | Select-Object Name, ObjectGUID | Export-Csv` writes: a byte-order mark, a
//! `#TYPE` line, `"Name","ObjectGUID"` headings in any letter case, quoted fields and spaces after
//! commas. A bad row is reported with its line number and nothing is applied.

use std::fmt;

use uuid::Uuid;

use crate::ids::ObjectGuid;

/// One computer of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedComputer {
    /// Its name.
    pub name: String,
    /// Its objectGUID.
    pub guid: ObjectGuid,
}

/// A line of the file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Splits one CSV line into fields: commas separate, double quotes enclose, `""` is a quote,
/// spaces around fields are dropped.
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') || chars.peek() == Some(&'\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".to_string()),
                }
            }
            while chars.peek() == Some(&' ') || chars.peek() == Some(&'\t') {
                chars.next();
            }
            match chars.next() {
                None => {
                    out.push(field);
                    return Ok(out);
                }
                Some(',') => out.push(field),
                Some(c) => return Err(format!("unexpected {:?} after a quoted field", c)),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        out.push(field.trim_end().to_string());
                        return Ok(out);
                    }
                    Some(',') => {
                        out.push(field.trim_end().to_string());
                        break;
                    }
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

/// Reads a computer list. Every bad line is reported; on any, nothing is returned to apply.
pub fn parse(text: &str) -> Result<Vec<ListedComputer>, Vec<BadLine>> {
    parse_numbered(text).map(|rows| rows.into_iter().map(|(_, c)| c).collect())
}

/// [`parse`], with the 1-based line number each computer was read from.
pub fn parse_numbered(text: &str) -> Result<Vec<(usize, ListedComputer)>, Vec<BadLine>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut columns: Option<(usize, usize)> = None;
    let mut computers = Vec::new();
    let mut bad = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || (columns.is_none() && trimmed.starts_with("#TYPE")) {
            continue;
        }
        let row = match fields(trimmed) {
            Ok(row) => row,
            Err(message) => {
                bad.push(BadLine { line, message });
                continue;
            }
        };
        let (name_at, guid_at) = match columns {
            Some(c) => c,
            None => {
                let find =
                    |want: &str| row.iter().position(|h| h.trim().eq_ignore_ascii_case(want));
                match (find("name"), find("objectGuid")) {
                    (Some(n), Some(g)) => {
                        columns = Some((n, g));
                    }
                    _ => {
                        bad.push(BadLine {
                            line,
                            message: "the first line must be the headings name,objectGuid"
                                .to_string(),
                        });
                        return Err(bad);
                    }
                }
                continue;
            }
        };
        let name = row
            .get(name_at)
            .map(|s| crate::csv_guard::unguard(s.trim()))
            .unwrap_or("");
        let guid = row.get(guid_at).map(|s| s.trim()).unwrap_or("");
        if name.is_empty() {
            bad.push(BadLine {
                line,
                message: "the name is empty".to_string(),
            });
            continue;
        }
        match Uuid::parse_str(guid.trim_start_matches('{').trim_end_matches('}')) {
            Ok(uuid) => {
                let guid = ObjectGuid(uuid);
                if computers
                    .iter()
                    .any(|(_, c): &(usize, ListedComputer)| c.guid == guid)
                {
                    bad.push(BadLine {
                        line,
                        message: format!("{} is listed twice", guid),
                    });
                } else {
                    computers.push((
                        line,
                        ListedComputer {
                            name: name.to_string(),
                            guid,
                        },
                    ));
                }
            }
            Err(_) => bad.push(BadLine {
                line,
                message: format!(
                    "{:?} is not a GUID such as 382b9c38-55d3-4996-9318-58529cd1f2f3",
                    guid
                ),
            }),
        }
    }
    if columns.is_none() {
        bad.push(BadLine {
            line: 1,
            message: "the file has no headings name,objectGuid".to_string(),
        });
    }
    if bad.is_empty() {
        Ok(computers)
    } else {
        Err(bad)
    }
}

fn quote(field: &str) -> String {
    let field = crate::csv_guard::guard(field);
    format!("\"{}\"", field.replace('"', "\"\""))
}

/// Writes a computer list that [`parse`] reads back.
pub fn write(computers: &[ListedComputer]) -> String {
    let mut out = String::from("\"name\",\"objectGuid\"\r\n");
    for c in computers {
        out.push_str(&quote(&c.name));
        out.push(',');
        out.push_str(&quote(&c.guid.to_string()));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_looks_like_a_formula_is_written_as_text_and_read_back() {
        let evil = ListedComputer {
            name: "=HYPERLINK(\"http://evil.example\",\"PC\")".to_string(),
            guid: ObjectGuid(Uuid::nil()),
        };
        let text = write(std::slice::from_ref(&evil));
        assert!(text.contains("\"'=HYPERLINK("), "{}", text);
        assert!(
            !text.contains(",\"=") && !text.contains("\n\"="),
            "{}",
            text
        );
        assert_eq!(parse(&text).unwrap(), vec![evil]);
    }

    #[test]
    fn a_name_opening_with_a_quote_reads_back_whole_and_is_not_guarded() {
        let text = "name,objectGuid\n\"\"\"=\"\"(0)\",{a4b4bc53-d734-48e0-be27-589342c91c3e}\n";
        let computers = parse(text).unwrap();
        assert_eq!(computers[0].name, "\"=\"(0)");
        let written = write(&computers);
        assert!(written.contains("\n\"\"\"=\"\"(0)\","), "{}", written);
        assert_eq!(parse(&written).unwrap(), computers);
    }

    #[test]
    fn reads_what_export_csv_writes() {
        let text = "\u{feff}#TYPE Selected.Microsoft.ActiveDirectory.Management.ADComputer\r\n\
                    \"Name\",\"ObjectGUID\"\r\n\
                    \"ALPHA1\",\"382b9c38-55d3-4996-9318-58529cd1f2f3\"\r\n\
                    \"BETA1\", \"a4b4bc53-d734-48e0-be27-589342c91c3e\"\r\n";
        let computers = parse(text).unwrap();
        assert_eq!(computers.len(), 2);
        assert_eq!(computers[1].name, "BETA1");
        assert_eq!(
            computers[1].guid.to_string(),
            "a4b4bc53-d734-48e0-be27-589342c91c3e"
        );
    }

    #[test]
    fn reads_plain_lowercase_headings_and_unquoted_fields() {
        let computers =
            parse("name, objectGuid\nGAMMA1, 5af7d51c-eb45-43fd-b0ce-37db64dfad61\n").unwrap();
        assert_eq!(computers[0].name, "GAMMA1");
    }

    #[test]
    fn every_bad_row_is_reported_by_line_and_nothing_is_applied() {
        let text = "name,objectGuid\nA,382b9c38-55d3-4996-9318-58529cd1f2f3\nB,not-a-guid\n,a4b4bc53-d734-48e0-be27-589342c91c3e\nC,382b9c38-55d3-4996-9318-58529cd1f2f3\n\"D,1\n";
        let bad = parse(text).unwrap_err();
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
        assert!(bad[0].to_string().starts_with("line 3:"));
    }

    #[test]
    fn missing_headings_are_refused() {
        let bad = parse("ALPHA1,382b9c38-55d3-4996-9318-58529cd1f2f3\n").unwrap_err();
        assert_eq!(bad[0].line, 1);
        assert!(parse("").is_err());
    }

    #[test]
    fn export_reads_back() {
        let computers = vec![ListedComputer {
            name: "Quote\"d".to_string(),
            guid: ObjectGuid(Uuid::parse_str("382b9c38-55d3-4996-9318-58529cd1f2f3").unwrap()),
        }];
        assert_eq!(parse(&write(&computers)).unwrap(), computers);
    }
}
