//! The QR code of a dialog's help page: the modules of its symbol, drawn by the dialog as
//! squares (qrcodegen, medium error correction, as phones read best from a screen).

use qrcodegen::{QrCode, QrCodeEcc};

/// The modules of the QR code holding `text`, row by row (true is dark), without the quiet
/// zone; `None` when the text is too long for any QR code.
pub fn modules(text: &str) -> Option<Vec<Vec<bool>>> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = code.size();
    Some(
        (0..size)
            .map(|y| (0..size).map(|x| code.get_module(x, y)).collect())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finder pattern: a dark 7x7 ring, a light ring, a dark 3x3 centre.
    fn finder_at(m: &[Vec<bool>], top: usize, left: usize) -> bool {
        (0..7).all(|y| {
            (0..7).all(|x| {
                let ring = x == 0 || y == 0 || x == 6 || y == 6;
                let centre = (2..=4).contains(&x) && (2..=4).contains(&y);
                m[top + y][left + x] == (ring || centre)
            })
        })
    }

    #[test]
    fn an_anchored_help_url_makes_a_version_4_symbol_with_its_finders() {
        // 53 bytes: more than version 3 holds at medium correction (42), within version 4 (62).
        let url = "https://help.contoso.com/migration#MigrationAvailable";
        assert_eq!(url.len(), 53);
        let m = modules(url).expect("fits");
        assert_eq!(m.len(), 33);
        assert!(m.iter().all(|row| row.len() == 33));
        assert!(finder_at(&m, 0, 0) && finder_at(&m, 0, 26) && finder_at(&m, 26, 0));
        // Timing pattern on row 6 between the finders alternates, starting dark.
        assert!((8..25).all(|x| m[6][x] == (x % 2 == 0)));
        // No finder in the bottom-right corner.
        assert!(!finder_at(&m, 26, 26));
        // Another anchor, another symbol.
        assert_ne!(
            modules("https://help.contoso.com/migration#MigrationStarting"),
            Some(m)
        );
        assert_eq!(modules(&"x".repeat(3000)), None);
    }
}
