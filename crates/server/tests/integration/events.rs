//! Agent events are stored exactly once per (agent, seq), however uploads overlap: retried
//! whole, overlapping, or racing each other into the same or different batches of the writer.

use chrono::{TimeZone, Utc};
use model::ids::AgentId;
use model::protocol::AgentEvent;
use model::status::EventLevel;
use server::store::testing::fresh_store;

fn events(seqs: std::ops::RangeInclusive<u64>) -> Vec<AgentEvent> {
    let at = Utc
        .with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
        .single()
        .expect("valid instant");
    seqs.map(|seq| AgentEvent {
        seq,
        at,
        level: EventLevel::Info,
        runbook: None,
        phase: None,
        step: Some(format!("step {seq}")),
        status: None,
        message: format!("event {seq} with \"quotes\", a tab\tand ünïcode"),
    })
    .collect()
}

#[tokio::test]
async fn overlapping_uploads_racing_each_other_store_each_event_once() {
    let (store, _dir) = fresh_store().await;
    let now = Utc
        .with_ymd_and_hms(2025, 1, 6, 9, 5, 0)
        .single()
        .expect("valid instant");
    let (a, b) = (AgentId::new(), AgentId::new());
    // Per agent: 1..=500 three times, 250..=750 twice, 1..=1000 once, all at once; then the
    // same again, so duplicates meet both inside one batch and across batches.
    let mut uploads = Vec::new();
    for agent in [a, b] {
        for range in [1..=500, 1..=500, 1..=500, 250..=750, 250..=750, 1..=1000] {
            uploads.push((agent, events(range)));
        }
    }
    let mut total = 0;
    for _round in 0..2 {
        let stored = futures_util::future::join_all(
            uploads
                .iter()
                .map(|(agent, batch)| store.insert_events(*agent, batch, now)),
        )
        .await;
        for n in stored {
            total += n.expect("stored");
        }
    }
    assert_eq!(
        total, 2000,
        "each new event counted once across all uploads"
    );
    for agent in [a, b] {
        assert_eq!(store.event_count(agent).await.expect("count"), 1000);
        assert_eq!(store.last_event_seq(agent).await.expect("last"), 1000);
        let newest = store.events(agent, None, 1).await.expect("page");
        assert_eq!(newest, events(1000..=1000), "stored as sent");
    }
}

fn upload_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 9, 5, 0)
        .single()
        .expect("valid instant")
}

#[tokio::test]
async fn the_same_upload_twice_and_one_overlapping_it_store_only_what_is_new() {
    let (store, _dir) = fresh_store().await;
    let agent = AgentId::new();
    let now = upload_time();
    let first = store
        .insert_events(agent, &events(1..=100), now)
        .await
        .expect("first");
    let again = store
        .insert_events(agent, &events(1..=100), now)
        .await
        .expect("again");
    let overlapping = store
        .insert_events(agent, &events(51..=150), now)
        .await
        .expect("overlapping");
    assert_eq!((first, again, overlapping), (100, 0, 50));
    assert_eq!(store.event_count(agent).await.expect("count"), 150);
    let page = store.events(agent, None, 150).await.expect("page");
    let mut sent = events(1..=150);
    sent.reverse();
    assert_eq!(page, sent, "each event stored as first sent, once");
}

#[tokio::test]
async fn a_bad_upload_fails_alone_and_the_uploads_batched_with_it_are_stored() {
    let (store, _dir) = fresh_store().await;
    let now = upload_time();
    let agents: Vec<AgentId> = (0..8).map(|_| AgentId::new()).collect();
    // A NUL character, which PostgreSQL cannot hold in text: that upload's write fails there.
    let mut bad = events(1..=10);
    bad[4].message = "a NUL \u{0} in the message".into();
    let bad_agent = AgentId::new();
    let mut uploads: Vec<(AgentId, Vec<AgentEvent>)> =
        agents.iter().map(|a| (*a, events(1..=100))).collect();
    uploads.insert(4, (bad_agent, bad.clone()));
    uploads.extend(agents.iter().map(|a| (*a, events(1..=100))));
    let results = futures_util::future::join_all(
        uploads
            .iter()
            .map(|(agent, batch)| store.insert_events(*agent, batch, now)),
    )
    .await;
    let mut good_total = 0;
    for (n, result) in results.iter().enumerate() {
        if n == 4 {
            continue;
        }
        good_total += result.as_ref().expect("a good upload is stored");
    }
    assert_eq!(good_total, 800, "each good agent's 100 events counted once");
    for agent in &agents {
        assert_eq!(store.event_count(*agent).await.expect("count"), 100);
    }
    match store.backend() {
        server::store::Backend::Postgres => {
            assert!(results[4].is_err(), "the bad upload fails");
            assert_eq!(store.event_count(bad_agent).await.expect("count"), 0);
        }
        server::store::Backend::Sqlite => {
            assert_eq!(results[4].as_ref().expect("SQLite holds a NUL"), &10);
            let page = store.events(bad_agent, None, 10).await.expect("page");
            assert_eq!(page.iter().rev().cloned().collect::<Vec<_>>(), bad);
        }
    }
}
