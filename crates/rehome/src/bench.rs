//! `rehome bench directory`: generates two synthetic AD domains, imports both into a fresh store,
//! matches them, then changes a share of the source and imports and matches again, printing the
//! time and the peak memory of every stage.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use model::directory::{Directory, DirectoryKind, DirectoryObject, MatchAttribute, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use server::directory::{
    BoxFuture, Changes, DirectorySource, ImportMode, PagedSnapshot, Pages, Snapshot,
};

use rehome::demo::directories::{generate, Generator};

/// What `rehome bench` measures.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Import and match two synthetic directories, then a delta.
    Directory(DirectoryBenchArgs),
    /// Re-permission a simulated workstation's file system (profiles × files).
    Agent(crate::agent_bench::AgentBenchArgs),
    /// Export synthetic users and groups into a real AD target, then again with nothing to write.
    Export(crate::export_bench::ExportBenchArgs),
    /// Export synthetic users and groups into the local Graph server, then again with nothing to
    /// write (built with the `bench-fakes` feature).
    #[cfg(feature = "bench-fakes")]
    ExportGraph(crate::export_graph_bench::ExportGraphBenchArgs),
    /// Answer times of the console's heaviest pages at 100,000 rows.
    Console(crate::console_bench::ConsoleBenchArgs),
    /// Readiness of a simulated batch: every device's checks sent, and the batch readiness page.
    Readiness(crate::readiness_bench::ReadinessBenchArgs),
    /// Signed and encrypted check-ins and event uploads against a bare JSON baseline.
    Server(crate::server_bench::ServerBenchArgs),
    /// A fleet run with its PostgreSQL cut off for a minute part way: what was lost.
    Outage(crate::outage_bench::OutageBenchArgs),
    /// One server at fleet scale, in its own process: 10,000 agents migrating at once, then
    /// 100,000 registered agents checking in hourly (time compressed).
    Scale(crate::scale_bench::ScaleBenchArgs),
}

/// Options of `rehome bench directory`.
#[derive(Debug, clap::Args)]
pub struct DirectoryBenchArgs {
    /// Users per directory.
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Share of the source users renamed, added and deleted (a third each) before the second run.
    #[arg(long, default_value_t = 1.0)]
    pub delta_percent: f64,
    /// Hand the second import the whole changed directory (a full read) instead of only its
    /// changes (an incremental read, as LDAP DirSync/uSNChanged and Graph delta give).
    #[arg(long)]
    pub full_delta: bool,
    /// Rename users by display name only, so each renamed user keeps the sAMAccountName it is
    /// matched by and its translation row is rewritten; by default a rename changes the
    /// sAMAccountName too and the user loses its match.
    #[arg(long)]
    pub renames_keep_match: bool,
    /// A postgres://… URL (its directories are added beside any there); default: a fresh SQLite
    /// store in a temporary directory.
    #[arg(long)]
    pub database: Option<String>,
    /// SIDs per user and group on both sides: 1 (objectSid only), 2 (and an on-premises SID, as
    /// a synchronised Entra object has) or 3 (and a sIDHistory entry).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub sids: u8,
    /// Drop the translation table's indexes that only the console reads (all but its key's and
    /// the source SID's) in the temporary SQLite store before importing, to measure what they
    /// cost a match run's writes.
    #[arg(long, conflicts_with = "database")]
    pub without_console_indexes: bool,
}

/// The translation table's indexes that only the console's pages and searches read.
const CONSOLE_INDEXES: [&str; 7] = [
    "translations_seek",
    "translations_target",
    "translations_source_name_lower",
    "translations_target_name_lower",
    "translations_source_upn_lower",
    "translations_target_upn_lower",
    "translations_target_sid",
];

/// Runs a future to completion on a multi-threaded runtime of its own.
fn block_on(work: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?
        .block_on(work)
}

/// Runs a benchmark.
pub fn run(command: BenchCommand) -> Result<()> {
    let args = match command {
        BenchCommand::Directory(args) => args,
        BenchCommand::Agent(args) => return crate::agent_bench::run(args),
        BenchCommand::Export(args) => return crate::export_bench::run(args),
        #[cfg(feature = "bench-fakes")]
        BenchCommand::ExportGraph(args) => return crate::export_graph_bench::run(args),
        BenchCommand::Readiness(args) => return block_on(crate::readiness_bench::run(args)),
        BenchCommand::Server(args) => return block_on(crate::server_bench::run(args)),
        BenchCommand::Outage(args) => return block_on(crate::outage_bench::run(args)),
        BenchCommand::Scale(args) => return crate::scale_bench::run(args),
        BenchCommand::Console(args) => return block_on(crate::console_bench::run(args)),
    };
    block_on(directory(args))
}

