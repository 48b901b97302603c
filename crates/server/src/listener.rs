//! What one client can hold of the server's connections: a cap on connections in all and per
//! client address (the excess is closed as soon as it is accepted), a deadline for a request's
//! headers that also ends idle keep-alive connections, and a deadline for a whole request. A
//! slow-loris client (headers sent a byte at a time, connections left open) then holds at most
//! its own share, for seconds, and everyone else is still answered.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Limits on connections and on the time a request may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one client address (IPv6: one /64).
    pub max_per_address: usize,
    /// Time to send a request's headers, and the longest a keep-alive connection stays idle.
    pub header_timeout: Duration,
    /// Time a whole request may take, body and answer included (a directory import run from
    /// the API is the longest).
    pub request_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 1024,
            max_per_address: 128,
            header_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// Counts open connections, in all and per address.
#[derive(Debug)]
struct Counts {
    limits: ConnectionLimits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

impl Counts {
    fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        let key = crate::auth::throttle::key(address);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mine = open.1.get(&key).copied().unwrap_or(0);
        if open.0 >= self.limits.max_connections || mine >= self.limits.max_per_address {
            return None;
        }
        open.0 += 1;
        open.1.insert(key, mine + 1);
        Some(Slot {
            counts: self.clone(),
            key,
        })
    }
}

/// One admitted connection; gives its place back when the connection ends.
#[derive(Debug)]
struct Slot {
    counts: Arc<Counts>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.key);
            }
        }
    }
}

/// An acceptor that closes connections over the caps before anything is read from them, then
/// hands the rest to `inner` (plain, or TLS).
#[derive(Debug, Clone)]
pub struct CappedAcceptor<A> {
    inner: A,
    counts: Arc<Counts>,
}

impl<A> CappedAcceptor<A> {
    /// Caps connections by `limits` in front of `inner`.
    pub fn new(inner: A, limits: ConnectionLimits) -> CappedAcceptor<A> {
        CappedAcceptor {
            inner,
            counts: Arc::new(Counts {
                limits,
                open: Mutex::new((0, HashMap::new())),
            }),
        }
    }
}

/// A connection that holds its place in the counts while it is open.
#[derive(Debug)]
pub struct CappedStream {
    stream: TcpStream,
    _slot: Slot,
}

impl<A, S> Accept<TcpStream, S> for CappedAcceptor<A>
where
    A: Accept<CappedStream, S> + Clone + Send + 'static,
    A::Future: Send,
    S: Send + 'static,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future =
        Pin<Box<dyn std::future::Future<Output = io::Result<(A::Stream, A::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let address = stream.peer_addr().ok().map(|a| a.ip());
        let slot = address.and_then(|a| self.counts.admit(a));
        let inner = self.inner.clone();
        Box::pin(async move {
            let Some(slot) = slot else {
                // Dropping the stream closes it.
                tracing::debug!(address = ?address, "connection refused: too many open");
                return Err(io::Error::other("too many connections"));
            };
            inner
                .accept(
                    CappedStream {
                        stream,
                        _slot: slot,
                    },
                    service,
                )
                .await
        })
    }
}

impl AsyncRead for CappedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Sets the header deadline (which hyper also applies to idle keep-alive connections) on a
/// server's HTTP/1 and HTTP/2 builders.
pub fn configure<A>(server: &mut axum_server::Server<A>, limits: &ConnectionLimits) {
    let builder = server.http_builder();
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout);
}

/// Middleware: answers 503 when a request takes longer than `timeout`, and drops its work.
pub async fn request_deadline(timeout: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                seconds = timeout.as_secs(),
                "request took too long; stopped"
            );
            crate::Error::Busy("the request took longer than the server allows").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cap_in_all_and_per_address_and_free_on_drop() {
        let counts = Arc::new(Counts {
            limits: ConnectionLimits {
                max_connections: 3,
                max_per_address: 2,
                ..ConnectionLimits::default()
            },
            open: Mutex::new((0, HashMap::new())),
        });
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let c: IpAddr = "192.0.2.3".parse().expect("ip");
        let a1 = counts.admit(a).expect("first");
        let _a2 = counts.admit(a).expect("second");
        assert!(counts.admit(a).is_none(), "two per address");
        let _b1 = counts.admit(b).expect("b");
        assert!(counts.admit(c).is_none(), "three in all");
        drop(a1);
        assert!(counts.admit(c).is_some());
    }
}
