//! Users, roles, sessions and tokens: `/api/v1/auth/…` and `/api/v1/users`.

use serde_json::json;
use server::auth::Role;

use crate::support::TestApp;

#[tokio::test]
async fn login_whoami_logout() {
    let app = TestApp::new().await;
    let (name, password) = app.user_with_roles(&[Role::AgentViewer]).await;
    let r = app
        .post_json(
            "/api/v1/auth/login",
            "",
            json!({"name": name, "password": password}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().expect("token").to_string();
    let me = app.get("/api/v1/auth/whoami", &token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["name"], name.as_str());
    assert_eq!(me.json()["roles"], json!(["AgentViewer"]));
    assert_eq!(
        app.post_json("/api/v1/auth/logout", &token, json!({}))
            .await
            .status,
        204
    );
    assert_eq!(app.get("/api/v1/auth/whoami", &token).await.status, 401);
}
