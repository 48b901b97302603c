//! The in-process test app: a fresh store, a manual clock and the whole router, driven with
//! `tower::ServiceExt::oneshot` (no listener), plus users and tokens with any roles.

#![allow(dead_code)] // Each test module uses a different part of this.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{TimeZone, Utc};
use model::clock::ManualClock;
use server::auth::Role;
use server::store::testing::{fresh_store, TestDir};
use server::{App, Settings};
use tower::ServiceExt;

/// An app over a fresh store, with a clock that moves only when told to.
pub struct TestApp {
    /// The app state the router serves, for calling library functions directly.
    pub app: App,
    /// The app's clock: `clock.advance(chrono::Duration::hours(9))`.
    pub clock: ManualClock,
    router: Router,
    _dir: TestDir,
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as JSON (`Null` when empty); panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

impl TestApp {
    /// A fresh app on the backend chosen by `REHOME_TEST_DATABASE`, clock at 2025-01-06 09:00 UTC.
    pub async fn new() -> TestApp {
        TestApp::with_settings(Settings::default()).await
    }

    /// As [`TestApp::new`] with `limits` (e.g. a small password gate).
    pub async fn with_limits(limits: server::limits::Limits) -> TestApp {
        let mut t = TestApp::new().await;
        t.app.limits = std::sync::Arc::new(limits);
        t.router = server::router(t.app.clone());
        t
    }

    /// From now on, serves as another replica of the same app would: the same store and clock,
    /// nothing kept in memory.
    pub fn become_another_replica(&mut self) {
        self.app.agent_cache = Default::default();
        self.router = server::router(self.app.clone());
    }

    /// As [`TestApp::new`] with `settings` (e.g. `tls: true`).
    pub async fn with_settings(settings: Settings) -> TestApp {
        let (store, dir) = fresh_store().await;
        let start = Utc
            .with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("valid start instant");
        let clock = ManualClock::new(start);
        let app = App::new(store, std::sync::Arc::new(clock.clone()), settings);
        let router = server::router(app.clone());
        TestApp {
            app,
            clock,
            router,
            _dir: dir,
        }
    }

    /// Creates a user with a random name, `roles` and no pending password change.
    /// Returns (name, password).
    pub async fn user_with_roles(&self, roles: &[Role]) -> (String, String) {
        let name = format!("user-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
        server::auth::create_user(&self.app, &name, &password, roles, false)
            .await
            .expect("create test user");
        (name, password)
    }

    /// Creates a user with `roles` and returns a bearer token for them.
    pub async fn token_with_roles(&self, roles: &[Role]) -> String {
        let (name, _) = self.user_with_roles(roles).await;
        let user = self
            .app
            .store
            .user_by_name(&name)
            .await
            .expect("read test user")
            .expect("test user exists");
        server::auth::issue_api_token(&self.app, user.id)
            .await
            .expect("issue token")
    }

    /// Sends any request as if it came from `from` (the listener's `ConnectInfo`).
    pub async fn request_from(
        &self,
        from: std::net::IpAddr,
        mut request: Request<Body>,
    ) -> TestResponse {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
                from, 50_000,
            )));
        self.request(request).await
    }

    /// Sends any request.
    pub async fn request(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("read body")
            .to_bytes();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if !token.is_empty() {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.request(builder.body(body).expect("valid request"))
            .await
    }

    /// GET `path` with bearer `token` (`""` for none).
    pub async fn get(&self, path: &str, token: &str) -> TestResponse {
        self.send(Method::GET, path, token, None).await
    }

    /// POST `body` as JSON to `path` with bearer `token` (`""` for none).
    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> TestResponse {
        self.send(Method::POST, path, token, Some(body)).await
    }

    /// PUT `body` as JSON to `path` with bearer `token` (`""` for none).
    pub async fn put_json(&self, path: &str, token: &str, body: serde_json::Value) -> TestResponse {
        self.send(Method::PUT, path, token, Some(body)).await
    }

    /// DELETE `path` with bearer `token` (`""` for none).
    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        self.send(Method::DELETE, path, token, None).await
    }
}
