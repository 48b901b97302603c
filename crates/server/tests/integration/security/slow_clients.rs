//! Slow and idle clients on a real listener (loopback only, a few dozen connections, seconds):
//! they hold at most their share of connections, for at most the header deadline, and everyone
//! else is answered meanwhile.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use server::listener::ConnectionLimits;
use server::serve::{start, ServeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Waits (at most `within`) for the server to close `stream`; true when it did.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(within, read).await.is_ok()
}

/// One whole request from `from`; the status line of the answer.
async fn request_from(from: &str, server: SocketAddr) -> String {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("address"))
        .expect("bind");
    let mut stream = socket.connect(server).await.expect("connect");
    stream
        .write_all(b"GET /login HTTP/1.1\r\nHost: rehome.test\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_slow_loris_burst_holds_its_share_briefly_and_others_are_answered() {
    let dir = std::env::temp_dir().join(format!("rehome-slow-{}", uuid::Uuid::new_v4().simple()));
    let config = ServeConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: dir.clone(),
        connections: ConnectionLimits {
            max_connections: 64,
            max_per_address: 8,
            header_timeout: Duration::from_millis(400),
            request_timeout: Duration::from_secs(10),
        },
        ..ServeConfig::default()
    };
    let running = start(config, Arc::new(model::clock::SystemClock))
        .await
        .expect("start");
    let addr = running.local_addr();

    // Twenty connections from one address, each with half a request's headers.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        // A connection the server already closed may refuse the write; that is the point.
        let _ = s
            .write_all(b"GET /login HTTP/1.1\r\nHost: rehome.test\r\n")
            .await;
        slow.push(s);
    }
    // Another client is answered at once.
    assert_eq!(request_from("127.0.0.2", addr).await, "HTTP/1.1 200 OK");

    // Every slow connection is closed: the excess at once, the rest at the header deadline.
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(3)).await,
            "slow connection {i} is still open"
        );
    }
    // Its places are free again.
    assert_eq!(request_from("127.0.0.1", addr).await, "HTTP/1.1 200 OK");

    // An idle keep-alive connection ends at the same deadline.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /login HTTP/1.1\r\nHost: rehome.test\r\n\r\n")
        .await
        .expect("write");
    assert!(closed_within(&mut idle, Duration::from_secs(3)).await);

    running.shutdown().await.expect("stop");
    let _ = std::fs::remove_dir_all(&dir);
}
