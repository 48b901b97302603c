//! `rehome bench agent`: builds a simulated workstation with N profiles of M files each,
//! re-permissions its file system as a migration does (add and remove, owners moved, inherited
//! ACEs left alone, the default Areas to Ignore), and prints the wall time, the agent's own CPU per
//! object (read, translate, write back, without the workstation's storage), the size of the
//! simulated device on disk and the events a full migration writes.

use std::path::Path;
use std::time::Instant;

use agent::permissions::{translate_area, IgnoreList};
use agent::{SimSpec, SimUser, SimWorkstation, Workstation};
use anyhow::{Context, Result};
use model::plan::{plan, DeviceFacts, JoinState, OsEdition, TargetFacts};
use model::runbook::{
    default_ignore_patterns, Area, DeviceStateSettings, DomainJoin, PermissionMode,
    PermissionSettings, RemoveFrom, Runbook,
};
use secdesc::translate::{translate, SidMap, TranslateMode, TranslateOptions};
use secdesc::{SecurityDescriptor, Sid};

use crate::bench::peak_rss_mib;

/// Options of `rehome bench agent`.
#[derive(Debug, clap::Args)]
pub struct AgentBenchArgs {
    /// User profiles on the device.
    #[arg(long, default_value_t = 5)]
    pub profiles: usize,
    /// Files in each profile.
    #[arg(long, default_value_t = 100_000)]
    pub files: usize,
    /// Where to build the device; default: a temporary directory, removed afterwards.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn line(stage: &str, seconds: f64, detail: &str) {
    let rss = peak_rss_mib().map_or("?".to_string(), |m| format!("{:.0} MiB", m));
    println!(
        "{:<30} {:>8.3} s   peak RSS {:>9}   {}",
        stage, seconds, rss, detail
    );
}

/// Runs the benchmark.
pub fn run(args: AgentBenchArgs) -> Result<()> {
    let temp = args.dir.is_none();
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("rehome-bench-agent-{}", uuid::Uuid::new_v4()))
    });
    let result = bench(&args, &dir);
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn bench(args: &AgentBenchArgs, dir: &Path) -> Result<()> {
    let sid = |s: String| s.parse::<Sid>().context("bench SID");
    let mut users = Vec::new();
    let mut map = SidMap::new();
    for i in 0..args.profiles {
        let source = sid(format!("S-1-5-21-1000-2000-3000-{}", 1100 + i))?;
        let target = sid(format!("S-1-5-21-7000-8000-9000-{}", 2100 + i))?;
        map.insert(source.clone(), target);
        users.push(SimUser {
            sid: source,
            name: format!("user{:02}", i),
        });
    }
    let mut spec = SimSpec::active_directory("BENCH-01", "SN-BENCH", "old.contoso.test", users);
    spec.files_per_profile = args.files;

    let started = Instant::now();
    let mut ws = SimWorkstation::create(dir, &spec).context("build the simulated workstation")?;
    let objects = ws.state().files.len();
    line(
        "build device (not counted)",
        started.elapsed().as_secs_f64(),
        &format!(
            "{} profiles x {} files = {} objects, {:.1} MiB on disk",
            args.profiles,
            args.files,
            objects,
            dir_size(dir) as f64 / (1 << 20) as f64
        ),
    );

    let options = TranslateOptions {
        mode: TranslateMode::Replace,
        owner_and_group: true,
    };

    // The agent's own work per object, without the workstation's storage: parse, translate,
    // compare the parts, serialize.
    let descriptors: Vec<Vec<u8>> = ws.state().files.values().cloned().collect();
    let started = Instant::now();
    let mut changed = 0usize;
    for bytes in &descriptors {
        let mut sd = SecurityDescriptor::from_bytes(bytes)?;
        let before_owner = sd.owner.clone();
        if !translate(&mut sd, &map, &options)?.is_empty() {
            changed += 1;
            std::hint::black_box((sd.to_bytes(), before_owner));
        }
    }
    let cpu = started.elapsed();
    line(
        "agent CPU: read+translate+write",
        cpu.as_secs_f64(),
        &format!(
            "{:.3} µs per object, {} of {} changed",
            cpu.as_secs_f64() * 1e6 / descriptors.len().max(1) as f64,
            changed,
            descriptors.len()
        ),
    );
    drop(descriptors);

    // The whole step on the simulated device: enumerate, Areas to Ignore, pre-filter, translate,
    // write back the changed parts, make it durable.
    let ignore = IgnoreList::new(&ws, &default_ignore_patterns())?;
    let started = Instant::now();
    let tally = translate_area(&mut ws, Area::FileSystem, &map, &options, &ignore)?;
    ws.checkpoint("permissions/file-system", tally.changes)?;
    let took = started.elapsed();
    line(
        "re-permission file system",
        took.as_secs_f64(),
        &format!(
            "{} objects, {} written, {} ignored, {} changes; {:.3} µs per object",
            tally.objects,
            tally.written,
            tally.ignored,
            tally.changes,
            took.as_secs_f64() * 1e6 / tally.objects.max(1) as f64
        ),
    );
    line(
        "device on disk after the run",
        0.0,
        &format!("{:.1} MiB", dir_size(dir) as f64 / (1 << 20) as f64),
    );

    // A second pass finds nothing left to do: the step is idempotent.
    let started = Instant::now();
    let again = translate_area(&mut ws, Area::FileSystem, &map, &options, &ignore)?;
    line(
        "second pass (idempotent)",
        started.elapsed().as_secs_f64(),
        &format!("{} changes", again.changes),
    );

    // Events: one per step, one when the runbook starts, one when it ends.
    let runbook = Runbook {
        id: model::ids::RunbookId::new(),
        name: "bench".into(),
        source_directories: Vec::new(),
        target_directory: model::ids::DirectoryId::new(),
        allow_on_server_os: false,
        prerequisites: Vec::new(),
        startup: Default::default(),
        user_experience: Default::default(),
        device_state: DeviceStateSettings {
            remove_from: RemoveFrom::ActiveDirectory,
            domain_join: DomainJoin::ActiveDirectory,
            ..Default::default()
        },
        permissions: PermissionSettings {
            mode: PermissionMode::AddAndRemove,
            ..Default::default()
        },
        apps: Default::default(),
        completion: Default::default(),
    };
    let steps = plan(
        &runbook,
        &DeviceFacts {
            os_edition: OsEdition::Workstation,
            join_state: JoinState::ActiveDirectory {
                domain: "old.contoso.test".into(),
            },
        },
        &TargetFacts {
            domain: "new.contoso.test".into(),
        },
    )
    .map_err(|r| anyhow::anyhow!("the bench runbook is refused: {:?}", r))?;
    // The run ends with a restart's event when it joins, leaves or renames.
    let restart = usize::from(agent::run::restart::needed(&steps));
    println!(
        "events per full AD→AD migration: {} ({} steps + started + {} restart + completed), whatever the number of files",
        steps.len() + 2 + restart,
        steps.len(),
        restart
    );
    Ok(())
}
