//! A database outage on demand: a TCP proxy on 127.0.0.1 between the server and its PostgreSQL
//! that can be cut (every connection through it closed, new ones closed as soon as they come) and
//! restored. The fault tests cut it for a few seconds; `rehome bench outage` for a whole minute.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// Where the proxy connects: PostgreSQL's TCP port or its Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// `host:port`.
    Tcp(String),
    /// The socket file, e.g. `/run/postgresql/.s.PGSQL.5432`.
    Unix(PathBuf),
}

/// The upstream of a `postgres://` URL and the same URL with its host and port replaced by
/// `via` (`127.0.0.1:PORT`).
pub fn reroute(url: &str, via: &str) -> Result<(Upstream, String)> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .context("the outage needs a postgres:// database URL")?;
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, database) = base.split_once('/').unwrap_or((base, ""));
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    let mut socket_dir = None;
    let mut port = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("host", dir)) if dir.starts_with('/') => socket_dir = Some(dir.to_string()),
            Some(("port", p)) => port = Some(p.to_string()),
            _ => kept.push(pair),
        }
    }
    let upstream = match socket_dir {
        Some(dir) => {
            let port = port.or_else(|| host_port.rsplit_once(':').map(|(_, p)| p.to_string()));
            Upstream::Unix(
                PathBuf::from(dir).join(format!(".s.PGSQL.{}", port.as_deref().unwrap_or("5432"))),
            )
        }
        None if host_port.is_empty() => bail!("the database URL names no host"),
        None if host_port.contains(':') => Upstream::Tcp(host_port.to_string()),
        None => Upstream::Tcp(format!(
            "{}:{}",
            host_port,
            port.as_deref().unwrap_or("5432")
        )),
    };
    let user = user.map(|u| format!("{}@", u)).unwrap_or_default();
    let query = if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    };
    Ok((
        upstream,
        format!("postgres://{}{}/{}{}", user, via, database, query),
    ))
}

/// `url` naming the database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .context("a database URL starts with its scheme")?;
    let (base, query) = match rest.split_once('?') {
        Some((base, query)) => (base, format!("?{}", query)),
        None => (rest, String::new()),
    };
    let authority = base.split_once('/').map_or(base, |(a, _)| a);
    Ok(format!("{}://{}/{}{}", scheme, authority, name, query))
}

/// The proxy; see the module's documentation.
pub struct CutProxy {
    upstream: Upstream,
    cut: AtomicBool,
    carried: AtomicU64,
    /// Notified each time another `trip_every` bytes went to the database.
    pub tripped: Notify,
    trip_every: u64,
    live: Mutex<Vec<AbortHandle>>,
}

impl CutProxy {
    /// Starts a proxy to the database of `url` on a loopback port; the proxy and the URL that goes
    /// through it. `tripped` is notified every `trip_every` bytes sent to the database.
    pub async fn start(url: &str, trip_every: u64) -> Result<(Arc<CutProxy>, String)> {
        let front = TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the proxy")?;
        let via = front
            .local_addr()
            .context("the proxy's address")?
            .to_string();
        let (upstream, proxied) = reroute(url, &via)?;
        let proxy = Arc::new(CutProxy {
            upstream,
            cut: AtomicBool::new(false),
            carried: AtomicU64::new(0),
            tripped: Notify::new(),
            trip_every: trip_every.max(1),
            live: Mutex::new(Vec::new()),
        });
        let accepting = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = front.accept().await {
                // Cut: the connection is closed at once, as a database host that drops them.
                if accepting.cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(accepting.clone().carry(client));
                let mut live = accepting.live.lock().unwrap_or_else(|e| e.into_inner());
                live.retain(|t| !t.is_finished());
                live.push(task.abort_handle());
            }
        });
        Ok((proxy, proxied))
    }

    /// Closes every connection to the database and every new one until [`CutProxy::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for task in self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// Bytes sent to the database so far.
    pub fn carried(&self) -> u64 {
        self.carried.load(Ordering::Relaxed)
    }

    async fn carry(self: Arc<Self>, client: TcpStream) {
        match &self.upstream {
            Upstream::Tcp(addr) => {
                if let Ok(up) = TcpStream::connect(addr).await {
                    self.pipe(client, up).await;
                }
            }
            Upstream::Unix(path) => {
                if let Ok(up) = UnixStream::connect(path).await {
                    self.pipe(client, up).await;
                }
            }
        }
    }

    async fn pipe<U: AsyncRead + AsyncWrite + Unpin>(&self, client: TcpStream, up: U) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client_read, mut client_write) = client.into_split();
        let (mut up_read, mut up_write) = tokio::io::split(up);
        let requests = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if up_write.write_all(&buf[..n]).await.is_err() {
                    return;
                }
                let before = self.carried.fetch_add(n as u64, Ordering::Relaxed);
                if before / self.trip_every != (before + n as u64) / self.trip_every {
                    self.tripped.notify_one();
                }
            }
        };
        let answers = tokio::io::copy(&mut up_read, &mut client_write);
        tokio::select! {
            _ = requests => {},
            _ = answers => {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_url_is_rerouted_through_the_proxy_and_keeps_its_other_parameters() {
        let (up, url) = reroute(
            "postgres://rehome@localhost/rehome_test_1?host=/tmp/pg&sslmode=disable",
            "127.0.0.1:4000",
        )
        .expect("reroute");
        assert_eq!(up, Upstream::Unix(PathBuf::from("/tmp/pg/.s.PGSQL.5432")));
        assert_eq!(
            url,
            "postgres://rehome@127.0.0.1:4000/rehome_test_1?sslmode=disable"
        );
    }

    #[test]
    fn a_tcp_url_keeps_its_credentials_and_names_its_port() {
        let (up, url) =
            reroute("postgres://u:p@db.example:6543/x", "127.0.0.1:1").expect("reroute");
        assert_eq!(up, Upstream::Tcp("db.example:6543".to_string()));
        assert_eq!(url, "postgres://u:p@127.0.0.1:1/x");
        let (up, _) = reroute("postgresql://db/x", "127.0.0.1:1").expect("reroute");
        assert_eq!(up, Upstream::Tcp("db:5432".to_string()));
        assert!(reroute("sqlite://x.db", "127.0.0.1:1").is_err());
    }

    #[test]
    fn another_database_on_the_same_server_keeps_the_rest_of_the_url() {
        assert_eq!(
            with_database("postgres://rehome@localhost/postgres?host=/tmp/pg", "b").expect("url"),
            "postgres://rehome@localhost/b?host=/tmp/pg"
        );
        assert_eq!(
            with_database("postgres://db", "b").expect("url"),
            "postgres://db/b"
        );
    }
}
