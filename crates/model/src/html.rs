//! The limited HTML that dialog texts and the legal notice may carry. Everything outside a short
//! list of formatting tags is escaped to text, so no script, style or event handler can ever reach
//! a device's dialog or the console.

/// Tags kept, without attributes (except `href` on `a`).
const ALLOWED: &[&str] = &[
    "b", "strong", "i", "em", "u", "br", "p", "ul", "ol", "li", "a",
];
/// Tags that never have a closing tag.
const VOID: &[&str] = &["br"];

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A tag as parsed: name (lower case), whether it closes, and its `href` if any.
struct Tag {
    name: String,
    closing: bool,
    href: Option<String>,
    len: usize,
}

/// Parses a tag at the start of `s` (which starts with `<`), or `None` if it is not one.
fn parse_tag(s: &str) -> Option<Tag> {
    let end = s.find('>')?;
    let inner = &s[1..end];
    if inner.contains('<') {
        return None;
    }
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let inner = inner.trim_end_matches('/').trim();
    let name_len = inner
        .find(|c: char| c.is_whitespace())
        .unwrap_or(inner.len());
    let name = inner[..name_len].to_ascii_lowercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let href = if name == "a" && !closing {
        attribute(&inner[name_len..], "href")
    } else {
        None
    };
    Some(Tag {
        name,
        closing,
        href,
        len: end + 1,
    })
}

/// The value of attribute `want` in `attrs` (`name="v"`, `name='v'` or `name=v`).
fn attribute(attrs: &str, want: &str) -> Option<String> {
    let mut rest = attrs.trim_start();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let close = body.find(q).unwrap_or(body.len());
                    (&body[..close], body.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let close = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..close], &after[close..])
                }
            };
            value.push_str(v);
            rest = remaining.trim_start();
        }
        if name == want {
            return Some(value);
        }
    }
    None
}

/// Only web and mail links; anything else (`javascript:`, `data:` …) is dropped.
fn safe_href(href: &str) -> Option<&str> {
    let trimmed = href.trim();
    let lower = trimmed.to_ascii_lowercase();
    let ok = (lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:"))
        && !trimmed.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Some(trimmed)
    } else {
        None
    }
}

/// Returns `input` with the allowed tags kept in a normal form, every other tag and stray
/// character escaped, and unclosed allowed tags closed at the end.
pub fn sanitize(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 16);
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        let next = rest.find(['<', '&']).unwrap_or(rest.len());
        escape_into(&mut out, &rest[..next]);
        i += next;
        if i >= input.len() {
            break;
        }
        let rest = &input[i..];
        if let Some(after) = rest.strip_prefix('&') {
            // Keep well-formed character references; escape anything else.
            let entity_len = after.find(';').filter(|n| *n > 0 && *n <= 10).filter(|n| {
                let body = &after[..*n];
                body.chars().all(|c| c.is_ascii_alphanumeric() || c == '#')
                    && (!body.starts_with('#')
                        || body[1..].chars().all(|c| c.is_ascii_hexdigit() || c == 'x'))
            });
            match entity_len {
                Some(n) => {
                    out.push_str(&rest[..n + 2]);
                    i += n + 2;
                }
                None => {
                    out.push_str("&amp;");
                    i += 1;
                }
            }
            continue;
        }
        match parse_tag(rest) {
            Some(tag) if ALLOWED.contains(&tag.name.as_str()) => {
                if tag.closing {
                    if let Some(pos) = open.iter().rposition(|t| *t == tag.name) {
                        for t in open.drain(pos..).rev() {
                            out.push_str(&format!("</{}>", t));
                        }
                    }
                } else if VOID.contains(&tag.name.as_str()) {
                    out.push_str(&format!("<{}>", tag.name));
                } else {
                    match (tag.name.as_str(), tag.href.as_deref().and_then(safe_href)) {
                        ("a", Some(href)) => {
                            out.push_str("<a href=\"");
                            // Undo an earlier pass's escaping so sanitizing twice changes nothing.
                            escape_into(&mut out, &href.replace("&amp;", "&"));
                            out.push_str("\" rel=\"noopener noreferrer\">");
                        }
                        (name, _) => out.push_str(&format!("<{}>", name)),
                    }
                    open.push(tag.name);
                }
                i += tag.len;
            }
            _ => {
                out.push_str("&lt;");
                i += 1;
            }
        }
    }
    for t in open.drain(..).rev() {
        out.push_str(&format!("</{}>", t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn formatting_is_kept() {
        assert_eq!(
            sanitize("Hello <b>world</b><br/>"),
            "Hello <b>world</b><br>"
        );
        assert_eq!(
            sanitize("<P>One</P><ul><li>a<li>b</ul>"),
            "<p>One</p><ul><li>a<li>b</li></li></ul>"
        );
        assert_eq!(
            sanitize("Fish &amp; chips &copy; &#169;"),
            "Fish &amp; chips &copy; &#169;"
        );
    }

    #[test]
    fn scripts_and_handlers_never_survive() {
        let cases = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<b onclick=\"alert(1)\">x</b>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=' JAVASCRIPT:alert(1)'>x</a>",
            "<svg/onload=alert(1)>",
            "<<script>script>alert(1)<</script>/script>",
            "<a href=\"https://ok\" onmouseover=\"alert(1)\">x</a>",
            "<style>body{}</style>",
            "<iframe src=https://evil>",
            "<scr<b>ipt>",
        ];
        for case in cases {
            let clean = sanitize(case);
            let lower = clean.to_ascii_lowercase();
            assert!(!lower.contains("<script"), "{} -> {}", case, clean);
            assert!(!lower.contains("<img"), "{} -> {}", case, clean);
            assert!(!lower.contains("<svg"), "{} -> {}", case, clean);
            assert!(!lower.contains("<iframe"), "{} -> {}", case, clean);
            assert!(!lower.contains("<style"), "{} -> {}", case, clean);
            assert!(
                !lower.contains("javascript:") || !lower.contains("href=\"javascript"),
                "{} -> {}",
                case,
                clean
            );
            assert!(
                !lower.contains(" onclick=") && !lower.contains(" onmouseover="),
                "{} -> {}",
                case,
                clean
            );
            assert_eq!(
                sanitize(&clean),
                clean,
                "sanitizing is idempotent for {}",
                case
            );
        }
    }

    #[test]
    fn safe_links_are_kept_with_rel() {
        assert_eq!(
            sanitize("<a href=\"https://help.fabrikam.com/move?a=1&b=2\">help</a>"),
            "<a href=\"https://help.fabrikam.com/move?a=1&amp;b=2\" rel=\"noopener noreferrer\">help</a>"
        );
        let once = sanitize("<a href=\"https://h/?a=1&b=2\">x</a>");
        assert_eq!(sanitize(&once), once);
        assert_eq!(sanitize("<a href=\"javascript:x\">y</a>"), "<a>y</a>");
    }

    #[test]
    fn stray_brackets_and_quotes_become_text() {
        assert_eq!(sanitize("1 < 2 > 0 \"q\""), "1 &lt; 2 &gt; 0 &quot;q&quot;");
        assert_eq!(sanitize("AT&T"), "AT&amp;T");
    }
}