/// A source handing out a snapshot or a change set it holds, once, so the benchmark never copies
/// a directory.
enum Held {
    Snapshot(Snapshot),
    Generated(Box<GeneratedPages>),
    Changes(Changes),
}

/// Objects per page of a generated directory, as an LDAP paged search gives them.
const PAGE: usize = 1000;

/// A generated directory read page by page, never held whole, timing its own generation so the
/// benchmark can leave it out (it stands in for reading a real directory).
struct GeneratedPages {
    domain: String,
    domain_sid: String,
    generator: Generator,
    sids: u8,
    seed: u64,
    /// Users and groups given SIDs so far.
    translatable: u32,
    generating: Arc<AtomicU64>,
}

impl GeneratedPages {
    fn new(domain: &str, seed: u64, users: usize, sids: u8, generating: Arc<AtomicU64>) -> Self {
        let generator = Generator::new(domain, seed, users, users / 10);
        GeneratedPages {
            domain: domain.to_string(),
            domain_sid: generator.domain_sid.to_string(),
            generator,
            sids,
            seed,
            translatable: 0,
            generating,
        }
    }

    fn page(&mut self) -> server::Result<Vec<DirectoryObject>> {
        let started = Instant::now();
        let mut page = Vec::with_capacity(PAGE);
        for mut o in (&mut self.generator).take(PAGE) {
            if matches!(o.kind, ObjectKind::User | ObjectKind::Group) {
                give_sids(&mut o, self.sids, self.seed, self.translatable)
                    .map_err(|e| server::Error::Internal(e.to_string()))?;
                self.translatable += 1;
            }
            page.push(o);
        }
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.generating.fetch_add(nanos, Ordering::Relaxed);
        Ok(page)
    }
}

impl Pages for GeneratedPages {
    fn next_page(&mut self) -> BoxFuture<'_, server::Result<Option<Vec<DirectoryObject>>>> {
        let page = self.page();
        Box::pin(async move { page.map(|p| Some(p).filter(|p| !p.is_empty())) })
    }

    fn cursor(&mut self) -> Option<String> {
        Some("bench".to_string())
    }
}

struct HeldSource(Mutex<Option<Held>>);

impl HeldSource {
    fn take(&self) -> server::Result<Option<Held>> {
        Ok(self
            .0
            .lock()
            .map_err(|_| server::Error::Internal("snapshot lock poisoned".into()))?
            .take())
    }
}

impl DirectorySource for HeldSource {
    fn read(&self) -> BoxFuture<'_, server::Result<Snapshot>> {
        Box::pin(async move {
            match self.take()? {
                Some(Held::Snapshot(s)) => Ok(s),
                _ => Err(server::Error::Internal(
                    "no snapshot held for a full read".into(),
                )),
            }
        })
    }

    fn read_pages(&self) -> BoxFuture<'_, server::Result<PagedSnapshot<'_>>> {
        Box::pin(async move {
            match self.take()? {
                Some(Held::Generated(pages)) => Ok(PagedSnapshot {
                    domain: pages.domain.clone(),
                    domain_id: Some(pages.domain_sid.clone()),
                    pages,
                }),
                Some(Held::Snapshot(s)) => Ok(PagedSnapshot::from(s)),
                _ => Err(server::Error::Internal(
                    "no snapshot held for a full read".into(),
                )),
            }
        })
    }

    fn read_changes<'a>(
        &'a self,
        _cursor: &'a str,
    ) -> BoxFuture<'a, server::Result<Option<Changes>>> {
        Box::pin(async move {
            match self.take()? {
                Some(Held::Changes(c)) => Ok(Some(c)),
                _ => Err(server::Error::Internal(
                    "no change set held for an incremental read".into(),
                )),
            }
        })
    }
}

pub(crate) use rehome::fleet::peak_rss_mib;

/// The memory the process holds now, in MiB (`VmRSS`).
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

struct Stages {
    total: Duration,
}

