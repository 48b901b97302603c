//! Secrets at rest: PSKs, agent-certificate keys and runbook passwords are sealed in the database,
//! never in an API answer or a log, reach the agent only inside its check-in assignment, and a
//! wrong secret key refuses to start rather than lose or re-seal anything.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use model::envelope::KeyPair;
use model::ids::{CertificateId, PskId};
use serde_json::json;
use server::auth::Role;
use server::secrets::SecretBox;
use server::store::testing::fresh_database;
use server::store::Store;
use sqlx::Row;

use crate::agent_api::{world, TestAgent};
use crate::auth::capture_logs;
use crate::support::TestApp;

const FALLBACK: &str = "Fallback-Pass-77x";
const JOIN: &str = "Join-Pass-88y";
const SHARE: &str = "Share-Pass-99z";

/// Every value of `column` in `table`, read with SQL.
async fn raw(store: &Store, table: &str, column: &str) -> Vec<String> {
    sqlx::query(&format!("SELECT {column} FROM {table}"))
        .fetch_all(store.pool())
        .await
        .expect("read raw rows")
        .iter()
        .map(|r| r.try_get::<String, _>(0).expect("text"))
        .collect()
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_never_answered_or_logged() {
    let logs = capture_logs();
    let t = TestApp::new().await;
    let w = world(&t).await;
    let token = t.token_with_roles(&[Role::AgentAdmin]).await;

    let created = t.post_json("/api/v1/psks", &token, json!({})).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let psk = created.json()["key"].as_str().expect("key").to_string();
    let cert = t.app.store.latest_certificate_secret().await.expect("read");
    let cert_secret = B64.encode(cert.expect("a certificate").keys.to_secret_bytes());

    // Give the runbook all three passwords through the API.
    let path = format!("/api/v1/runbooks/{}", w.runbook.id);
    let mut body = t.get(&path, &token).await.json();
    body["startup"]["admin_fallback"] =
        json!({"username": "rescue", "password": FALLBACK, "delay_deletion_days": 0});
    body["device_state"]["active_directory"]["username"] = json!("joiner");
    body["device_state"]["active_directory"]["password"] = json!(JOIN);
    body["permissions"]["remote_file_shares"] =
        json!({"username": "nas-admin", "password": SHARE, "paths": "\\\\nas1\\data"});
    let updated = t.put_json(&path, &token, body).await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(
        updated.json()["secrets_set"],
        json!({"admin_fallback_password": true, "domain_join_password": true, "remote_file_shares_password": true})
    );

    // Saving it again with the passwords blank keeps them.
    let again = t.get(&path, &token).await.json();
    let r = t.put_json(&path, &token, again).await;
    assert_eq!(r.status, 200, "{}", r.text());

    let secrets = [
        psk.as_str(),
        w.psk.as_str(),
        cert_secret.as_str(),
        FALLBACK,
        JOIN,
        SHARE,
    ];
    let mut bodies = vec![updated.text(), r.text()];
    for get in [
        "/api/v1/psks",
        "/api/v1/agent-certificates",
        "/api/v1/runbooks",
        &path,
    ] {
        let answer = t.get(get, &token).await;
        assert_eq!(answer.status, 200, "{get}: {}", answer.text());
        bodies.push(answer.text());
    }
    for body in &bodies {
        for secret in secrets {
            assert!(
                !body.contains(secret),
                "an API answer holds a secret: {body}"
            );
        }
    }
    assert_eq!(
        t.get(&path, &token).await.json()["secrets_set"]["domain_join_password"],
        json!(true)
    );

    // The rows hold only sealed values.
    let store = &t.app.store;
    let mut stored = Vec::new();
    for (table, column) in [
        ("psks", "secret"),
        ("agent_certificates", "secret"),
        ("runbook_secrets", "secret"),
    ] {
        let values = raw(store, table, column).await;
        assert!(!values.is_empty(), "{table} has rows");
        for v in &values {
            assert!(v.starts_with("v1:"), "{table}.{column} is sealed: {v}");
        }
        stored.extend(values);
    }
    stored.extend(raw(store, "runbooks", "spec").await);
    for value in &stored {
        for secret in secrets {
            assert!(!value.contains(secret), "a row holds a secret in clear");
        }
    }

    // The agent gets them only inside the sealed answer to its final check-in, right before it
    // starts; a regular check-in carries none.
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &psk)
        .await
        .expect("registered with the new PSK");
    let waiting = pc1
        .check_in(&t, false, vec![])
        .await
        .assignment
        .expect("assigned");
    assert_eq!(waiting.secrets, Default::default());
    let assignment = pc1
        .check_in(&t, true, vec![])
        .await
        .assignment
        .expect("assigned");
    assert_eq!(
        (
            assignment.secrets.admin_fallback_password.as_deref(),
            assignment.secrets.domain_join_password.as_deref(),
            assignment.secrets.remote_file_shares_password.as_deref(),
        ),
        // This runbook does not join an Active Directory domain: the join password stays home.
        (Some(FALLBACK), None, Some(SHARE))
    );
    assert!(
        !format!("{assignment:?}").contains(FALLBACK),
        "Debug hides them"
    );

    // Turning a section off forgets its password.
    let mut off = t.get(&path, &token).await.json();
    off["permissions"]["remote_file_shares"] = json!(null);
    let r = t.put_json(&path, &token, off).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["secrets_set"]["remote_file_shares_password"],
        json!(false)
    );
    let left = t
        .app
        .store
        .runbook_secrets(w.runbook.id)
        .await
        .expect("read");
    assert_eq!(left.remote_file_shares_password, None);
    assert_eq!(left.domain_join_password.as_deref(), Some(JOIN));

    let logged = logs.text();
    assert!(logged.contains("PSK created"), "the test must see the log");
    for secret in secrets {
        assert!(!logged.contains(secret), "the log holds a secret");
    }
}

