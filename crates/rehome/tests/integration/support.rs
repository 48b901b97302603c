//! A server on a loopback port over a fresh store, seeded like the demo.

use std::sync::Arc;

use model::clock::SystemClock;
use rehome::demo::setup::{self, World};
use rehome::demo::DemoArgs;
use server::store::testing::{fresh_store, TestDir};
use server::{App, Settings};

/// A running server with its seeded world and a folder for workstations.
pub struct Harness {
    pub app: App,
    pub url: String,
    pub world: World,
    pub dir: TestDir,
    _store_dir: TestDir,
    server: tokio::task::JoinHandle<()>,
}

impl Harness {
    /// Starts a server and seeds `users` users and `computers` computers per the demo.
    pub async fn start(users: usize, computers: usize) -> Harness {
        Harness::start_with(Settings::default(), users, computers).await
    }

    /// As [`Harness::start`], with `settings`.
    pub async fn start_with(settings: Settings, users: usize, computers: usize) -> Harness {
        let (store, store_dir) = fresh_store().await;
        let app = App::new(store, Arc::new(SystemClock), settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let router = server::router(app.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let dir = TestDir::new();
        let args = DemoArgs {
            agents: computers,
            users,
            computers,
            data_dir: None,
            listen: "127.0.0.1:0".parse().expect("address"),
            timeout: 120,
            keep_running: false,
            time_factor: 60.0,
            connections: 8,
        };
        let world = setup::seed(&app, dir.path(), &args)
            .await
            .expect("seed the server");
        Harness {
            app,
            url,
            world,
            dir,
            _store_dir: store_dir,
            server,
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Runs blocking agent work off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}
