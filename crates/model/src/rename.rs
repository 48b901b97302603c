//! Computer rename templates: `%SERIAL%` becomes the device's serial number and `%RAND:X%`
//! X random digits. The result must be a valid NetBIOS computer name.

use crate::{Error, Result};

/// The longest NetBIOS computer name.
pub const MAX_NAME: usize = 15;

/// Characters Windows refuses in a computer name.
const FORBIDDEN: &[char] = &[
    '\\', '/', ':', '*', '?', '"', '<', '>', '|', ',', '~', '!', '@', '#', '$', '%', '^', '&',
    '\'', '.', '(', ')', '{', '}', '_', ' ',
];

enum Part<'a> {
    Text(&'a str),
    Serial,
    Random(usize),
}

fn parts(template: &str) -> Result<Vec<Part<'_>>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('%') {
        if start > 0 {
            out.push(Part::Text(&rest[..start]));
        }
        let after = &rest[start + 1..];
        let end = after.find('%').ok_or_else(|| {
            Error::field(
                "device_state.rename.template",
                "a % is not closed: use %SERIAL% or %RAND:X%",
            )
        })?;
        let token = &after[..end];
        if token.eq_ignore_ascii_case("SERIAL") {
            out.push(Part::Serial);
        } else if let Some(count) = token
            .strip_prefix("RAND:")
            .or_else(|| token.strip_prefix("rand:"))
        {
            let digits: usize = count
                .parse()
                .ok()
                .filter(|n| (1..=MAX_NAME).contains(n))
                .ok_or_else(|| {
                    Error::field(
                        "device_state.rename.template",
                        "%RAND:X% takes a number of digits from 1 to 15",
                    )
                })?;
            out.push(Part::Random(digits));
        } else {
            return Err(Error::field(
                "device_state.rename.template",
                format!("%{}% is not a placeholder: use %SERIAL% or %RAND:X%", token),
            ));
        }
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    Ok(out)
}

/// Checks that `name` is a valid NetBIOS computer name.
pub fn check_name(name: &str) -> Result<()> {
    let field = "device_state.rename.template";
    if name.is_empty() {
        return Err(Error::field(field, "the computer name would be empty"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::field(
            field,
            format!("{:?} is longer than {} characters", name, MAX_NAME),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| FORBIDDEN.contains(c) || c.is_control() || !c.is_ascii())
    {
        return Err(Error::field(
            field,
            format!("{:?} may not be in a computer name", c),
        ));
    }
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::field(field, "a computer name cannot be only digits"));
    }
    if name.starts_with('-') {
        return Err(Error::field(
            field,
            "a computer name cannot start with a hyphen",
        ));
    }
    Ok(())
}

/// Checks a template when a runbook is saved: placeholders are known, and the fixed parts plus
/// random digits fit (the serial's length is only known on the device).
pub fn check_template(template: &str) -> Result<()> {
    let mut shortest = String::new();
    let mut has_serial = false;
    for part in parts(template)? {
        match part {
            Part::Text(text) => shortest.push_str(text),
            Part::Serial => has_serial = true,
            Part::Random(n) => shortest.push_str(&"1".repeat(n)),
        }
    }
    if has_serial && shortest.is_empty() {
        return Ok(());
    }
    if has_serial {
        // Fixed parts alone must leave room for at least one serial character.
        if shortest.chars().count() >= MAX_NAME {
            return Err(Error::field(
                "device_state.rename.template",
                "the fixed parts leave no room for the serial within 15 characters",
            ));
        }
        return check_name(&format!("{}X", shortest));
    }
    check_name(&shortest)
}

/// Builds the new name for a device with `serial`, drawing random digits from `digit` (0–9).
pub fn expand(template: &str, serial: &str, mut digit: impl FnMut() -> u8) -> Result<String> {
    let mut name = String::new();
    for part in parts(template)? {
        match part {
            Part::Text(text) => name.push_str(text),
            // Serial numbers often carry spaces or dots; keep only what a name may hold.
            Part::Serial => name.extend(
                serial
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-'),
            ),
            Part::Random(n) => {
                for _ in 0..n {
                    name.push(char::from(b'0' + digit() % 10));
                }
            }
        }
    }
    check_name(&name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_serial_and_random_digits() {
        let mut n = 0u8;
        let name = expand("LT-%SERIAL%-%RAND:3%", "5CG 12.34", || {
            n += 1;
            n
        })
        .unwrap();
        assert_eq!(name, "LT-5CG1234-123");
    }

    /// The one field error of `result`, as (field, message).
    fn refusal<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
        match result {
            Err(Error::Invalid(errors)) if errors.len() == 1 => {
                (errors[0].field.clone(), errors[0].message.clone())
            }
            other => panic!("expected one field error, got {:?}", other),
        }
    }

    #[test]
    fn refuses_names_too_long_or_malformed_templates() {
        let field = "device_state.rename.template";
        // (template, what the message says)
        let refused = [
            ("PC-%RAND:13%", "longer than 15 characters"),
            ("PC-%NAME%", "%NAME% is not a placeholder"),
            ("PC-%RAND:0%", "from 1 to 15"),
            ("PC_%RAND:4%", "'_' may not be in a computer name"),
            ("%RAND:5%", "cannot be only digits"),
            ("ABCDEFGHIJKLMNO%SERIAL%", "no room for the serial"),
            ("PC-%SERIAL", "a % is not closed"),
        ];
        for (template, why) in refused {
            let (f, message) = refusal(check_template(template));
            assert_eq!(f, field, "{}", template);
            assert!(message.contains(why), "{}: {}", template, message);
        }
        for template in ["PC-%RAND:12%", "%SERIAL%"] {
            assert!(check_template(template).is_ok(), "{}", template);
        }
        let (f, message) = refusal(expand("LAPTOP-%SERIAL%", "ABCDEFGHIJ", || 0));
        assert_eq!(f, field);
        assert!(message.contains("longer than 15 characters"), "{}", message);
        assert_eq!(
            expand("LAPTOP-%SERIAL%", "ABCDEFGH", || 0).expect("fits"),
            "LAPTOP-ABCDEFGH"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let (field, message) = refusal(check_template("PC-%X%"));
        assert_eq!(field, "device_state.rename.template");
        assert!(message.contains("%X% is not a placeholder"), "{}", message);
    }
}