impl Stages {
    fn report(&mut self, stage: &str, took: Duration, detail: &str) {
        // Generating the synthetic directories stands in for reading a real one: not counted.
        if !stage.starts_with("generate") {
            self.total += took;
        }
        let mib = |m: Option<f64>| m.map_or("?".to_string(), |m| format!("{:.0} MiB", m));
        println!(
            "{:<26} {:>8.2} s   peak RSS {:>9}   now {:>9}   {}",
            stage,
            took.as_secs_f64(),
            mib(peak_rss_mib()),
            mib(rss_mib()),
            detail
        );
    }
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Runs `f` under a spinner and reports its stage.
async fn stage<T, F>(stages: &mut Stages, name: &str, f: F) -> Result<T>
where
    F: std::future::Future<Output = Result<(T, String)>>,
{
    let bar = spinner(name);
    let started = Instant::now();
    let (value, detail) = f.await?;
    let took = started.elapsed();
    bar.finish_and_clear();
    stages.report(name, took, &detail);
    Ok(value)
}

/// Gives every user and group of `snapshot` `sids` SIDs: its own, then an on-premises one, then a
/// sIDHistory entry, each in a domain of its own so no two objects share one.
fn add_sids(snapshot: &mut Snapshot, sids: u8, seed: u64) -> Result<()> {
    for (i, o) in snapshot
        .objects
        .iter_mut()
        .filter(|o| matches!(o.kind, ObjectKind::User | ObjectKind::Group))
        .enumerate()
    {
        give_sids(o, sids, seed, u32::try_from(i).context("too many objects")?)?;
    }
    Ok(())
}

/// [`add_sids`] for the `i`-th user or group.
fn give_sids(o: &mut DirectoryObject, sids: u8, seed: u64, i: u32) -> Result<()> {
    let seed = u32::try_from(seed).context("seed")?;
    let rid = 1000 + i;
    if sids >= 2 {
        o.on_premises_sid = Some(secdesc::Sid::new(5, &[21, 7000 + seed, 7, 7, rid])?);
    }
    if sids >= 3 {
        o.sid_history = vec![secdesc::Sid::new(5, &[21, 8000 + seed, 8, 8, rid])?];
    }
    Ok(())
}

/// Bytes of the files under `dir` (the SQLite store and its write-ahead log).
fn store_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn domain(name: &str, seed: u64, users: usize) -> Snapshot {
    let file = generate(name, seed, users, users / 10);
    Snapshot {
        domain: file.domain,
        domain_id: Some(file.domain_sid.to_string()),
        objects: file.objects,
        cursor: Some("bench".to_string()),
    }
}

/// Renames `o`: its display name, and unless `keep_match` its sAMAccountName too, which the
/// benchmark matches users by.
fn rename(o: &mut DirectoryObject, keep_match: bool) {
    o.name = format!("{} (renamed)", o.name);
    if !keep_match {
        o.sam_account_name = o.sam_account_name.as_ref().map(|s| format!("{}.r", s));
    }
}

/// Renames, adds and deletes `percent` % of the users of `snapshot` (a third each); returns the
/// counts and the same edits as a change set.
fn apply_delta(
    snapshot: &mut Snapshot,
    percent: f64,
    seed: u64,
    keep_match: bool,
) -> ((usize, usize, usize), Changes) {
    let mut set = Changes {
        objects: Vec::new(),
        deleted: Vec::new(),
        cursor: "bench-2".to_string(),
    };
    let users = snapshot
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::User)
        .count();
    let changes = ((users as f64) * percent / 100.0).round() as usize;
    let (renames, adds) = (changes / 3, changes / 3);
    let deletes = changes - renames - adds;
    let template = snapshot
        .objects
        .iter()
        .find(|o| o.kind == ObjectKind::User)
        .cloned();
    // Spread the changes over the directory: every `step`-th user.
    let step = (users / changes.max(1)).max(1);
    let mut renamed = 0;
    let mut deleted = 0;
    let mut seen = 0;
    snapshot.objects.retain_mut(|o| {
        if o.kind != ObjectKind::User {
            return true;
        }
        seen += 1;
        if seen % step != 0 {
            return true;
        }
        if renamed < renames {
            renamed += 1;
            rename(o, keep_match);
            set.objects.push(o.clone());
            true
        } else if deleted < deletes {
            deleted += 1;
            set.deleted.push(o.guid);
            false
        } else {
            true
        }
    });
    if let Some(template) = template {
        let domain = snapshot.domain.clone();
        for i in 0..adds {
            let sam = format!("new.user{}.{}", seed, i);
            let object = DirectoryObject {
                guid: ObjectGuid::new(),
                name: format!("New User {}", i),
                upn: Some(format!("{}@{}", sam, domain)),
                mail: Some(format!("{}@{}", sam, domain)),
                sam_account_name: Some(sam),
                employee_id: Some(format!("N{:06}", i)),
                ..template.clone()
            };
            set.objects.push(object.clone());
            snapshot.objects.push(object);
        }
    }
    ((renamed, adds, deleted), set)
}

