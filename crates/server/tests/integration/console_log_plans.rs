//! Agent Logs' plans at their boundary: a filter that keeps at most 1,000 events reads them first
//! and orders them (a computer's agents then their events, or every event scanned for a
//! message), one that keeps more walks the events newest first. Either way the rows, their order
//! and the count are those of a full read, on both stores.

use model::ids::AgentId;
use model::status::{EventLevel, Phase};
use server::store::fleet_events::FleetEventFilter;
use server::store::seek::Seek;
use sqlx::Row;

use crate::agent_api::{world, TestAgent};
use crate::support::TestApp;

/// Agents copied from an agent registered the ordinary way, named `PC-10001` … `PC-11200`.
const AGENTS: i64 = 1_200;

/// One stored event as a full read sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    at: i64,
    agent: String,
    seq: i64,
    computer: String,
    level: String,
    phase: String,
    message: String,
}

/// 1,200 agents, each with an Info event; a Warning naming alice on the first 1,001 (the
/// 1,001st in another phase) and naming bob on the rest; an Error on every hundredth. Times
/// repeat every seven agents, so rows tie on time and are ordered by agent and sequence.
async fn seed(t: &TestApp, template: AgentId) {
    let pool = t.app.store.pool();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
         INSERT INTO agents (id, directory, computer_guid, computer_name, serial, os_edition, \
         os_version, agent_version, join_state, certificate, sign_key, encrypt_key, \
         registered_at, last_contact) \
         SELECT '00000000-0000-4000-8000-' || (100000000000 + n.i), a.directory, \
         '00000000-0000-4000-9000-' || (100000000000 + n.i), 'PC-' || (10000 + n.i), \
         a.serial, a.os_edition, a.os_version, a.agent_version, a.join_state, a.certificate, \
         a.sign_key, a.encrypt_key, a.registered_at, a.last_contact \
         FROM n, agents a WHERE a.id = $1",
    )
    .bind(template.to_string())
    .bind(AGENTS)
    .execute(pool)
    .await
    .expect("agents");
    let copies = "FROM agents a WHERE a.id LIKE '00000000-0000-4000-8000-%'";
    let number = "(CAST(substr(a.id, 25) AS BIGINT) - 100000000000)";
    for (seq, level, phase, message, which) in [
        (
            1,
            "Info",
            "'Permissions'".to_string(),
            "'began'".to_string(),
            "1 = 1".to_string(),
        ),
        (
            2,
            "Warning",
            format!("CASE WHEN {number} = 1001 THEN 'Apps' ELSE 'Permissions' END"),
            format!(
                "CASE WHEN {number} <= 1001 THEN 'skipped the profile of alice' \
                 ELSE 'skipped the profile of bob' END"
            ),
            "1 = 1".to_string(),
        ),
        (
            3,
            "Error",
            "'Permissions'".to_string(),
            "'Permissions failed'".to_string(),
            format!("{number} % 100 = 0"),
        ),
    ] {
        sqlx::query(&format!(
            "INSERT INTO agent_events (agent, seq, at, received_at, level, runbook, phase, step, \
             status, message) SELECT a.id, {seq}, 1000 * ({number} % 7) + {seq}, 0, '{level}', \
             NULL, {phase}, NULL, NULL, {message} {copies} AND {which}"
        ))
        .execute(pool)
        .await
        .expect("events");
    }
}

/// Every copied agent's event, in Agent Logs' order: newest first, then by agent and sequence,
/// both descending.
async fn full_read(t: &TestApp) -> Vec<Stored> {
    let rows = sqlx::query(
        "SELECT e.at, e.agent, e.seq, a.computer_name, e.level, e.phase, e.message \
         FROM agent_events e JOIN agents a ON a.id = e.agent \
         WHERE a.id LIKE '00000000-0000-4000-8000-%'",
    )
    .fetch_all(t.app.store.pool())
    .await
    .expect("events");
    let mut all: Vec<Stored> = rows
        .iter()
        .map(|r| Stored {
            at: r.get("at"),
            agent: r.get("agent"),
            seq: r.get("seq"),
            computer: r.get("computer_name"),
            level: r.get("level"),
            phase: r.get("phase"),
            message: r.get("message"),
        })
        .collect();
    all.sort_by(|a, b| (b.at, &b.agent, b.seq).cmp(&(a.at, &a.agent, a.seq)));
    all
}

