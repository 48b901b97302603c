//! Leases and singleton jobs: two replicas on one store and one manual clock.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use model::clock::ManualClock;
use server::store::communications::FailedCommunication;
use server::{jobs, App, Settings};

fn replica(store: &server::store::Store, clock: &ManualClock, name: &str) -> App {
    App::new(
        store.clone(),
        Arc::new(clock.clone()),
        Settings {
            tls: false,
            replica: name.to_string(),
            ..Settings::default()
        },
    )
}

#[tokio::test]
async fn one_replica_holds_the_lease_and_another_takes_over_after_expiry() {
    let (store, _dir) = server::store::testing::fresh_store().await;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("instant"),
    );
    let (a, b) = (replica(&store, &clock, "a"), replica(&store, &clock, "b"));

    assert!(jobs::round(&a).await.expect("round").held);
    assert!(
        !jobs::round(&b).await.expect("round").held,
        "b must not run while a holds the lease"
    );
    // a renews within the TTL and keeps it.
    clock.advance(Duration::seconds(60));
    assert!(jobs::round(&a).await.expect("round").held);
    clock.advance(Duration::seconds(60));
    assert!(
        !jobs::round(&b).await.expect("round").held,
        "renewed lease still a's"
    );
    // a dies: after the TTL b takes over, and a, back, does not get it.
    clock.advance(jobs::lease_ttl() + Duration::seconds(1));
    assert!(jobs::round(&b).await.expect("round").held);
    assert!(!jobs::round(&a).await.expect("round").held);
    let (holder, _) = store
        .lease_holder(jobs::LEASE)
        .await
        .expect("read")
        .expect("held");
    assert_eq!(holder, "b");
    // Released at shutdown, the lease is free at once.
    jobs::release(&b).await.expect("release");
    assert!(jobs::round(&a).await.expect("round").held);
}

#[tokio::test]
async fn the_holder_sweeps_expired_nonces_and_old_failed_communications() {
    let (store, _dir) = server::store::testing::fresh_store().await;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("instant"),
    );
    let a = replica(&store, &clock, "a");
    let now = clock_now(&clock);
    assert!(store
        .remember_nonce("agent:x", "0123456789abcdef", now, Duration::minutes(10))
        .await
        .expect("nonce"));
    assert!(!store
        .remember_nonce("agent:x", "0123456789abcdef", now, Duration::minutes(10))
        .await
        .expect("nonce"));
    let old = FailedCommunication {
        at: now,
        computer_name: Some("PC1".into()),
        remote_address: None,
        code: "bad_psk".into(),
        message: "m".into(),
    };
    store
        .insert_failed_communication(&old)
        .await
        .expect("insert");

    let r = jobs::round(&a).await.expect("round");
    assert_eq!((r.nonces_swept, r.failed_communications_swept), (0, 0));
    clock.advance(Duration::minutes(11));
    assert_eq!(jobs::round(&a).await.expect("round").nonces_swept, 1);
    clock.advance(jobs::failed_communication_retention());
    assert_eq!(
        jobs::round(&a)
            .await
            .expect("round")
            .failed_communications_swept,
        1
    );
    assert!(store
        .failed_communications(10)
        .await
        .expect("list")
        .is_empty());
}

fn clock_now(clock: &ManualClock) -> chrono::DateTime<Utc> {
    use model::clock::Clock;
    clock.now()
}

/// Waits by moving the manual clock on; with a thief, another replica takes every lease it can
/// during the wait, as one would while this replica stalled.
struct StallingSleeper {
    clock: ManualClock,
    store: server::store::Store,
    step: Duration,
    thief: Option<&'static str>,
}

impl server::sleeper::Sleeper for StallingSleeper {
    fn sleep(&self, _: std::time::Duration) -> server::directory::BoxFuture<'_, ()> {
        Box::pin(async move {
            self.clock.advance(self.step);
            if let Some(thief) = self.thief {
                let now = clock_now(&self.clock);
                let _ = self
                    .store
                    .acquire_lease(
                        server::directory::schedule::LEASE,
                        thief,
                        now,
                        Duration::minutes(2),
                    )
                    .await;
            }
            tokio::task::yield_now().await;
        })
    }
}

#[tokio::test]
async fn work_longer_than_the_lease_keeps_it_by_renewing() {
    let (store, _dir) = server::store::testing::fresh_store().await;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("instant"),
    );
    let mut a = replica(&store, &clock, "a");
    a.sleeper = Arc::new(StallingSleeper {
        clock: clock.clone(),
        store: store.clone(),
        step: Duration::seconds(30),
        thief: None,
    });
    let lease = server::directory::schedule::LEASE;
    let ttl = server::directory::schedule::lease_ttl();
    let start = clock_now(&clock);
    assert!(store
        .acquire_lease(lease, "a", start, ttl)
        .await
        .expect("lease"));
    let every = std::time::Duration::from_secs(server::directory::schedule::RENEW_SECONDS);
    // Work that runs for ten minutes of the clock, five times the lease's length.
    let work = async {
        while clock_now(&clock) < start + Duration::minutes(10) {
            tokio::task::yield_now().await;
        }
        store
            .acquire_lease(lease, "b", clock_now(&clock), ttl)
            .await
    };
    let b_got_it = jobs::holding(&a, lease, ttl, every, work)
        .await
        .expect("the work finished under its lease");
    assert!(!b_got_it, "b took the lease of running work");
    let (holder, until) = store
        .lease_holder(lease)
        .await
        .expect("read")
        .expect("held");
    assert_eq!(holder, "a");
    assert!(until > clock_now(&clock));
}

#[tokio::test]
async fn a_replica_whose_lease_was_taken_stops_its_work() {
    let (store, _dir) = server::store::testing::fresh_store().await;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("instant"),
    );
    let mut a = replica(&store, &clock, "a");
    // a stalls past the lease's length and b takes the lease meanwhile.
    a.sleeper = Arc::new(StallingSleeper {
        clock: clock.clone(),
        store: store.clone(),
        step: Duration::minutes(3),
        thief: Some("b"),
    });
    let lease = server::directory::schedule::LEASE;
    let ttl = server::directory::schedule::lease_ttl();
    assert!(store
        .acquire_lease(lease, "a", clock_now(&clock), ttl)
        .await
        .expect("lease"));
    let work = std::future::pending::<server::Result<()>>();
    let every = std::time::Duration::from_secs(server::directory::schedule::RENEW_SECONDS);
    match jobs::holding(&a, lease, ttl, every, work).await {
        Err(server::Error::Conflict(message)) => assert!(message.contains(lease), "{}", message),
        other => panic!("the work went on without its lease: {:?}", other),
    }
    let (holder, _) = store
        .lease_holder(lease)
        .await
        .expect("read")
        .expect("held");
    assert_eq!(holder, "b");
}
