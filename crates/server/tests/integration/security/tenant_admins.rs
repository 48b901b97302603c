//! The last TenantAdmin rule under concurrency, and the way back from the command line.

use serde_json::json;
use server::auth::Role;

use crate::support::TestApp;

async fn admin(t: &TestApp) -> (String, String) {
    let (name, _) = t.user_with_roles(&[Role::TenantAdmin]).await;
    let user = t
        .app
        .store
        .user_by_name(&name)
        .await
        .expect("read")
        .expect("user");
    let token = server::auth::issue_api_token(&t.app, user.id)
        .await
        .expect("token");
    (user.id.to_string(), token)
}

#[tokio::test]
async fn two_admins_demoting_themselves_at_once_leave_one() {
    for _ in 0..5 {
        let t = TestApp::new().await;
        let (a, a_token) = admin(&t).await;
        let (b, b_token) = admin(&t).await;
        let demote = |id: String, token: String| {
            let t = &t;
            async move {
                t.put_json(
                    &format!("/api/v1/users/{id}"),
                    &token,
                    json!({"roles": ["SyncAdmin"]}),
                )
                .await
                .status
            }
        };
        let (ra, rb) = tokio::join!(demote(a, a_token), demote(b, b_token));
        let mut answers = [ra.as_u16(), rb.as_u16()];
        answers.sort_unstable();
        assert_eq!(answers, [200, 409]);
        let left = t
            .app
            .store
            .count_with_role(Role::TenantAdmin)
            .await
            .expect("count");
        assert_eq!(left, 1);
    }
}

#[tokio::test]
async fn grant_restores_a_tenant_admin() {
    let t = TestApp::new().await;
    let (name, _) = t.user_with_roles(&[Role::SyncViewer]).await;
    server::auth::accounts::grant_tenant_admin(&t.app, &name)
        .await
        .expect("grant");
    let user = t
        .app
        .store
        .user_by_name(&name)
        .await
        .expect("read")
        .expect("user");
    assert_eq!(user.roles, vec![Role::TenantAdmin, Role::SyncViewer]);
    assert!(
        server::auth::accounts::grant_tenant_admin(&t.app, "no-such-user")
            .await
            .is_err()
    );
}
