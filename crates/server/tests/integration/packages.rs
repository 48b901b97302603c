//! Command packages: each refusal of an upload with a real zip built here (a crafted `../` entry,
//! a bomb, a symlink …), storage once by hash, runbooks naming only stored packages, deletion
//! refused while used, and the agent fetching the package of its runbook and nothing else.

use std::io::{Cursor, Write};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use model::protocol::{kinds, CommandPackageRequest, CommandPackageResponse};
use serde_json::json;
use server::auth::Role;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::agent_api::{world, TestAgent};
use crate::support::{TestApp, TestResponse};

/// A zip of `(name, content)` entries, deflated.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, content) in entries {
        w.start_file(*name, options).expect("start entry");
        w.write_all(content).expect("write entry");
    }
    w.finish().expect("finish zip").into_inner()
}

async fn upload(t: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> TestResponse {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/command-packages?name={name}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/zip")
        .body(Body::from(bytes))
        .expect("request");
    t.request(request).await
}

fn refusal(r: &TestResponse) -> (String, String) {
    let body = r.json();
    (
        body["fields"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["fields"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

const SCRIPT: &[u8] = b"@echo off\r\necho hello\r\n";

#[tokio::test]
async fn uploads_that_are_not_safe_packages_are_refused_with_the_reason() {
    let t = TestApp::new().await;
    let token = t.token_with_roles(&[Role::AgentAdmin]).await;

    let symlink = {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default();
        w.start_file("cmdline.cmd", options).expect("entry");
        w.write_all(SCRIPT).expect("write");
        w.add_symlink("tools", "C:\\Windows\\System32", options)
            .expect("symlink");
        w.finish().expect("zip").into_inner()
    };
    let bomb = zip_of(&[("cmdline.cmd", SCRIPT), ("zeros.bin", &vec![0u8; 16 << 20])]);
    assert!(bomb.len() < 100 * 1024, "the bomb is small: {}", bomb.len());
    let crowded = {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        w.start_file("cmdline.cmd", options).expect("entry");
        for i in 0..server::packages::MAX_ENTRIES {
            w.start_file(format!("f/{i}"), options).expect("entry");
        }
        w.finish().expect("zip").into_inner()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not a zip",
            b"MZ\x90\x00 this is an executable".to_vec(),
            "not a zip",
        ),
        ("no script", zip_of(&[("run.cmd", SCRIPT)]), "cmdline.cmd"),
        (
            "script in a folder",
            zip_of(&[("sub/cmdline.cmd", SCRIPT)]),
            "cmdline.cmd",
        ),
        (
            "parent folder",
            zip_of(&[("cmdline.cmd", SCRIPT), ("../evil.cmd", SCRIPT)]),
            "..",
        ),
        (
            "backslash parent",
            zip_of(&[("cmdline.cmd", SCRIPT), ("a\\..\\..\\evil.cmd", SCRIPT)]),
            "..",
        ),
        (
            "absolute",
            zip_of(&[("cmdline.cmd", SCRIPT), ("/Windows/evil.cmd", SCRIPT)]),
            "absolute",
        ),
        (
            "drive letter",
            zip_of(&[("cmdline.cmd", SCRIPT), ("C:/Windows/evil.cmd", SCRIPT)]),
            "drive",
        ),
        ("symlink", symlink, "symbolic link"),
        ("bomb", bomb, "zip bomb"),
        ("too many entries", crowded, "entries"),
    ];
    for (what, bytes, words) in cases {
        let r = upload(&t, &token, "package.zip", bytes).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            r.text()
        );
        let (field, message) = refusal(&r);
        assert_eq!(field, "body", "{what}");
        assert!(message.contains(words), "{what}: {message}");
    }

    // The file name is checked too, and a missing one is named.
    let good = zip_of(&[("cmdline.cmd", SCRIPT)]);
    let r = upload(&t, &token, "package.exe", good.clone()).await;
    assert_eq!(refusal(&r).0, "name");
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/command-packages")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(good))
        .expect("request");
    assert_eq!(refusal(&t.request(request).await).0, "name");

    // Nothing of that was stored.
    let listed = t.get("/api/v1/command-packages", &token).await;
    assert_eq!(listed.json(), json!([]));
}

#[tokio::test]
async fn packages_are_stored_once_used_by_runbooks_and_fetched_by_their_agents() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let token = t.token_with_roles(&[Role::AgentAdmin]).await;

    // Upper-case CMDLINE.CMD at the root is fine; the same bytes twice are one package.
    let bytes = zip_of(&[("CMDLINE.CMD", SCRIPT), ("tools/readme.txt", b"printers")]);
    let first = upload(&t, &token, "printers.zip", bytes.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let again = upload(&t, &token, "printers-copy.zip", bytes.clone()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let sha = first.json()["sha256"].as_str().expect("hash").to_string();
    assert_eq!(again.json()["sha256"], json!(sha));
    assert_eq!(again.json()["name"], "printers.zip", "the first name stays");
    assert_eq!(sha, model::protocol::sha256_hex(&bytes));
    let other = upload(
        &t,
        &token,
        "other.zip",
        zip_of(&[("cmdline.cmd", b"rem other")]),
    )
    .await;
    assert_eq!(other.status, StatusCode::CREATED);
    let other_sha = other.json()["sha256"].as_str().expect("hash").to_string();
    let listed = t.get("/api/v1/command-packages", &token).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM command_packages")
        .fetch_one(t.app.store.pool())
        .await
        .expect("count");
    assert_eq!(count, 2);

    // A runbook may only name a stored package.
    let path = format!("/api/v1/runbooks/{}", w.runbook.id);
    let mut body = t.get(&path, &token).await.json();
    body["completion"]["command_package"] =
        json!({"name": "missing.zip", "sha256": "ab".repeat(32)});
    let r = t.put_json(&path, &token, body.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(refusal(&r).0, "completion.command_package.sha256");
    body["completion"]["command_package"] = json!({"name": "printers.zip", "sha256": sha});
    let r = t.put_json(&path, &token, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // The list says who uses it, and deleting it is refused while they do.
    let listed = t.get("/api/v1/command-packages", &token).await.json();
    let printers = listed
        .as_array()
        .and_then(|l| l.iter().find(|p| p["sha256"] == json!(sha)).cloned())
        .expect("listed");
    assert_eq!(printers["used_by"][0]["name"], "Move to Fabrikam");
    assert_eq!(printers["size"], json!(bytes.len()));
    let refused = t
        .delete(&format!("/api/v1/command-packages/{sha}"), &token)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert!(refused.text().contains("Move to Fabrikam"));

    // PC1 runs that runbook: it gets the package, and not one its runbook does not name.
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let got: CommandPackageResponse = pc1
        .call(
            &t,
            kinds::COMMAND_PACKAGE,
            &CommandPackageRequest {
                sha256: sha.clone(),
            },
        )
        .await
        .expect("package");
    assert_eq!(got.verified_bytes(&sha).expect("hash matches"), bytes);
    assert!(
        got.verified_bytes(&other_sha).is_err(),
        "the agent checks the hash"
    );
    let (status, refusal) = pc1
        .call::<_, CommandPackageResponse>(
            &t,
            kinds::COMMAND_PACKAGE,
            &CommandPackageRequest { sha256: other_sha },
        )
        .await
        .expect_err("not its package");
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refusal.code, "not_assigned");

    // Once no runbook uses it, it can go.
    body["completion"]["command_package"] = json!(null);
    assert_eq!(t.put_json(&path, &token, body).await.status, StatusCode::OK);
    let deleted = t
        .delete(&format!("/api/v1/command-packages/{sha}"), &token)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = t
        .delete(&format!("/api/v1/command-packages/{sha}"), &token)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
