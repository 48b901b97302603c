//! Runbook Status rows and the dashboard's counts, kept by the store as batches, computers,
//! agents and runs change, stay equal to a full scan of them: after imports, registrations,
//! status and phase changes, deletions and a batch's reassignment.

use std::collections::{BTreeMap, HashMap};

use chrono::Duration;
use model::assignment;
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::clock::Clock;
use model::directory::{DirectoryKind, DirectoryObject, ObjectKind};
use model::envelope::{AgentCertificate, KeyPair};
use model::ids::{AgentId, BatchId, CertificateId, DirectoryId, ObjectGuid, RunbookId};
use model::runbook::Runbook;
use model::status::{AgentStatus, Phase};
use server::migration::progress::{self, DeviceFilter};
use server::store::agents::{Agent, RunUpdate};

use crate::directory::{directory, import, object};
use crate::support::TestApp;

/// (batch, runbook, computer) → (name, status, phase), worked out from every batch, computer,
/// agent and run the way the console did before it kept counts.
type Scan = BTreeMap<(BatchId, RunbookId, ObjectGuid), (String, AgentStatus, Option<Phase>)>;

async fn full_scan(t: &TestApp) -> Scan {
    let app = &t.app;
    let now = t.clock.now();
    let agents: HashMap<(DirectoryId, ObjectGuid), AgentId> = app
        .store
        .agents()
        .await
        .expect("agents")
        .into_iter()
        .map(|a| ((a.directory, a.computer_guid), a.id))
        .collect();
    let runs: HashMap<(AgentId, RunbookId), (AgentStatus, Option<Phase>)> = app
        .store
        .all_runs()
        .await
        .expect("runs")
        .into_iter()
        .map(|r| ((r.agent, r.runbook), (r.status, r.phase)))
        .collect();
    let mut out = Scan::new();
    for batch in app.store.batches().await.expect("batches") {
        let computers = app
            .store
            .objects(batch.source_directory, Some(ObjectKind::Computer))
            .await
            .expect("computers");
        for o in computers
            .iter()
            .filter(|o| assignment::batch_takes(&batch, batch.source_directory, &o.guid))
        {
            let agent = agents.get(&(batch.source_directory, o.guid));
            for a in &batch.assignments {
                let (status, phase) = match agent {
                    None => (AgentStatus::NoAgent, None),
                    Some(agent) => runs
                        .get(&(*agent, a.runbook))
                        .copied()
                        .unwrap_or((assignment::waiting_status(a, now), None)),
                };
                out.insert(
                    (batch.id, a.runbook, o.guid),
                    (o.name.clone(), status, phase),
                );
            }
        }
    }
    out
}

/// Checks the kept counts, totals and rows against a full scan, for every batch and runbook
/// filter and every status; returns the scan.
async fn counts_match_a_full_scan(t: &TestApp, step: &str) -> Scan {
    let scan = full_scan(t).await;
    let app = &t.app;
    let mut pairs: Vec<(Option<BatchId>, Option<RunbookId>)> = vec![(None, None)];
    for (b, r, _) in scan.keys() {
        pairs.extend([(Some(*b), None), (None, Some(*r)), (Some(*b), Some(*r))]);
    }
    pairs.sort();
    pairs.dedup();
    for (batch, runbook) in pairs {
        let kept = progress::counts(app, batch, runbook).await.expect("counts");
        let mut expected = progress::StatusCounts::default();
        let mut by_phase: HashMap<Phase, u64> = HashMap::new();
        for ((b, r, _), (_, status, phase)) in &scan {
            if batch.is_none_or(|x| x == *b) && runbook.is_none_or(|x| x == *r) {
                expected.add(*status);
                if let (AgentStatus::InProgress, Some(p)) = (status, phase) {
                    *by_phase.entry(*p).or_default() += 1;
                }
            }
        }
        assert_eq!(
            kept.overall, expected,
            "{step}: counts of {batch:?} {runbook:?}"
        );
        assert_eq!(
            kept.in_progress, by_phase,
            "{step}: phases of {batch:?} {runbook:?}"
        );
        for status in AgentStatus::ALL {
            let filter = DeviceFilter {
                batch,
                runbook,
                status: Some(status),
                ..DeviceFilter::default()
            };
            let total = progress::device_total(app, &filter).await.expect("total");
            assert_eq!(
                total,
                expected.get(status),
                "{step}: {status:?} rows of {batch:?} {runbook:?}"
            );
        }
    }
    let rows = progress::devices(app, &DeviceFilter::default(), 0, 10_000)
        .await
        .expect("rows");
    let listed: Scan = rows
        .into_iter()
        .map(|d| {
            (
                (d.batch, d.runbook, d.computer),
                (d.computer_name, d.status, d.phase),
            )
        })
        .collect();
    assert_eq!(listed, scan, "{step}: the rows of Runbook Status");
    let overall = progress::progress(app).await.expect("progress").overall;
    assert_eq!(overall.total(), scan.len() as u64, "{step}: progress");
    scan
}

