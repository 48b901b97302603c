//! Login CSRF: a page on another site must not be able to sign a visitor's browser in to this
//! console (under the attacker's account, to watch what they then type). The login form is
//! refused when the browser says the request comes from another origin.

use axum::http::header::{HOST, ORIGIN, REFERER};
use axum::http::HeaderMap;

/// Whether the request comes from this server's own pages, as far as the browser tells: the
/// `Origin` (or else the `Referer`) must name the `Host` the request was sent to, and
/// `Sec-Fetch-Site` must not say `cross-site`. A client that sends none of them (a script, not a
/// browser) is not a CSRF victim and passes.
pub fn is_same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if text("sec-fetch-site").is_some_and(|site| site.eq_ignore_ascii_case("cross-site")) {
        return false;
    }
    let claimed = text(ORIGIN.as_str()).or_else(|| text(REFERER.as_str()));
    let Some(claimed) = claimed else {
        return true;
    };
    let Some(host) = text(HOST.as_str()) else {
        return false;
    };
    // `null` (a sandboxed frame, a redirect across origins) has no authority and fails here.
    let authority = claimed
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default());
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn only_the_consoles_own_origin_passes() {
        let host = ("host", "rehome.corp:5000");
        assert!(is_same_origin(&headers(&[
            host,
            ("origin", "http://rehome.corp:5000")
        ])));
        assert!(is_same_origin(&headers(&[
            host,
            ("referer", "https://rehome.corp:5000/login")
        ])));
        assert!(is_same_origin(&headers(&[host])));
        assert!(!is_same_origin(&headers(&[
            host,
            ("origin", "https://evil.example")
        ])));
        assert!(!is_same_origin(&headers(&[host, ("origin", "null")])));
        assert!(!is_same_origin(&headers(&[
            host,
            ("origin", "http://rehome.corp:5001")
        ])));
        assert!(!is_same_origin(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!is_same_origin(&headers(&[(
            "origin",
            "http://rehome.corp:5000"
        )])));
    }
}
