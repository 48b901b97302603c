//! An Entra directory's provisioning package in the console: uploaded as a file from a form (its
//! hash shown, never the package), refused beside the field with nothing stored, deleted; a
//! viewer sees it without a form.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use model::directory::DirectoryKind;
use model::protocol::sha256_hex;
use server::auth::Role;

use crate::console_areas::{page, post, posting_forms, session};
use crate::directory::directory;
use crate::support::{TestApp, TestResponse};

const BOUNDARY: &str = "----rehome-test-boundary";

/// Posts the upload form: the CSRF token and `bytes` as the file `file_name`.
async fn upload(
    t: &TestApp,
    path: &str,
    (cookie, csrf): (&str, &str),
    file_name: &str,
    bytes: &[u8],
) -> TestResponse {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    t.request(multipart_post(path, cookie, Body::from(body)))
        .await
}

/// The package stored for `directory`, if any.
async fn package_of(t: &TestApp, directory: model::ids::DirectoryId) -> Option<Vec<u8>> {
    t.app
        .store
        .provisioning_package(directory)
        .await
        .expect("read")
        .map(|(_, bytes)| bytes)
}

/// The Entra directory CONTOSO.
async fn contoso(t: &TestApp) -> model::ids::DirectoryId {
    directory(
        t,
        "CONTOSO",
        "contoso.onmicrosoft.com",
        DirectoryKind::EntraId,
    )
    .await
}

#[tokio::test]
async fn a_package_is_uploaded_shown_by_its_hash_refused_beside_the_field_and_deleted() {
    let t = TestApp::new().await;
    let entra = contoso(&t).await;
    let ad = directory(
        &t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let (admin, csrf) = session(&t, &[Role::AgentAdmin]).await;
    let path = format!("/directories/{entra}/provisioning-package");

    let empty = page(&t, &path, &admin).await.text();
    assert!(empty.contains("No provisioning package"), "{empty}");
    assert!(empty.contains("enctype=\"multipart/form-data\""));
    // The bulk tokens page leads to it.
    let tokens = page(&t, "/bulk-tokens", &admin).await.text();
    assert!(tokens.contains(&format!("href=\"{path}\"")), "{tokens}");

    // Refused beside the file, nothing stored: not a .ppkg, an empty file, past 4 MiB.
    let package = b"PK\x03\x04 a small provisioning package\r\n--x\r\n";
    for (name, bytes, says) in [
        (
            "join.zip",
            &package[..],
            "a provisioning package is a .ppkg file",
        ),
        ("join.ppkg", &b""[..], "the body is empty"),
    ] {
        let refused = upload(&t, &path, (&admin, &csrf), name, bytes).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let html = refused.text();
        let field = html.find("name=\"package\"").expect("the file input");
        let error = html.find(says).expect(says);
        assert!(
            error > field && html[field..error].contains("field-error"),
            "{html}"
        );
        assert!(html.contains("No provisioning package"), "{html}");
    }
    let big = vec![0u8; 4 * 1024 * 1024 + 70 * 1024];
    let refused = upload(&t, &path, (&admin, &csrf), "big.ppkg", &big).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains("larger than 4 MiB"));
    assert_eq!(package_of(&t, entra).await, None);

    // Uploaded: its name, size and hash shown; the package itself is never on the page.
    let stored = upload(&t, &path, (&admin, &csrf), "join-contoso.ppkg", package).await;
    assert_eq!(stored.status, StatusCode::SEE_OTHER);
    let shown = page(&t, &path, &admin).await.text();
    assert!(shown.contains("join-contoso.ppkg"), "{shown}");
    assert!(shown.contains(&sha256_hex(package)), "{shown}");
    assert!(
        shown.contains(&format!("{} bytes", package.len())),
        "{shown}"
    );
    assert!(!shown.contains("a small provisioning package"));
    let (_, bytes) = t
        .app
        .store
        .provisioning_package(entra)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(bytes, package);

    // A viewer sees it, with no form that would post.
    let (viewer, _) = session(&t, &[Role::AgentViewer]).await;
    let seen = page(&t, &path, &viewer).await.text();
    assert!(seen.contains(&sha256_hex(package)));
    assert_eq!(posting_forms(&seen), 0, "{seen}");
    let (viewer_cookie, viewer_csrf) = session(&t, &[Role::AgentViewer]).await;
    let forbidden = upload(&t, &path, (&viewer_cookie, &viewer_csrf), "x.ppkg", package).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    // Deleted.
    let deleted = post(&t, &format!("{path}/delete"), &admin, &[("csrf", &csrf)]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(page(&t, &path, &admin)
        .await
        .text()
        .contains("No provisioning package"));
    assert_eq!(package_of(&t, entra).await, None);

    // An Active Directory domain has none.
    let html = page(
        &t,
        &format!("/directories/{ad}/provisioning-package"),
        &admin,
    )
    .await
    .text();
    assert!(html.contains("is an Active Directory domain"), "{html}");
    assert_eq!(posting_forms(&html), 0);
}

/// A body of `chunks` that records whether any of it was read.
fn watched(chunks: Vec<Vec<u8>>) -> (Body, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use futures_util::StreamExt;
    let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = read.clone();
    let stream = futures_util::stream::iter(chunks)
        .inspect(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .map(Ok::<Vec<u8>, std::io::Error>);
    (Body::from_stream(stream), read)
}

fn multipart_post(path: &str, cookie: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, format!("rehome_session={cookie}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .expect("request")
}

#[tokio::test]
async fn an_upload_is_refused_before_its_file_is_read_when_the_role_or_the_token_is_wrong() {
    let t = TestApp::new().await;
    let entra = contoso(&t).await;
    let path = format!("/directories/{entra}/provisioning-package");
    let field = |name: &str, file: &str, data: &str| {
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n{data}\r\n"
        )
        .into_bytes()
    };
    let file = |data: &str| field("package", "; filename=\"join.ppkg\"", data);
    let end = format!("--{BOUNDARY}--\r\n").into_bytes();

    // A viewer, with a valid token first: refused before any of the body is read.
    let (viewer, viewer_csrf) = session(&t, &[Role::AgentViewer]).await;
    let (body, read) = watched(vec![
        field("csrf", "", &viewer_csrf),
        file("PK viewer's package"),
        end.clone(),
    ]);
    let refused = t.request(multipart_post(&path, &viewer, body)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(read.load(std::sync::atomic::Ordering::SeqCst), 0);

    // An administrator whose form puts the file before the token, or whose token is wrong:
    // refused once the first field is read (it ends where the second begins), the rest of the
    // file and the form's end never read.
    let (admin, csrf) = session(&t, &[Role::AgentAdmin]).await;
    for first in [
        file("PK admin's package"),
        field("csrf", "", "not-the-token"),
    ] {
        let (body, read) = watched(vec![
            first,
            file("PK the file's start"),
            b"the rest of the file".to_vec(),
            end.clone(),
        ]);
        let refused = t.request(multipart_post(&path, &admin, body)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(read.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
    assert_eq!(package_of(&t, entra).await, None);
    assert!(page(&t, &path, &admin)
        .await
        .text()
        .contains("No provisioning package"));

    // The same form, token first, in chunks: stored whole.
    let (body, _) = watched(vec![
        field("csrf", "", &csrf),
        file("PK admin's package"),
        end,
    ]);
    let stored = t.request(multipart_post(&path, &admin, body)).await;
    assert_eq!(stored.status, StatusCode::SEE_OTHER);
    assert_eq!(
        package_of(&t, entra).await.as_deref(),
        Some(&b"PK admin's package"[..])
    );
}