async fn register(t: &TestApp, directory: DirectoryId, computer: &DirectoryObject) -> AgentId {
    let keys = KeyPair::generate().public();
    let id = AgentId::new();
    let now = t.clock.now();
    let agent = Agent {
        id,
        directory,
        computer_guid: computer.guid,
        computer_name: computer.name.clone(),
        serial: "SERIAL".into(),
        os_edition: model::plan::OsEdition::Workstation,
        os_version: "10.0.22631".into(),
        agent_version: "test".into(),
        join_state: model::plan::JoinState::Workgroup,
        certificate: AgentCertificate {
            agent: id,
            computer_name: computer.name.clone(),
            keys,
            issuer: CertificateId::new(),
            not_before: 0,
            not_after: 0,
            signature: String::new(),
        },
        keys,
        registered_at: now,
        last_contact: now,
        logged_on_user: None,
    };
    t.app.store.insert_agent(&agent).await.expect("agent");
    id
}

async fn runbook(t: &TestApp, name: &str, source: DirectoryId, target: DirectoryId) -> RunbookId {
    let runbook: Runbook = serde_json::from_value(serde_json::json!({
        "id": RunbookId::new(), "name": name, "source_directories": [source],
        "target_directory": target
    }))
    .expect("runbook");
    server::migration::runbooks::create(&t.app, runbook)
        .await
        .expect("create runbook")
        .id
}

fn assigned(runbook: RunbookId, days: i64) -> Assignment {
    let opens = chrono::NaiveDate::from_ymd_opt(2025, 1, 6)
        .and_then(|d| d.and_hms_opt(9, 0, 0))
        .expect("a date")
        + Duration::days(days);
    Assignment {
        runbook,
        available_from: Some(opens),
        enforced_after: opens + Duration::days(7),
        timezone: ScheduleTimezone::Utc,
    }
}

async fn update(
    t: &TestApp,
    agent: AgentId,
    runbook: RunbookId,
    seq: i64,
    status: AgentStatus,
    phase: Phase,
) {
    let change = RunUpdate {
        status: Some(status),
        phase: Some(phase),
        step: None,
        last_error: None,
        seq,
    };
    t.app
        .store
        .apply_run_update(agent, runbook, &change, t.clock.now())
        .await
        .expect("run update");
}

/// Computers PC01, PC02, … up to PC`count`.
fn computers(count: u32) -> Vec<DirectoryObject> {
    (1..=count)
        .map(|i| {
            object(
                ObjectKind::Computer,
                &format!("PC{i:02}"),
                &format!("PC{i:02}$"),
                None,
            )
        })
        .collect()
}

