//! `rehome bench export-graph`: the export benchmark of `rehome bench export`, into the local
//! Graph server instead of a domain controller: synthetic users and groups with nested
//! membership are created in a fake Entra tenant on 127.0.0.1, then the export runs again with
//! nothing to write. Only built with the `bench-fakes` feature, since the server is a test fake.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use model::directory::{Directory, DirectoryKind};
use model::ids::DirectoryId;
use server::directory::connection::{self, Connection};
use server::directory::export;
use server::directory::file::FileSource;
use server::directory::graph::testing::{FakeGraph, FakeTenant};
use server::directory::ImportMode;

use crate::export_bench::{add_profiles, report, source_document};

/// Options of `rehome bench export-graph`.
#[derive(Debug, clap::Args)]
pub struct ExportGraphBenchArgs {
    /// Users to create.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Groups to create; each holds users round robin, and nine in ten hold the next group too.
    #[arg(long, default_value_t = 500)]
    pub groups: usize,
}

/// Runs `rehome bench export-graph`.
pub fn run(args: ExportGraphBenchArgs) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?
        .block_on(bench(args))
}

async fn bench(args: ExportGraphBenchArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("rehome-graph-bench-{}", uuid::Uuid::new_v4()));
    let outcome = async {
        let store =
            server::store::Store::open_sqlite(&dir, server::secrets::SecretBox::random()).await?;
        let app = server::App::new(
            store,
            Arc::new(model::clock::SystemClock),
            server::Settings::default(),
        );
        let graph = FakeGraph::start(FakeTenant {
            tenant_id: uuid::Uuid::new_v4().to_string(),
            domain: "fabrikam.test".into(),
            client_id: uuid::Uuid::new_v4().to_string(),
            client_secret: uuid::Uuid::new_v4().to_string(),
        })
        .await?;
        let path = dir.join("source.json");
        std::fs::write(
            &path,
            serde_json::to_vec(&source_document(args.users, args.groups))?,
        )?;
        let add = |name: &str, kind: DirectoryKind, domain: &str| Directory {
            id: DirectoryId::new(),
            name: name.to_string(),
            kind,
            domain: domain.to_string(),
            domain_id: None,
        };
        let source = server::directory::create(
            &app,
            add(
                "BENCH-SOURCE",
                DirectoryKind::ActiveDirectory,
                "source.test",
            ),
        )
        .await?
        .id;
        let target = server::directory::create(
            &app,
            add("BENCH-ENTRA", DirectoryKind::EntraId, "fabrikam.test"),
        )
        .await?
        .id;
        server::directory::import_with(
            &app,
            source,
            &FileSource::from_path(&path),
            ImportMode::Full,
        )
        .await?;
        connection::set_connection(&app, target, Connection::Graph(graph.config())).await?;
        add_profiles(&app, source, target, None).await?;
        println!(
            "{} users and {} groups into the local Graph server, {} writes in flight",
            args.users,
            args.groups,
            export::WRITES_IN_FLIGHT
        );
        let started = Instant::now();
        let first = export::run(&app, source, target).await?;
        report("create everything", started.elapsed().as_secs_f64(), &first);
        if first.refused > 0 {
            return Err(anyhow!("{} objects were refused", first.refused));
        }
        let started = Instant::now();
        let second = export::run(&app, source, target).await?;
        report(
            "again, nothing to write",
            started.elapsed().as_secs_f64(),
            &second,
        );
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome.map_err(|e| match e.downcast::<server::Error>() {
        Ok(e) => anyhow!("{}", e),
        Err(e) => e,
    })
}
