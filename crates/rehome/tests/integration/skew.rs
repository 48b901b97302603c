//! Agents whose clock is an hour off the server's: the first message is refused as stale, the
//! refusal tells the server's time, and the agent talks on in the server's time; a message it
//! sent is still refused when it comes again.

use std::sync::{Arc, Mutex};

use agent::client::{Client, HttpTransport, Transport};
use agent::{SimWorkstation, Workstation};
use chrono::{DateTime, Duration, Utc};
use model::clock::{Clock, SystemClock};
use model::envelope::{Key32, PublicKeys};
use model::protocol::{CheckInRequest, Refused, RegisterRequest, AGENT_VERSION};
use rehome::demo::fleet;

use crate::support::{blocking, Harness};

/// A device clock `by` away from the real one.
struct SkewedClock(Duration);

impl Clock for SkewedClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + self.0
    }
}

/// HTTP that keeps the last request it sent, so the test can send it again.
struct Recording {
    http: HttpTransport,
    last: Mutex<Option<(String, Vec<u8>)>>,
}

impl Transport for Recording {
    fn post(&self, path: &str, body: &[u8]) -> agent::Result<(u16, Vec<u8>)> {
        *self.last.lock().expect("lock") = Some((path.to_string(), body.to_vec()));
        self.http.post(path, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_an_hour_ahead_or_behind_register_and_check_in_and_replays_stay_refused() {
    let h = Harness::start(6, 2).await;
    let machines = fleet::create(&h.dir.path().join("fleet"), &h.world, 2).expect("create");
    for (machine, skew) in machines
        .iter()
        .zip([Duration::hours(1), Duration::hours(-1)])
    {
        let (url, psk, dir) = (h.url.clone(), h.world.psk.clone(), machine.dir.clone());
        let (offset, answer_time, replay) = blocking(move || {
            let facts = SimWorkstation::open(&dir)
                .expect("open")
                .facts()
                .expect("facts");
            let transport = Arc::new(Recording {
                http: HttpTransport::new(&url),
                last: Mutex::new(None),
            });
            let mut client = Client::new(transport.clone(), Arc::new(SkewedClock(skew)), None);
            client
                .register(
                    &psk,
                    RegisterRequest {
                        computer_name: facts.computer_name.clone(),
                        serial: facts.serial.clone(),
                        os_edition: facts.os_edition,
                        os_version: facts.os_version.clone(),
                        agent_version: AGENT_VERSION.to_string(),
                        join_state: facts.join_state.clone(),
                        keys: PublicKeys {
                            sign: Key32([0; 32]),
                            encrypt: Key32([0; 32]),
                        },
                    },
                )
                .expect("a skewed agent registers");
            let answer = client
                .check_in(&CheckInRequest {
                    held_assignment: None,
                    final_check: false,
                    agent_version: AGENT_VERSION.to_string(),
                    join_state: facts.join_state.clone(),
                    logged_on_user: None,
                    running: None,
                    completed: Vec::new(),
                    computer_name: Some(facts.computer_name.clone()),
                    os_version: Some(facts.os_version.clone()),
                })
                .expect("a skewed agent checks in");
            let (path, body) = transport.last.lock().expect("lock").clone().expect("sent");
            let replay = transport.post(&path, &body).expect("an answer");
            (client.server_offset_seconds(), answer.server_time, replay)
        })
        .await;

        // The agent learnt the server's clock to within a few seconds.
        assert!(
            (offset + skew.num_seconds()).abs() <= 5,
            "offset {} for a clock {} s off",
            offset,
            skew.num_seconds()
        );
        assert!((answer_time - SystemClock.now()).num_seconds().abs() <= 5);
        // The same check-in sent again is a replay, whatever the agent's clock.
        assert_eq!(replay.0, 403);
        let refused: Refused = serde_json::from_slice(&replay.1).expect("a refusal");
        assert_eq!(refused.code, "replay");
        assert_eq!(refused.server_time, None);
    }

    // Each agent's first registration was refused as stale and recorded, each replay too,
    // nothing else. Refusals from one address with one code are kept as one row with a count.
    let sources = h
        .app
        .store
        .failed_sources(100)
        .await
        .expect("failed communications");
    let count = |code: &str| -> i64 {
        sources
            .iter()
            .filter(|s| s.last.code == code)
            .map(|s| s.repeats)
            .sum()
    };
    assert_eq!(count("stale"), 2);
    assert_eq!(count("replay"), 2);
    assert_eq!(sources.iter().map(|s| s.repeats).sum::<i64>(), 4);
}