#[tokio::test]
async fn kept_device_counts_equal_a_full_scan_through_every_change() {
    let t = TestApp::new().await;
    let source = directory(&t, "SOURCE", "source.test", DirectoryKind::ActiveDirectory).await;
    let target = directory(&t, "TARGET", "target.test", DirectoryKind::ActiveDirectory).await;
    let mut computers = computers(12);
    let mut objects = computers.clone();
    objects.push(object(ObjectKind::User, "alice", "alice", None));
    import(&t, source, "source.test", objects.clone()).await;
    let r1 = runbook(&t, "First", source, target).await;
    let r2 = runbook(&t, "Second", source, target).await;
    let r3 = runbook(&t, "Third", source, target).await;

    // Agents registered before any batch exists.
    let mut agents: Vec<AgentId> = Vec::new();
    for c in &computers[..4] {
        agents.push(register(&t, source, c).await);
    }
    let mut a = Batch {
        id: BatchId::new(),
        name: "Everyone but PC12".into(),
        source_directory: source,
        target_directory: target,
        // R1 opened yesterday (Not Started); R2 opens tomorrow (Not Available).
        assignments: vec![assigned(r1, -1), assigned(r2, 1)],
        computers: ComputerSelection {
            mode: SelectionMode::AllExcept,
            computers: vec![computers[11].guid],
        },
    };
    let b = Batch {
        id: BatchId::new(),
        name: "Two".into(),
        source_directory: source,
        target_directory: target,
        assignments: vec![assigned(r1, -1)],
        computers: ComputerSelection {
            mode: SelectionMode::NoneExcept,
            computers: vec![computers[0].guid, computers[1].guid],
        },
    };
    server::migration::batches::create(&t.app, a.clone())
        .await
        .expect("batch a");
    server::migration::batches::create(&t.app, b.clone())
        .await
        .expect("batch b");
    let scan = counts_match_a_full_scan(&t, "batches created").await;
    assert_eq!(
        scan.len(),
        11 * 2 + 2,
        "11 computers × 2 runbooks and 2 × 1"
    );

    // More agents register; runs start, move through phases, fail, complete.
    for c in &computers[4..8] {
        agents.push(register(&t, source, c).await);
    }
    t.app
        .store
        .create_run(agents[0], r1, a.id, AgentStatus::NotStarted, t.clock.now())
        .await
        .expect("run");
    update(
        &t,
        agents[1],
        r1,
        1,
        AgentStatus::InProgress,
        Phase::Startup,
    )
    .await;
    update(
        &t,
        agents[2],
        r1,
        1,
        AgentStatus::InProgress,
        Phase::Permissions,
    )
    .await;
    update(&t, agents[3], r2, 1, AgentStatus::Error, Phase::Apps).await;
    counts_match_a_full_scan(&t, "runs started").await;
    update(
        &t,
        agents[1],
        r1,
        2,
        AgentStatus::InProgress,
        Phase::DeviceState,
    )
    .await;
    update(
        &t,
        agents[2],
        r1,
        2,
        AgentStatus::Completed,
        Phase::Completion,
    )
    .await;
    t.app
        .store
        .retry_run(agents[3], r2, t.clock.now())
        .await
        .expect("retry");
    counts_match_a_full_scan(&t, "statuses changed").await;

    // Time passes: R2 opens, so its waiting devices are Not Started now.
    t.clock.advance(Duration::days(2));
    counts_match_a_full_scan(&t, "R2 opened").await;

    // An import adds PC13, renames PC03 and no longer holds PC04; an agent is removed.
    computers.push(object(ObjectKind::Computer, "PC13", "PC13$", None));
    computers[2].name = "PC03-RENAMED".into();
    let gone = computers.remove(3);
    let mut objects: Vec<DirectoryObject> = computers.clone();
    objects.push(object(ObjectKind::User, "alice", "alice", None));
    import(&t, source, "source.test", objects).await;
    assert!(t.app.store.delete_agent(agents[1]).await.expect("delete"));
    let scan = counts_match_a_full_scan(&t, "imported again, agent removed").await;
    assert!(scan.keys().all(|(_, _, g)| *g != gone.guid));
    assert!(scan.values().any(|(name, _, _)| name == "PC03-RENAMED"));

    // The batch is reassigned: R2 replaced by R3, PC12 taken and PC01 left out; B is deleted.
    a.assignments = vec![assigned(r1, -1), assigned(r3, 5)];
    a.computers.computers = vec![computers[0].guid];
    server::migration::batches::update(&t.app, a.clone())
        .await
        .expect("reassign");
    update(&t, agents[5], r3, 1, AgentStatus::InProgress, Phase::Apps).await;
    counts_match_a_full_scan(&t, "reassigned").await;
    assert!(server::migration::batches::delete(&t.app, b.id)
        .await
        .is_ok());
    let scan = counts_match_a_full_scan(&t, "batch deleted").await;
    assert!(scan.keys().all(|(batch, _, _)| *batch == a.id));
}