#[tokio::test]
async fn clear_rows_of_an_older_version_are_sealed_on_start_and_a_wrong_key_is_refused() {
    let (url, _dir) = fresh_database().await;
    let key = SecretBox::random();
    let store = Store::connect(&url, key.clone()).await.expect("open");
    // What an older version wrote: values in clear.
    let (psk_id, cert_id) = (PskId::new(), CertificateId::new());
    let keys = KeyPair::generate();
    let clear_cert = B64.encode(keys.to_secret_bytes());
    sqlx::query("INSERT INTO psks (id, secret, created_at) VALUES ($1, $2, 0)")
        .bind(psk_id.to_string())
        .bind("old-clear-psk-value")
        .execute(store.pool())
        .await
        .expect("insert");
    sqlx::query(
        "INSERT INTO agent_certificates (id, name, created_at, not_after, sign_key, encrypt_key, secret) \
         VALUES ($1, 'old', 0, 9999999999999, $2, $3, $4)",
    )
    .bind(cert_id.to_string())
    .bind(server::store::certificates::key_text(&keys.public().sign))
    .bind(server::store::certificates::key_text(&keys.public().encrypt))
    .bind(&clear_cert)
    .execute(store.pool())
    .await
    .expect("insert");
    store.pool().close().await;

    let store = Store::connect(&url, key.clone()).await.expect("reopen");
    for v in raw(&store, "psks", "secret").await {
        assert!(v.starts_with("v1:") && !v.contains("old-clear-psk-value"));
    }
    for v in raw(&store, "agent_certificates", "secret").await {
        assert!(v.starts_with("v1:") && !v.contains(&clear_cert));
    }
    assert_eq!(
        store.psk_secrets().await.expect("open"),
        vec![(psk_id, "old-clear-psk-value".to_string())]
    );
    let cert = store
        .certificate_secret(cert_id)
        .await
        .expect("open")
        .expect("present");
    assert_eq!(cert.keys.public(), keys.public());
    let sealed_before = raw(&store, "psks", "secret").await;
    store.pool().close().await;

    let err = Store::connect(&url, SecretBox::random())
        .await
        .err()
        .expect("a wrong key refuses to start")
        .to_string();
    assert!(err.contains("secret key cannot open"), "{err}");
    assert!(err.contains("REHOME_SECRET_KEY"), "says what to do: {err}");

    // Nothing was changed: the right key still opens everything.
    let store = Store::connect(&url, key).await.expect("the right key");
    assert_eq!(raw(&store, "psks", "secret").await, sealed_before);
    assert_eq!(store.psk_secrets().await.expect("open").len(), 1);
}

#[tokio::test]
async fn serve_keeps_its_key_in_a_private_file_and_refuses_another_key() {
    use server::serve::{start, ServeConfig};
    if std::env::var(server::secrets::KEY_ENV).is_ok() {
        return; // The key comes from the environment here, not from the file under test.
    }
    let dir = server::store::testing::TestDir::new();
    let clock = std::sync::Arc::new(model::clock::SystemClock);
    let config = ServeConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: dir.path().to_path_buf(),
        ..ServeConfig::default()
    };
    let running = start(config.clone(), clock.clone()).await.expect("start");
    let psk = server::migration::keys::create_psk(running.app(), Default::default())
        .await
        .expect("psk")
        .key;
    running.shutdown().await.expect("shutdown");
    let key_file = dir.path().join(server::secrets::KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only the server's user reads the key");
    }
    let key = std::fs::read(&key_file).expect("read key");
    // The database files (with SQLite's write-ahead log) hold neither the key nor the PSK.
    let mut db = std::fs::read(dir.path().join("rehome.db")).expect("read db");
    db.extend(std::fs::read(dir.path().join("rehome.db-wal")).unwrap_or_default());
    for needle in [key.as_slice(), psk.as_bytes()] {
        assert!(
            !db.windows(needle.len()).any(|w| w == needle),
            "a secret is in the database files"
        );
    }

    // The same key file: starts again. Another one: refuses, and the database is untouched.
    let running = start(config.clone(), clock.clone()).await.expect("restart");
    running.shutdown().await.expect("shutdown");
    std::fs::write(&key_file, B64.encode([7u8; 32])).expect("replace key");
    let err = start(config.clone(), clock.clone())
        .await
        .err()
        .expect("a wrong key refuses to start")
        .to_string();
    assert!(err.contains("secret key cannot open"), "{err}");
    std::fs::write(&key_file, &key).expect("restore key");
    let running = start(config, clock).await.expect("the right key starts");
    assert_eq!(
        running.app().store.psk_secrets().await.expect("open").len(),
        1
    );
    running.shutdown().await.expect("shutdown");
}
