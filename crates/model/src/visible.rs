//! Names people type and read: no character that is invisible, or that steers how the text
//! around it is shown. A name with a zero-width space looks like one without it, and a
//! right-to-left override shows a name other than the one stored.

use crate::Validator;

/// True for a control character (Unicode category Cc: NUL, tab, newline, DEL, C1 controls) or a
/// format character (category Cf: soft hyphen, zero-width spaces and joiners, direction marks
/// and overrides, the byte-order mark, tags).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{AD}'
                | '\u{600}'..='\u{605}'
                | '\u{61C}'
                | '\u{6DD}'
                | '\u{70F}'
                | '\u{890}'..='\u{891}'
                | '\u{8E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

/// Why `name` may not be shown as typed: the first hidden character in it, as a message.
pub fn hidden_in(name: &str) -> Option<String> {
    name.chars().find(|c| is_hidden(*c)).map(|c| {
        format!(
            "remove the control or invisible character U+{:04X}: a name must read as it is stored",
            c as u32
        )
    })
}

/// Records on `v` that `field` holds a hidden character, if it does.
pub fn check_name(v: &mut Validator, field: &str, name: &str) {
    if let Some(message) = hidden_in(name) {
        v.fail(field, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_format_characters_are_hidden_and_letters_are_not() {
        for c in [
            '\0',
            '\t',
            '\n',
            '\u{7F}',
            '\u{9F}',
            '\u{AD}',
            '\u{200B}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2064}',
            '\u{FEFF}',
            '\u{E0041}',
        ] {
            assert!(is_hidden(c), "U+{:04X}", c as u32);
        }
        for c in [
            'a',
            'Z',
            'é',
            'ß',
            '字',
            ' ',
            '-',
            '\u{A0}',
            '\u{2010}',
            '\u{1F600}',
        ] {
            assert!(!is_hidden(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn the_message_names_the_character() {
        assert_eq!(hidden_in("CONTOSO"), None);
        assert_eq!(hidden_in("Zürich Büro"), None);
        let message = hidden_in("CONTOSO\u{200B}").expect("refused");
        assert!(message.contains("U+200B"), "{}", message);
        assert!(hidden_in("NUL\0X").expect("refused").contains("U+0000"));
    }
}
