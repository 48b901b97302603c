//! The HTTP transport against a real socket: statuses, refusal bodies and unreachable servers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;

use agent::client::{Client, HttpTransport, Transport};
use agent::Error;
use model::clock::SystemClock;
use model::envelope::{Key32, PublicKeys};
use model::plan::{JoinState, OsEdition};
use model::protocol::{RegisterRequest, AGENT_VERSION};

/// Answers one request with `status` and `body`, and hands back the request line and body.
fn serve_once(
    status: &'static str,
    body: &'static str,
) -> (String, thread::JoinHandle<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut request_line = String::new();
        reader.read_line(&mut request_line).expect("request line");
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            if line.trim().is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().expect("length");
            }
        }
        let mut received = vec![0; length];
        reader.read_exact(&mut received).expect("body");
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            status,
            body.len(),
            body
        )
        .expect("answer");
        (request_line, String::from_utf8(received).expect("utf-8"))
    });
    (url, handle)
}

#[test]
fn a_refusal_over_http_surfaces_its_code_and_the_psk_is_not_sent() {
    let (url, server) = serve_once(
        "403 Forbidden",
        r#"{"code":"not_imported","message":"import the computer first"}"#,
    );
    let mut client = Client::new(HttpTransport::new(&url), Arc::new(SystemClock), None);
    let request = RegisterRequest {
        computer_name: "PC-001".into(),
        serial: "SN-1".into(),
        os_edition: OsEdition::Workstation,
        os_version: "Windows 11 Enterprise 23H2".into(),
        agent_version: AGENT_VERSION.into(),
        join_state: JoinState::Workgroup,
        keys: PublicKeys {
            sign: Key32([0; 32]),
            encrypt: Key32([0; 32]),
        },
    };
    let psk = "a-pre-shared-key-that-must-stay-home";
    match client.register(psk, request) {
        Err(Error::Refused { code, .. }) => assert_eq!(code, "not_imported"),
        other => panic!("expected a refusal, got {:?}", other),
    }
    let (request_line, body) = server.join().expect("server");
    assert!(
        request_line.starts_with("POST /agent/register "),
        "{}",
        request_line
    );
    assert!(body.contains("\"purpose\":\"register\""));
    assert!(!body.contains(psk));
}

#[test]
fn an_answer_without_a_refusal_body_is_an_http_error() {
    let (url, server) = serve_once("502 Bad Gateway", "<html>proxy</html>");
    let answer = HttpTransport::new(&url).post("/agent/check-in", b"{}");
    server.join().expect("server");
    assert_eq!(answer.expect("answer").0, 502);
}

#[test]
fn a_closed_port_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // The listener is dropped: nothing listens there now.
    let url = format!("http://127.0.0.1:{}", port);
    let started = std::time::Instant::now();
    match HttpTransport::new(&url).post("/agent/check-in", b"{}") {
        Err(Error::Unreachable(_)) => {}
        other => panic!("expected unreachable, got {:?}", other),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