/// The same edits as [`apply_delta`], picked from the store's in-memory copy of the directory
/// instead of a second generated copy: an incremental read hands over only what changed, so the
/// benchmark holds no more than that either.
async fn delta_from_view(
    app: &server::App,
    directory: DirectoryId,
    percent: f64,
    seed: u64,
    keep_match: bool,
) -> Result<((usize, usize, usize), Changes)> {
    let slot = app.caches.current(&app.store, directory).await?;
    let view = slot.read().await;
    let users: Vec<_> = view
        .objects()
        .filter(|o| o.kind == ObjectKind::User)
        .collect();
    let changes = ((users.len() as f64) * percent / 100.0).round() as usize;
    let (renames, adds) = (changes / 3, changes / 3);
    let deletes = changes - renames - adds;
    let step = (users.len() / changes.max(1)).max(1);
    let mut set = Changes {
        objects: Vec::new(),
        deleted: Vec::new(),
        cursor: "bench-2".to_string(),
    };
    let picked: Vec<_> = users.iter().skip(step - 1).step_by(step).collect();
    for o in picked.iter().take(renames) {
        let mut object = o.to_object();
        rename(&mut object, keep_match);
        set.objects.push(object);
    }
    for o in picked.iter().skip(renames).take(deletes) {
        set.deleted.push(o.guid);
    }
    if let Some(template) = users.first().map(|o| o.to_object()) {
        let domain = template
            .upn
            .as_deref()
            .and_then(|u| u.split('@').nth(1))
            .unwrap_or("example.test")
            .to_string();
        for i in 0..adds {
            let sam = format!("new.user{}.{}", seed, i);
            set.objects.push(DirectoryObject {
                guid: ObjectGuid::new(),
                name: format!("New User {}", i),
                upn: Some(format!("{}@{}", sam, domain)),
                mail: Some(format!("{}@{}", sam, domain)),
                sam_account_name: Some(sam),
                employee_id: Some(format!("N{:06}", i)),
                ..template.clone()
            });
        }
    }
    let counts = (renames.min(picked.len()), adds, set.deleted.len());
    Ok((counts, set))
}

/// Waits for the write-ahead log's checkpoints that imports and match runs leave to a thread
/// (SQLite), and says how long after the stage before they ended: not counted in the totals.
fn settle() {
    let started = Instant::now();
    server::store::bulk::settle();
    println!(
        "{:<26} {:>8.2} s   (ended after the stage before; not counted)",
        "checkpoint (background)",
        started.elapsed().as_secs_f64()
    );
}

async fn open(args: &DirectoryBenchArgs) -> Result<(server::store::Store, Option<PathBuf>)> {
    match &args.database {
        Some(url) => Ok((
            server::store::Store::connect(url, server::secrets::SecretBox::random()).await?,
            None,
        )),
        None => {
            let dir = std::env::temp_dir().join(format!("rehome-bench-{}", uuid::Uuid::new_v4()));
            Ok((
                server::store::Store::open_sqlite(&dir, server::secrets::SecretBox::random())
                    .await?,
                Some(dir),
            ))
        }
    }
}

async fn add_directory(app: &server::App, name: &str, domain: &str) -> Result<DirectoryId> {
    let directory = server::directory::create(
        app,
        Directory {
            id: DirectoryId::new(),
            name: name.to_string(),
            kind: DirectoryKind::ActiveDirectory,
            domain: domain.to_string(),
            domain_id: None,
        },
    )
    .await?;
    Ok(directory.id)
}

async fn import(app: &server::App, directory: DirectoryId, held: Held) -> Result<((), String)> {
    let mode = match held {
        Held::Snapshot(_) | Held::Generated(_) => ImportMode::Full,
        Held::Changes(_) => ImportMode::Incremental,
    };
    let summary =
        server::directory::import_with(app, directory, &HeldSource(Mutex::new(Some(held))), mode)
            .await?;
    Ok((
        (),
        format!(
            "{} objects: {} added, {} changed, {} deleted",
            summary.total, summary.added, summary.changed, summary.deleted
        ),
    ))
}

