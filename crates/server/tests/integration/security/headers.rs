//! Security headers on console pages, and HSTS only under TLS.

use server::Settings;

use crate::support::TestApp;

#[tokio::test]
async fn console_pages_carry_a_strict_policy() {
    let t = TestApp::new().await;
    for path in ["/login", "/assets/console.js", "/", "/api/v1/auth/whoami"] {
        let r = t.get(path, "").await;
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(r.header("referrer-policy").as_deref(), Some("same-origin"));
        assert_eq!(r.header("strict-transport-security"), None, "plain HTTP");
    }
    // The pages themselves hold no inline script for the policy to break.
    let page = t.get("/login", "").await.text();
    assert!(
        !page.contains("<script>") && !page.contains("onclick"),
        "{page}"
    );

    let tls = TestApp::with_settings(Settings {
        tls: true,
        ..Settings::default()
    })
    .await;
    let hsts = tls
        .get("/login", "")
        .await
        .header("strict-transport-security");
    assert_eq!(hsts.as_deref(), Some("max-age=31536000"));
}
