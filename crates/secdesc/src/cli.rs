//! The operations behind `rehome secdesc`, without the argument parsing: each takes one item
//! (an SDDL string or a hex descriptor) and returns one line, and [`each_line`] runs one of them
//! over a stream, one item per line.

use std::io::{BufRead, Write};

use crate::explain::explain;
use crate::translate::{translate, SidMap, TranslateOptions};
use crate::{Domains, Error, Result, SecurityDescriptor};

/// SDDL → the self-relative binary form as lower-case hex.
pub fn sddl_to_hex(sddl: &str, domains: &Domains) -> Result<String> {
    let sd = SecurityDescriptor::from_sddl_with(sddl.trim(), domains)?;
    Ok(hex_encode(&sd.try_to_bytes()?))
}

/// Hex of a self-relative descriptor → SDDL.
pub fn hex_to_sddl(hex: &str, domains: &Domains) -> Result<String> {
    let sd = SecurityDescriptor::from_bytes(&hex_decode(hex)?)?;
    sd.try_to_sddl(domains)
}

/// SDDL → translated SDDL.
pub fn translate_sddl(
    sddl: &str,
    map: &SidMap,
    options: &TranslateOptions,
    domains: &Domains,
) -> Result<String> {
    let mut sd = SecurityDescriptor::from_sddl_with(sddl.trim(), domains)?;
    translate(&mut sd, map, options)?;
    sd.try_to_sddl(domains)
}

/// SDDL or hex → who has what, one line per part and ACE.
pub fn explain_text(input: &str, domains: &Domains) -> Result<Vec<String>> {
    let input = input.trim();
    let sd = if looks_like_hex(input) {
        SecurityDescriptor::from_bytes(&hex_decode(input)?)?
    } else {
        SecurityDescriptor::from_sddl_with(input, domains)?
    };
    Ok(explain(&sd, domains))
}

/// Hex of a binary descriptor starts with its revision, 01; SDDL never starts with a digit.
fn looks_like_hex(input: &str) -> bool {
    input.starts_with("01") && input.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Lower-case hex.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 15) as usize]);
    }
    // Only ASCII hex digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// Hex (either case, whitespace ignored) → bytes.
pub fn hex_decode(text: &str) -> Result<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let bad = |offset: usize, reason: &'static str| Error::Binary { offset, reason };
    if digits.len() % 2 != 0 {
        return Err(bad(digits.len() / 2, "odd number of hex digits"));
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let value = |c: u8| (c as char).to_digit(16);
            match (value(pair[0]), value(pair[1])) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(bad(i, "not a hex digit")),
            }
        })
        .collect()
}

/// Runs `op` on every line of `input` and writes one line per input line to `output`: the
/// result, or `error: …`. Empty lines give empty lines. Returns how many lines failed.
pub fn each_line<R: BufRead, W: Write>(
    mut input: R,
    output: &mut W,
    mut op: impl FnMut(&str) -> Result<String>,
) -> std::io::Result<usize> {
    let mut failed = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        let item = line.trim_end_matches(&['\r', '\n'][..]).trim();
        if item.is_empty() {
            output.write_all(b"\n")?;
            continue;
        }
        match op(item) {
            Ok(result) => {
                output.write_all(result.as_bytes())?;
                output.write_all(b"\n")?;
            }
            Err(e) => {
                failed += 1;
                writeln!(output, "error: {}", e)?;
            }
        }
    }
    output.flush()?;
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::TranslateMode;

    #[test]
    fn hex_and_sddl_convert_both_ways() {
        let d = Domains::default();
        let hex = sddl_to_hex("O:BAD:(A;;FA;;;WD)", &d).unwrap();
        assert!(hex.starts_with("01000480"));
        assert_eq!(
            hex_to_sddl(&hex.to_uppercase(), &d).unwrap(),
            "O:BAD:(A;;FA;;;WD)"
        );
        assert!(hex_to_sddl("01x", &d).is_err());
    }

    #[test]
    fn explain_takes_sddl_or_hex() {
        let d = Domains::default();
        let hex = sddl_to_hex("O:BA", &d).unwrap();
        assert_eq!(
            explain_text(&hex, &d).unwrap()[0],
            "owner: Administrators (S-1-5-32-544)"
        );
        assert_eq!(
            explain_text("O:BA", &d).unwrap()[0],
            "owner: Administrators (S-1-5-32-544)"
        );
    }

    #[test]
    fn each_line_reports_errors_in_place_and_counts_them() {
        let d = Domains::default();
        let input = "O:BA\nO:ZZ\n\r\nD:(A;;FA;;;WD)\r\n";
        let mut out = Vec::new();
        let failed = each_line(input.as_bytes(), &mut out, |s| sddl_to_hex(s, &d)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(failed, 1);
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("error: invalid SDDL at byte 2"));
        assert_eq!(lines[2], "");
    }

    #[test]
    fn translate_sddl_uses_the_map() {
        let map =
            SidMap::from_csv("source_sid,target_sid\nS-1-5-21-1-2-3-1001,S-1-5-21-4-5-6-1001\n")
                .unwrap();
        let options = TranslateOptions {
            mode: TranslateMode::Replace,
            owner_and_group: true,
        };
        let out = translate_sddl(
            "O:S-1-5-21-1-2-3-1001D:(A;;FA;;;S-1-5-21-1-2-3-1001)",
            &map,
            &options,
            &Domains::default(),
        )
        .unwrap();
        assert_eq!(out, "O:S-1-5-21-4-5-6-1001D:(A;;FA;;;S-1-5-21-4-5-6-1001)");
    }
}