async fn match_all(
    app: &server::App,
    source: DirectoryId,
    target: DirectoryId,
) -> Result<((), String)> {
    let summary =
        server::directory::match_users(app, source, target, MatchAttribute::SamAccountName).await?;
    Ok((
        (),
        format!(
            "{} matched, {} unmatched, {} ambiguous",
            summary.matched, summary.unmatched, summary.ambiguous
        ),
    ))
}

async fn directory(args: DirectoryBenchArgs) -> Result<()> {
    let (store, temp) = open(&args).await.context("open the store")?;
    let app = server::App::new(
        store,
        Arc::new(model::clock::SystemClock),
        server::Settings::default(),
    );
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let (source_domain, target_domain) = (
        format!("source-{}.test", tag),
        format!("target-{}.test", tag),
    );
    if args.without_console_indexes {
        for index in CONSOLE_INDEXES {
            sqlx::query(&format!("DROP INDEX IF EXISTS {}", index))
                .execute(app.store.pool())
                .await
                .with_context(|| format!("drop index {}", index))?;
        }
    }
    let source = add_directory(&app, &format!("SOURCE-{}", tag), &source_domain).await?;
    let target = add_directory(&app, &format!("TARGET-{}", tag), &target_domain).await?;
    println!(
        "{} users per directory, {} SID(s) per user and group, {} % delta, store: {}{}",
        args.users,
        args.sids,
        args.delta_percent,
        if args.database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        if args.without_console_indexes {
            ", without the console's translation indexes"
        } else {
            ""
        }
    );
    let mut stages = Stages {
        total: Duration::ZERO,
    };
    let users = args.users;
    let sids = args.sids;
    let generating = Arc::new(AtomicU64::new(0));
    for (name, directory, domain, seed) in [
        ("import source", source, &source_domain, 1),
        ("import target", target, &target_domain, 2),
    ] {
        let pages = GeneratedPages::new(domain, seed, users, sids, generating.clone());
        let objects = pages.generator.len();
        let before = generating.load(Ordering::Relaxed);
        let started = Instant::now();
        stage(
            &mut stages,
            name,
            import(&app, directory, Held::Generated(Box::new(pages))),
        )
        .await?;
        let generated = Duration::from_nanos(generating.load(Ordering::Relaxed) - before);
        // Generating the pages stands in for reading a real directory: not counted.
        stages.total -= generated.min(started.elapsed());
        println!(
            "{:<26} {:>8.2} s   generating {} objects in pages of {} (not counted)",
            "",
            generated.as_secs_f64(),
            objects,
            PAGE
        );
    }
    stage(&mut stages, "match", match_all(&app, source, target)).await?;
    settle();
    let full = stages.total;
    println!(
        "{:<26} {:>8.2} s   (import + match, generation excluded)",
        "full total",
        full.as_secs_f64()
    );
    let (rows, indexed) = app.store.translation_counts().await?;
    println!(
        "{:<26} {} rows, {} SIDs indexed for devices{}",
        "translation table",
        rows,
        indexed,
        match &temp {
            Some(dir) => format!(
                ", store {:.1} MiB",
                store_bytes(dir) as f64 / (1024.0 * 1024.0)
            ),
            None => String::new(),
        }
    );
    let delta_percent = args.delta_percent;
    let full_delta = args.full_delta;
    let keep_match = args.renames_keep_match;
    let delta_copy = stage(&mut stages, "generate delta", async {
        let ((renamed, added, deleted), held) = if full_delta {
            let mut s = domain(&source_domain, 1, users);
            add_sids(&mut s, sids, 1)?;
            let (counts, _) = apply_delta(&mut s, delta_percent, 3, keep_match);
            (counts, Held::Snapshot(s))
        } else {
            let (counts, changes) =
                delta_from_view(&app, source, delta_percent, 3, keep_match).await?;
            (counts, Held::Changes(changes))
        };
        let detail = format!("{} renamed, {} added, {} deleted", renamed, added, deleted);
        Ok((held, detail))
    })
    .await?;
    let before = stages.total;
    stage(
        &mut stages,
        if full_delta {
            "delta import (full read)"
        } else {
            "delta import (changes)"
        },
        import(&app, source, delta_copy),
    )
    .await?;
    stage(&mut stages, "delta match", match_all(&app, source, target)).await?;
    println!(
        "{:<26} {:>8.2} s",
        "delta total",
        (stages.total - before).as_secs_f64()
    );
    settle();
    if let Some(dir) = temp {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}