/// Which stored events a filter keeps, as a full read tells.
type Keeps = Box<dyn Fn(&Stored) -> bool>;

/// The events of `filter` page by page through the store's seek, 100 a page.
async fn paged(t: &TestApp, filter: &FleetEventFilter) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let mut seek = Seek::Offset(0);
    loop {
        let page = t
            .app
            .store
            .fleet_event_seek(filter, seek, 100)
            .await
            .expect("page");
        out.extend(
            page.rows
                .iter()
                .map(|r| (r.agent.to_string(), r.event.seq as i64)),
        );
        match (page.next, page.last) {
            (true, Some(last)) => seek = Seek::After(last),
            _ => return out,
        }
    }
}

#[tokio::test]
async fn agent_logs_read_the_same_rows_in_the_same_order_on_either_side_of_each_plans_boundary() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut template = TestAgent::new("pc1");
    template.register(&t, &w.psk).await.expect("registered");
    seed(&t, template.id()).await;
    let all = full_read(&t).await;
    assert_eq!(all.len(), 1_200 * 2 + 12);

    let filter = |computer: Option<&str>, level, phase, user: Option<&str>| FleetEventFilter {
        computer: computer.map(str::to_string),
        level,
        phase,
        user: user.map(str::to_string),
        ..Default::default()
    };
    let cases: Vec<(&str, FleetEventFilter, Keeps, usize)> = vec![
        (
            "a message 1,000 events name: scanned",
            filter(None, None, Some(Phase::Permissions), Some("alice")),
            Box::new(|r| r.message.contains("alice") && r.phase == "Permissions"),
            1_000,
        ),
        (
            "a message 1,001 events name: newest first",
            filter(None, None, None, Some("ALICE")),
            Box::new(|r| r.message.contains("alice")),
            1_001,
        ),
        (
            "every agent, 1,000 events: agents first",
            filter(Some("pc-1*"), None, Some(Phase::Permissions), Some("alice")),
            Box::new(|r| r.message.contains("alice") && r.phase == "Permissions"),
            1_000,
        ),
        (
            "every agent, 1,001 events: newest first",
            filter(Some("PC-1*"), None, None, Some("alice")),
            Box::new(|r| r.message.contains("alice")),
            1_001,
        ),
        (
            "every agent, few errors: agents first",
            filter(Some("PC-1*"), Some(EventLevel::Error), None, None),
            Box::new(|r| r.level == "Error"),
            12,
        ),
        (
            "a name few agents start with",
            filter(Some("PC-111*"), Some(EventLevel::Warning), None, None),
            Box::new(|r| r.level == "Warning" && r.computer.starts_with("PC-111")),
            100,
        ),
        (
            "every agent, every event: newest first",
            filter(Some("*0*"), None, None, None),
            Box::new(|r| r.computer.contains('0')),
            all.iter().filter(|r| r.computer.contains('0')).count(),
        ),
        (
            "no agent matches",
            filter(Some("WS-*"), None, None, None),
            Box::new(|_| false),
            0,
        ),
    ];
    for (what, filter, keeps, count) in cases {
        let expected: Vec<(String, i64)> = all
            .iter()
            .filter(|r| keeps(r))
            .map(|r| (r.agent.clone(), r.seq))
            .collect();
        assert_eq!(expected.len(), count, "{what}: the seeded rows");
        let store = &t.app.store;
        assert_eq!(
            store.fleet_event_count(&filter).await.expect("count"),
            count as u64,
            "{what}"
        );
        let whole: Vec<(String, i64)> = store
            .fleet_events(&filter, 0, 5_000)
            .await
            .expect("events")
            .iter()
            .map(|r| (r.agent.to_string(), r.event.seq as i64))
            .collect();
        assert_eq!(whole, expected, "{what}: one read");
        assert_eq!(paged(&t, &filter).await, expected, "{what}: page by page");
    }
}