#[tokio::test]
async fn a_directory_first_imported_after_its_batches_lists_its_computers_in_them() {
    let t = TestApp::new().await;
    let source = directory(&t, "SOURCE", "source.test", DirectoryKind::ActiveDirectory).await;
    let target = directory(&t, "TARGET", "target.test", DirectoryKind::ActiveDirectory).await;
    let computers = computers(5);
    let r1 = runbook(&t, "First", source, target).await;
    let r2 = runbook(&t, "Second", source, target).await;
    let batch = Batch {
        id: BatchId::new(),
        name: "All but PC05".into(),
        source_directory: source,
        target_directory: target,
        assignments: vec![assigned(r1, -1), assigned(r2, 1)],
        computers: ComputerSelection {
            mode: SelectionMode::AllExcept,
            computers: vec![computers[4].guid],
        },
    };
    server::migration::batches::create(&t.app, batch.clone())
        .await
        .expect("batch");
    assert!(counts_match_a_full_scan(&t, "before the import")
        .await
        .is_empty());

    // The directory's first import: four of its five computers are in the batch, under both
    // runbooks.
    let mut objects = computers.clone();
    objects.push(object(ObjectKind::User, "alice", "alice", None));
    import(&t, source, "source.test", objects).await;
    let scan = counts_match_a_full_scan(&t, "first import").await;
    assert_eq!(scan.len(), 4 * 2, "4 computers × 2 runbooks: {scan:?}");
    let names: Vec<&str> = scan.values().map(|(name, _, _)| name.as_str()).collect();
    assert!(
        names.contains(&"PC01") && !names.contains(&"PC05"),
        "{names:?}"
    );
}

/// `count` events of one upload, numbered from `first`.
fn uploaded(first: u64, count: u64) -> Vec<model::protocol::AgentEvent> {
    let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2025, 1, 6, 9, 0, 0)
        .single()
        .expect("valid instant");
    (first..first + count)
        .map(|seq| model::protocol::AgentEvent {
            seq,
            at,
            level: model::status::EventLevel::Info,
            runbook: None,
            phase: None,
            step: None,
            status: None,
            message: format!("event {seq}"),
        })
        .collect()
}

#[tokio::test]
async fn runs_of_one_batch_moving_while_their_events_arrive_never_fail_a_batch_of_the_writer() {
    let t = TestApp::new().await;
    let source = directory(&t, "SOURCE", "source.test", DirectoryKind::ActiveDirectory).await;
    let target = directory(&t, "TARGET", "target.test", DirectoryKind::ActiveDirectory).await;
    let computers: Vec<DirectoryObject> = (1..=200)
        .map(|i| {
            object(
                ObjectKind::Computer,
                &format!("PC{i:03}"),
                &format!("PC{i:03}$"),
                None,
            )
        })
        .collect();
    import(&t, source, "source.test", computers.clone()).await;
    let r1 = runbook(&t, "First", source, target).await;
    let batch = Batch {
        id: BatchId::new(),
        name: "Everyone".into(),
        source_directory: source,
        target_directory: target,
        assignments: vec![assigned(r1, -1)],
        computers: ComputerSelection {
            mode: SelectionMode::AllExcept,
            computers: vec![],
        },
    };
    server::migration::batches::create(&t.app, batch)
        .await
        .expect("batch");
    let mut agents = Vec::new();
    for c in &computers {
        agents.push(register(&t, source, c).await);
    }
    // Every device moves through every phase to Completed while its events arrive, twice over
    // (a retried upload), all devices at once: the moves take the same few count rows in
    // different orders, and on PostgreSQL the events go through several writer tasks.
    let moves = [
        (AgentStatus::InProgress, Phase::Startup),
        (AgentStatus::InProgress, Phase::DeviceState),
        (AgentStatus::InProgress, Phase::Permissions),
        (AgentStatus::InProgress, Phase::Apps),
        (AgentStatus::Completed, Phase::Completion),
    ];
    let t = &t;
    futures_util::future::join_all(agents.iter().map(|agent| async move {
        let runs = async {
            for (seq, (status, phase)) in moves.iter().enumerate() {
                update(t, *agent, r1, seq as i64 + 1, *status, *phase).await;
            }
        };
        let events = futures_util::future::join_all((0..10).map(|i| async move {
            let upload = uploaded(1 + (i % 5) * 40, 40);
            t.app
                .store
                .insert_events(*agent, &upload, t.clock.now())
                .await
        }));
        let (_, stored) = futures_util::join!(runs, events);
        for n in stored {
            n.expect("events stored");
        }
    }))
    .await;
    assert_eq!(
        t.app.store.writer_failed_batches(),
        0,
        "no batch of the writer failed (a deadlock fails one)"
    );
    for agent in &agents {
        assert_eq!(t.app.store.event_count(*agent).await.expect("count"), 200);
    }
    let scan = counts_match_a_full_scan(t, "every device Completed").await;
    assert!(scan.values().all(|(_, s, _)| *s == AgentStatus::Completed));
}
