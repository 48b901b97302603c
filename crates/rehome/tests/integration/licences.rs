//! Licences end to end: the issuer's commands of the built binary, and a real agent held back by
//! a full licence, its reason visible in its events through the admin API.

use std::process::{Command, Output};
use std::sync::Arc;

use agent::client::HttpTransport;
use agent::{Agent, AgentConfig, SimWorkstation, Sleeper};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::Duration;
use model::clock::SystemClock;
use model::licence::{self, IssuerKey, Product};
use model::status::{AgentStatus, EventLevel};
use rehome::demo::{fleet, setup};
use server::auth::Role;
use server::store::testing::TestDir;
use server::Settings;
use tower::ServiceExt;

use crate::support::{blocking, Harness};

fn rehome(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehome"))
        .args(args)
        .output()
        .expect("run rehome")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn keygen_and_issue_make_a_licence_a_server_with_that_issuer_accepts() {
    let dir = TestDir::new();
    let key_path = dir.path().join("issuer.key");
    let key_arg = key_path.to_str().expect("utf-8 path");
    let made = rehome(&["licence", "keygen", "--out", key_arg]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let public = text(&made.stdout).trim().to_string();
    let issuer = licence::parse_public_key(&public).expect("a public key on stdout");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let secret = std::fs::read_to_string(&key_path).expect("read key");
    assert!(!text(&made.stdout).contains(secret.trim()));
    assert!(!text(&made.stderr).contains(secret.trim()));
    let again = rehome(&["licence", "keygen", "--out", key_arg]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("--out"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&key_path).expect("read key"),
        secret
    );

    let issue = |extra: &[&str]| {
        let mut args = vec![
            "licence",
            "issue",
            "--issuer-key",
            key_arg,
            "--customer",
            "Contoso Ltd",
            "--source-domain",
            "Contoso.local",
            "--source-domain",
            "contoso.onmicrosoft.com",
            "--target-domain",
            "fabrikam.onmicrosoft.com",
        ];
        args.extend_from_slice(extra);
        rehome(&args)
    };
    let issued = issue(&[
        "--products",
        "sync,migration",
        "--devices",
        "250",
        "--valid-days",
        "365",
    ]);
    assert!(issued.status.success(), "{}", text(&issued.stderr));
    let licence_text = text(&issued.stdout).trim().to_string();
    // The command line signs with the wall clock, so the licence is checked at the wall clock.
    let now = model::clock::Clock::now(&model::clock::SystemClock);
    let got = licence::verify(&licence_text, &[issuer], now).expect("verifies");
    assert_eq!(got.products, vec![Product::Sync, Product::Migration]);
    assert_eq!(
        got.source_domains,
        vec!["contoso.local", "contoso.onmicrosoft.com"]
    );
    assert_eq!(got.devices, 250);
    let days = (got.expires_at - got.issued_at).num_days();
    assert_eq!(days, 365);
    let stranger = IssuerKey::generate().public();
    assert!(
        matches!(
            licence::verify(&licence_text, &[stranger], now),
            Err(licence::LicenceError::UntrustedIssuer { .. })
        ),
        "a licence of another issuer is not trusted"
    );

    for (extra, flag) in [
        (
            vec![
                "--products",
                "sync,printing",
                "--devices",
                "5",
                "--valid-days",
                "30",
            ],
            "--products",
        ),
        (
            vec!["--products", "sync", "--devices", "0", "--valid-days", "30"],
            "--devices",
        ),
        (
            vec!["--products", "sync", "--devices", "5", "--valid-days", "0"],
            "--valid-days",
        ),
        (
            vec![
                "--products",
                "sync",
                "--devices",
                "5",
                "--valid-days",
                "30",
                "--target-domain",
                "not a domain",
            ],
            "--target-domain",
        ),
    ] {
        let refused = issue(&extra);
        assert!(!refused.status.success(), "{:?} was accepted", extra);
        assert!(
            text(&refused.stderr).contains(flag),
            "{:?}: {}",
            extra,
            text(&refused.stderr)
        );
        assert!(text(&refused.stdout).is_empty());
    }
    let missing = dir.path().join("missing.key");
    let refused = rehome(&[
        "licence",
        "issue",
        "--issuer-key",
        missing.to_str().expect("utf-8"),
        "--customer",
        "C",
        "--products",
        "migration",
        "--source-domain",
        "a.test",
        "--target-domain",
        "b.test",
        "--devices",
        "1",
        "--valid-days",
        "1",
    ]);
    assert!(text(&refused.stderr).contains("--issuer-key"));
    // A file that is there but holds no key: said so, with no talk of licence text.
    let empty = dir.path().join("empty.key");
    std::fs::write(&empty, "").expect("write");
    let refused = rehome(&[
        "licence",
        "issue",
        "--issuer-key",
        empty.to_str().expect("utf-8"),
        "--customer",
        "C",
        "--products",
        "migration",
        "--source-domain",
        "a.test",
        "--target-domain",
        "b.test",
        "--devices",
        "1",
        "--valid-days",
        "1",
    ]);
    let said = text(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        said.contains("not an issuer key") && !said.contains("licence text"),
        "{said}"
    );
}

/// Stops the agent the first time it would wait.
struct StopAtOnce;

impl Sleeper for StopAtOnce {
    fn sleep(&mut self, _: Duration) -> bool {
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_past_the_licence_count_is_held_back_and_says_why() {
    let issuer = IssuerKey::generate();
    let settings = Settings {
        licence_issuers: vec![issuer.public()],
        ..Settings::default()
    };
    let h = Harness::start_with(settings, 8, 2).await;
    setup::apply_licence(&h.app, &issuer, &h.world, 1)
        .await
        .expect("apply the licence");
    let machines = fleet::create(&h.dir.path().join("fleet"), &h.world, 2).expect("create");

    // The first device takes the only slot and migrates.
    let handles = fleet::start_agents(&h.url, &h.world.psk, &machines[..1]);
    let errors = blocking(move || fleet::join(handles)).await;
    assert!(errors.is_empty(), "{:?}", errors);

    // The second registers, checks in, is held back, uploads its events and stops.
    let (url, psk, sim) = (h.url.clone(), h.world.psk.clone(), machines[1].dir.clone());
    let exit = blocking(move || {
        let config = AgentConfig::new(&url, &psk, &sim);
        let workstation = SimWorkstation::open(&sim).expect("open workstation");
        Agent::new(
            config,
            workstation,
            HttpTransport::new(&url),
            Arc::new(SystemClock),
            Box::new(StopAtOnce),
        )
        .expect("agent")
        .run()
    })
    .await
    .expect("agent runs");
    assert_eq!(exit, agent::Exit::Stopped);
    let untouched = SimWorkstation::load(&machines[1].dir).expect("state");
    assert!(untouched.actions.is_empty(), "{:?}", untouched.actions);

    // An operator reading the second agent's events through the API sees why.
    server::auth::create_user(
        &h.app,
        "reader",
        "a-long-reader-password-1",
        &[Role::AgentViewer],
        false,
    )
    .await
    .expect("user");
    let user = h
        .app
        .store
        .user_by_name("reader")
        .await
        .expect("read user")
        .expect("user");
    let token = server::auth::issue_api_token(&h.app, user.id)
        .await
        .expect("token");
    let get = |path: String| {
        let router = server::router(h.app.clone());
        let token = token.clone();
        async move {
            let response = router
                .oneshot(
                    Request::get(path)
                        .header(header::AUTHORIZATION, format!("Bearer {token}"))
                        .body(Body::empty())
                        .expect("request"),
                )
                .await
                .expect("response");
            assert_eq!(response.status(), StatusCode::OK);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            serde_json::from_slice::<serde_json::Value>(&body).expect("json")
        }
    };
    let agents = get("/api/v1/agents".into()).await;
    let second = agents
        .as_array()
        .expect("agents")
        .iter()
        .find(|a| a["name"] == machines[1].name.as_str())
        .expect("the second agent")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let events = get(format!("/api/v1/agents/{second}/events")).await;
    let warnings: Vec<&serde_json::Value> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["level"] == serde_json::json!(EventLevel::Warning))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", events);
    let message = warnings[0]["message"].as_str().expect("message");
    assert!(
        message.contains("allows 1 devices") && message.contains(&h.world.source_domain),
        "{}",
        message
    );

    let counts = setup::status_counts(&h.app).await.expect("counts");
    assert_eq!(
        counts.get(AgentStatus::Completed),
        1,
        "{}",
        counts.summary()
    );
}
