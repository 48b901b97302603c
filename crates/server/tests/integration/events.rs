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
