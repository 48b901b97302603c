//! QR codes drawn on the server as inline SVG: no script and no request to anyone else.

use maud::{html, Markup, PreEscaped};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// `text` as a QR code of at least `size` pixels, labelled for screen readers; a note instead
/// when the text is too long for any QR code.
pub fn svg(text: &str, size: u32, label: &str) -> Markup {
    match QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) {
        Ok(code) => {
            let image = code
                .render::<svg::Color<'_>>()
                .min_dimensions(size, size)
                .quiet_zone(true)
                .build();
            // The renderer starts with an XML declaration, which has no place inside HTML.
            let start = image.find("<svg").unwrap_or(0);
            html! { figure.qr role="img" aria-label=(label) { (PreEscaped(&image[start..])) } }
        }
        Err(_) => html! { p.muted { "Too long for a QR code." } },
    }
}

#[cfg(test)]
mod tests {
    use super::svg;

    #[test]
    fn a_url_becomes_an_inline_svg_and_an_endless_text_a_note() {
        let code = svg("http://rehome.contoso.com:5000", 160, "Server URL").into_string();
        assert!(code.contains("<svg") && !code.contains("<?xml"));
        assert!(code.contains("aria-label=\"Server URL\""));
        assert!(svg(&"x".repeat(5000), 160, "Too long")
            .into_string()
            .contains("Too long for a QR code"));
    }
}
