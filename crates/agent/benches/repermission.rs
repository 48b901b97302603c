//! Re-permissioning a simulated workstation's file system: 5 profiles of 100,000 files each
//! (`REHOME_BENCH_FILES` changes the count), add and remove, owners moved, inherited ACEs left
//! alone, the default Areas to Ignore. Measures the whole step on the device and the agent's own
//! CPU per object (parse, translate, serialize) without the workstation's storage.

use std::path::{Path, PathBuf};

use agent::permissions::{translate_area, IgnoreList};
use agent::{SimSpec, SimUser, SimWorkstation, Workstation};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use model::runbook::{default_ignore_patterns, Area};
use secdesc::translate::{translate, SidMap, TranslateMode, TranslateOptions};
use secdesc::{SecurityDescriptor, Sid};

const PROFILES: usize = 5;

fn files_per_profile() -> usize {
    std::env::var("REHOME_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn sid(s: String) -> Sid {
    s.parse().expect("bench SID")
}

fn spec_and_map() -> (SimSpec, SidMap) {
    let mut users = Vec::new();
    let mut map = SidMap::new();
    for i in 0..PROFILES {
        let source = sid(format!("S-1-5-21-1000-2000-3000-{}", 1100 + i));
        map.insert(
            source.clone(),
            sid(format!("S-1-5-21-7000-8000-9000-{}", 2100 + i)),
        );
        users.push(SimUser {
            sid: source,
            name: format!("user{:02}", i),
        });
    }
    let mut spec = SimSpec::active_directory("BENCH-01", "SN-BENCH", "old.contoso.test", users);
    spec.files_per_profile = files_per_profile();
    (spec, map)
}

fn size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn copy_device(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

fn options() -> TranslateOptions {
    TranslateOptions {
        mode: TranslateMode::Replace,
        owner_and_group: true,
    }
}

fn repermission(c: &mut Criterion) {
    let root: PathBuf = std::env::temp_dir().join(format!("rehome-bench-{}", std::process::id()));
    let pristine = root.join("pristine");
    let work = root.join("work");
    let (spec, map) = spec_and_map();
    let device = SimWorkstation::create(&pristine, &spec).expect("create");
    let objects = device.state().files.len();
    println!(
        "device: {} profiles x {} files = {} objects, {:.1} MiB on disk before the run",
        PROFILES,
        spec.files_per_profile,
        objects,
        size(&pristine) as f64 / (1 << 20) as f64
    );

    // The agent's own CPU per object.
    let descriptors: Vec<Vec<u8>> = device.state().files.values().cloned().collect();
    drop(device);
    let mut group = c.benchmark_group("agent");
    group.throughput(Throughput::Elements(descriptors.len() as u64));
    group.sample_size(10);
    group.bench_function("cpu: read, translate, write back (all objects)", |b| {
        b.iter(|| {
            let mut changed = 0;
            for bytes in &descriptors {
                let mut sd = SecurityDescriptor::from_bytes(bytes).expect("sd");
                if !translate(&mut sd, &map, &options())
                    .expect("translate")
                    .is_empty()
                {
                    changed += 1;
                    criterion::black_box(sd.to_bytes());
                }
            }
            changed
        })
    });
    drop(descriptors);

    // The whole step on the simulated device, from a fresh copy each time.
    group.bench_function("re-permission the file system of the device", |b| {
        b.iter_batched(
            || {
                copy_device(&pristine, &work);
                let ws = SimWorkstation::open(&work).expect("open");
                let ignore = IgnoreList::new(&ws, &default_ignore_patterns()).expect("ignore");
                (ws, ignore)
            },
            |(mut ws, ignore)| {
                let tally = translate_area(&mut ws, Area::FileSystem, &map, &options(), &ignore)
                    .expect("translate");
                ws.checkpoint("permissions/file-system", tally.changes)
                    .expect("checkpoint");
                tally
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    println!(
        "device: {:.1} MiB on disk after the run",
        size(&work) as f64 / (1 << 20) as f64
    );
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, repermission);
criterion_main!(benches);
