//! SDDL and binary parse+write, and translation of a typical file descriptor.
//! Run: `cargo bench -p secdesc --bench secdesc -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use secdesc::translate::{translate_into, SidMap, TranslateMode, TranslateOptions};
use secdesc::{SecurityDescriptor, Sid};

/// A profile folder as Windows writes it: 6 ACEs, two of them for the migrating user.
const FILE_SDDL: &str = "O:S-1-5-21-1004336348-1177238915-682003330-1001G:S-1-5-21-1004336348-1177238915-682003330-513D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-21-1004336348-1177238915-682003330-1001)(A;OICIIO;GA;;;CO)(A;;0x1200a9;;;BU)(D;;FW;;;S-1-5-21-1004336348-1177238915-682003330-1001)";

fn map() -> SidMap {
    let mut map = SidMap::new();
    map.insert(
        "S-1-5-21-1004336348-1177238915-682003330-1001"
            .parse()
            .unwrap(),
        "S-1-12-1-1943430372-1249052806-2496021943-3034400218"
            .parse()
            .unwrap(),
    );
    // A realistic table has many entries; most SIDs on a device are not in it.
    for rid in 2000..2500u32 {
        let from: Sid = format!("S-1-5-21-1004336348-1177238915-682003330-{}", rid)
            .parse()
            .unwrap();
        let to: Sid = format!("S-1-5-21-7-8-9-{}", rid).parse().unwrap();
        map.insert(from, to);
    }
    map
}

fn benches(c: &mut Criterion) {
    let sd = SecurityDescriptor::from_sddl(FILE_SDDL, None).unwrap();
    let bytes = sd.to_bytes();

    let mut group = c.benchmark_group("file descriptor");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sddl parse+write", |b| {
        b.iter(|| {
            SecurityDescriptor::from_sddl(black_box(FILE_SDDL), None)
                .unwrap()
                .to_sddl(None)
        })
    });
    group.bench_function("sddl parse", |b| {
        b.iter(|| SecurityDescriptor::from_sddl(black_box(FILE_SDDL), None).unwrap())
    });
    group.bench_function("sddl write", |b| b.iter(|| black_box(&sd).to_sddl(None)));
    group.bench_function("binary parse+write", |b| {
        b.iter(|| {
            SecurityDescriptor::from_bytes(black_box(&bytes))
                .unwrap()
                .to_bytes()
        })
    });
    group.bench_function("sddl -> binary -> sddl", |b| {
        b.iter(|| {
            let bytes = SecurityDescriptor::from_sddl(black_box(FILE_SDDL), None)
                .unwrap()
                .to_bytes();
            SecurityDescriptor::from_bytes(&bytes)
                .unwrap()
                .to_sddl(None)
        })
    });

    let map = map();
    let mut changes = Vec::with_capacity(8);
    for (name, mode) in [
        ("translate add (clone+translate)", TranslateMode::Add),
        (
            "translate replace (clone+translate)",
            TranslateMode::Replace,
        ),
    ] {
        let options = TranslateOptions {
            mode,
            owner_and_group: true,
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut copy = sd.clone();
                changes.clear();
                translate_into(&mut copy, black_box(&map), &options, &mut changes).unwrap();
                copy
            })
        });
    }
    // Add, then remove what was added: the translation alone, without the clone.
    let options = TranslateOptions {
        mode: TranslateMode::Add,
        owner_and_group: false,
    };
    let mut work = sd.clone();
    group.bench_function("translate add (in place, then revert)", |b| {
        b.iter(|| {
            changes.clear();
            translate_into(&mut work, black_box(&map), &options, &mut changes).unwrap();
            let dacl = work.dacl.as_mut().unwrap();
            // The n-th added ACE sits after its original, shifted by the n added before it.
            for (n, change) in changes.iter().enumerate().rev() {
                if let secdesc::translate::Place::Dacl(i) = change.place {
                    dacl.aces.remove(i + 1 + n);
                }
            }
            assert_eq!(dacl.aces.len(), 6);
        })
    });
    // Replace back and forth on one descriptor: the translation alone, without the clone.
    let reverse: SidMap = map.iter().map(|(a, b)| (b.clone(), a.clone())).collect();
    let options = TranslateOptions {
        mode: TranslateMode::Replace,
        owner_and_group: true,
    };
    let mut work = sd.clone();
    group.bench_function("translate replace (in place, no clone)", |b| {
        b.iter(|| {
            changes.clear();
            translate_into(&mut work, black_box(&map), &options, &mut changes).unwrap();
            translate_into(&mut work, black_box(&reverse), &options, &mut changes).unwrap();
        })
    });
    group.finish();
}

criterion_group!(secdesc_benches, benches);
criterion_main!(secdesc_benches);
