//! Every schedule rule of DESIGN.md "Behaviour numbers" at its boundary: each row names the rule
//! and gives the decision one second before, exactly at and one second after the boundary.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Europe::Berlin;

use super::*;
use crate::batch::{ScheduleTimezone, ScheduledTime};

fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
}

fn sec(n: i64) -> Duration {
    Duration::seconds(n)
}

/// One boundary: the decisions one second before, at and one second after `at`.
struct Row<T> {
    rule: String,
    at: DateTime<Utc>,
    expect: [T; 3],
}

fn check<T: PartialEq + std::fmt::Debug>(rows: &[Row<T>], decide: impl Fn(DateTime<Utc>) -> T) {
    for row in rows {
        let instants = [row.at - sec(1), row.at, row.at + sec(1)];
        for (i, (instant, want)) in instants.iter().zip(row.expect.iter()).enumerate() {
            let got = decide(*instant);
            assert_eq!(
                &got,
                want,
                "{}: {} the boundary {}",
                row.rule,
                ["just before", "at", "just after"][i],
                row.at
            );
        }
    }
}

/// Whether a check-in is due at `now`, after `attempts` recorded into `state` at `last`.
fn due(state: &CheckInState, last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= state.next(last)
}

#[test]
fn check_in_backoff_after_registration_is_1_2_4_8_16_32_minutes_then_hourly() {
    let last = t(1, 8, 0);
    let mut state = CheckInState::default();
    let mut rows = Vec::new();
    let mut states = Vec::new();
    for minutes in [1, 2, 4, 8, 16, 32, 60, 60] {
        state.succeeded(false);
        states.push(state);
        rows.push(Row {
            rule: format!(
                "empty check-in {}: next after {} min",
                states.len(),
                minutes
            ),
            at: last + Duration::minutes(minutes),
            expect: [false, true, true],
        });
    }
    for (row, state) in rows.iter().zip(states) {
        check(std::slice::from_ref(row), |now| due(&state, last, now));
    }
    // With an assignment: hourly.
    let mut assigned = CheckInState::default();
    assigned.succeeded(true);
    check(
        &[Row {
            rule: "with an assignment: hourly".into(),
            at: last + Duration::minutes(60),
            expect: [false, true, true],
        }],
        |now| due(&assigned, last, now),
    );
}

#[test]
fn unreachable_backoff_is_1_to_64_minutes_then_every_64() {
    let last = t(1, 8, 0);
    let mut state = CheckInState::default();
    state.succeeded(true);
    for (i, minutes) in [1, 2, 4, 8, 16, 32, 64, 64, 64].iter().enumerate() {
        state.failed();
        let row = Row {
            rule: format!("failure {}: retry after {} min", i + 1, minutes),
            at: last + Duration::minutes(*minutes),
            expect: [false, true, true],
        };
        check(&[row], |now| due(&state, last, now));
    }
    // Reaching the server again returns to the regular schedule.
    state.succeeded(true);
    assert_eq!(state.delay(), Duration::minutes(HOURLY));
}

fn window(available: Option<DateTime<Utc>>, enforced: DateTime<Utc>) -> Window {
    Window {
        available_from: available,
        enforced_after: enforced,
    }
}

#[test]
fn available_from_offers_to_a_logged_on_user_and_waits_otherwise() {
    let (from, enforced) = (t(2, 9, 0), t(9, 9, 0));
    let w = window(Some(from), enforced);
    let offer = Decision::Offer {
        enforced_at: enforced,
    };
    check(
        &[Row {
            rule: "Available From, user logged on".into(),
            at: from,
            expect: [Decision::Wait { until: from }, offer, offer],
        }],
        |now| decide(&w, now, true, None),
    );
    // Nobody to ask: the device waits for Enforced After.
    check(
        &[Row {
            rule: "Available From, nobody logged on".into(),
            at: from,
            expect: [
                Decision::Wait { until: from },
                Decision::Wait { until: enforced },
                Decision::Wait { until: enforced },
            ],
        }],
        |now| decide(&w, now, false, None),
    );
}

#[test]
fn each_snooze_length_hides_the_offer_until_it_ends() {
    let (from, enforced) = (t(2, 9, 0), t(30, 9, 0));
    let w = window(Some(from), enforced);
    let snoozed_at = t(2, 10, 0);
    let offer = Decision::Offer {
        enforced_at: enforced,
    };
    let expected = [5, 15, 30, 60, 240, 24 * 60, 7 * 24 * 60];
    for (length, minutes) in Snooze::ALL.iter().zip(expected) {
        assert_eq!(length.duration(), Duration::minutes(minutes));
        let choice = snooze(&w, snoozed_at, *length).expect("offered, so snooze is allowed");
        let ends = snoozed_at + Duration::minutes(minutes);
        check(
            &[Row {
                rule: format!("snooze {:?}", length),
                at: ends,
                expect: [Decision::Wait { until: ends }, offer, offer],
            }],
            |now| decide_with_choice(&w, now, true, None, &choice),
        );
    }
}

#[test]
fn a_snooze_never_outlasts_enforced_after() {
    let (from, enforced) = (t(2, 9, 0), t(2, 12, 0));
    let w = window(Some(from), enforced);
    let choice = snooze(&w, t(2, 11, 0), Snooze::OneWeek).expect("offered");
    check(
        &[Row {
            rule: "a week's snooze one hour before Enforced After".into(),
            at: enforced,
            expect: [
                Decision::Wait { until: enforced },
                Decision::Start,
                Decision::Start,
            ],
        }],
        |now| decide_with_choice(&w, now, false, None, &choice),
    );
}

#[test]
fn snooze_answers_only_an_offer() {
    let (from, enforced) = (t(2, 9, 0), t(2, 12, 0));
    let w = window(Some(from), enforced);
    let allowed = |now| snooze(&w, now, Snooze::FiveMinutes).is_ok();
    check(
        &[
            Row {
                rule: "snooze opens at Available From".into(),
                at: from,
                expect: [false, true, true],
            },
            Row {
                rule: "snooze closes at Enforced After".into(),
                at: enforced,
                expect: [true, false, false],
            },
        ],
        allowed,
    );
    assert_eq!(
        snooze(&window(None, enforced), t(2, 10, 0), Snooze::OneHour),
        Err(ChoiceRefused::NotOffered)
    );
}

#[test]
fn migrate_now_works_only_once_available_from_or_enforced_after_has_passed() {
    let (from, enforced) = (t(2, 9, 0), t(9, 9, 0));
    let with_available = window(Some(from), enforced);
    let without = window(None, enforced);
    let allowed = |w: &Window, now| migrate_now(w, now).is_ok();
    check(
        &[Row {
            rule: "Migrate Now with Available From".into(),
            at: from,
            expect: [false, true, true],
        }],
        |now| allowed(&with_available, now),
    );
    check(
        &[Row {
            rule: "Migrate Now without Available From".into(),
            at: enforced,
            expect: [false, true, true],
        }],
        |now| allowed(&without, now),
    );
    assert_eq!(
        migrate_now(&with_available, from - sec(1)),
        Err(ChoiceRefused::NotYetAvailable { opens_at: from })
    );
    // A stored Migrate Now starts the runbook, even over a snooze.
    let mut choice = snooze(&with_available, from, Snooze::OneDay).expect("offered");
    choice.migrate_now = true;
    check(
        &[Row {
            rule: "stored Migrate Now".into(),
            at: from + sec(10),
            expect: [Decision::Start, Decision::Start, Decision::Start],
        }],
        |now| decide_with_choice(&with_available, now, true, None, &choice),
    );
    // A Migrate Now flag that somehow predates the window does not start anything early.
    let early = UserChoice {
        snoozed_until: None,
        migrate_now: true,
    };
    check(
        &[Row {
            rule: "Migrate Now flag before the window".into(),
            at: from,
            expect: [
                Decision::Wait { until: from },
                Decision::Start,
                Decision::Start,
            ],
        }],
        |now| decide_with_choice(&with_available, now, true, None, &early),
    );
}

#[test]
fn enforced_after_with_nobody_logged_on_starts_within_15_minutes() {
    let enforced = t(3, 9, 0);
    let w = window(None, enforced);
    let deadline = enforced + Duration::minutes(ENFORCED_START_WINDOW_MINUTES);
    check(
        &[
            Row {
                rule: "Enforced After, nobody logged on".into(),
                at: enforced,
                expect: [
                    Decision::Wait { until: enforced },
                    Decision::Start,
                    Decision::Start,
                ],
            },
            Row {
                rule: "still starting at the end of the 15-minute window".into(),
                at: deadline,
                expect: [Decision::Start, Decision::Start, Decision::Start],
            },
        ],
        |now| decide(&w, now, false, None),
    );
}

#[test]
fn enforced_after_with_somebody_logged_on_counts_down_60_minutes_with_reminders() {
    let enforced = t(3, 9, 0);
    let w = window(None, enforced);
    let starts_at = enforced + Duration::minutes(COUNTDOWN_MINUTES);
    let countdown = |next: Option<DateTime<Utc>>| Decision::Countdown {
        starts_at,
        next_reminder: next,
    };
    let mark = |left: i64| starts_at - Duration::minutes(left);
    // The agent notes when it first saw the countdown; before Enforced After there is none.
    let started = |now: DateTime<Utc>| {
        if now >= enforced {
            Some(enforced)
        } else {
            None
        }
    };
    let mut rows = vec![Row {
        rule: "Enforced After, somebody logged on: the countdown begins".into(),
        at: enforced,
        expect: [
            Decision::Wait { until: enforced },
            countdown(Some(mark(45))),
            countdown(Some(mark(45))),
        ],
    }];
    let marks = COUNTDOWN_REMINDERS;
    assert_eq!(marks, [45, 30, 15, 10, 5, 2, 1]);
    for (i, left) in marks.iter().enumerate() {
        let following = marks.get(i + 1).map(|l| mark(*l));
        rows.push(Row {
            rule: format!("reminder at {} minutes left", left),
            at: mark(*left),
            expect: [
                countdown(Some(mark(*left))),
                countdown(following),
                countdown(following),
            ],
        });
    }
    rows.push(Row {
        rule: "the countdown ends and the runbook starts".into(),
        at: starts_at,
        expect: [countdown(None), Decision::Start, Decision::Start],
    });
    check(&rows, |now| decide(&w, now, true, started(now)));
    // Yes on the countdown is Migrate Now: allowed, so it starts at once.
    let yes = migrate_now(&w, enforced + Duration::minutes(3)).expect("enforced, so allowed");
    assert_eq!(
        decide_with_choice(&w, mark(45), true, Some(enforced), &yes),
        Decision::Start
    );
}

fn runbook(prerequisites: Vec<RunbookId>, allow_on_server_os: bool) -> Runbook {
    serde_json::from_value(serde_json::json!({
        "id": RunbookId::new(),
        "name": "CONTOSO to FABRIKAM",
        "source_directories": [crate::ids::DirectoryId::new()],
        "target_directory": crate::ids::DirectoryId::new(),
        "allow_on_server_os": allow_on_server_os,
        "prerequisites": prerequisites,
    }))
    .expect("runbook")
}

/// The runbooks Completed on a device by `now`, given when each Completed.
fn completed_by(log: &[(RunbookId, DateTime<Utc>)], now: DateTime<Utc>) -> Vec<RunbookId> {
    log.iter()
        .filter(|(_, at)| *at <= now)
        .map(|(id, _)| *id)
        .collect()
}

#[test]
fn a_runbook_never_runs_again_after_it_completed() {
    let main = runbook(Vec::new(), false);
    let completed_at = t(4, 10, 0);
    let log = [(main.id, completed_at)];
    check(
        &[Row {
            rule: "run once: Completed".into(),
            at: completed_at,
            expect: [
                Ok(()),
                Err(Ineligible::Completed),
                Err(Ineligible::Completed),
            ],
        }],
        |now| eligibility(&main, &completed_by(&log, now), false),
    );
}

#[test]
fn prerequisites_must_have_completed_first() {
    let (first, second) = (RunbookId::new(), RunbookId::new());
    let main = runbook(vec![first, second], false);
    let log = [(first, t(4, 9, 0)), (second, t(4, 10, 0))];
    check(
        &[
            Row {
                rule: "first prerequisite Completed".into(),
                at: t(4, 9, 0),
                expect: [
                    Err(Ineligible::PrerequisitePending(first)),
                    Err(Ineligible::PrerequisitePending(second)),
                    Err(Ineligible::PrerequisitePending(second)),
                ],
            },
            Row {
                rule: "last prerequisite Completed".into(),
                at: t(4, 10, 0),
                expect: [Err(Ineligible::PrerequisitePending(second)), Ok(()), Ok(())],
            },
        ],
        |now| eligibility(&main, &completed_by(&log, now), false),
    );
}

#[test]
fn nothing_runs_on_a_server_os_unless_the_runbook_allows_it() {
    let refused = runbook(Vec::new(), false);
    let allowed = runbook(Vec::new(), true);
    // (runbook allows servers, device is a server, expected)
    let rows = [
        (&refused, false, Ok(())),
        (&refused, true, Err(Ineligible::ServerOs)),
        (&allowed, false, Ok(())),
        (&allowed, true, Ok(())),
    ];
    for (rb, server, want) in rows {
        assert_eq!(
            eligibility(rb, &[], server),
            want,
            "allow_on_server_os={} server={}",
            rb.allow_on_server_os,
            server
        );
    }
}

fn wall(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|d| d.and_hms_opt(h, mi, 0))
        .expect("valid wall time")
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Enforced After at `at` in `timezone`, decided on a Berlin device with nobody logged on.
fn enforced_in_berlin(at: NaiveDateTime, timezone: ScheduleTimezone) -> Window {
    let enforced = ScheduledTime { at, timezone }.instant_in(&Berlin);
    window(None, enforced)
}

#[test]
fn local_and_utc_across_a_daylight_saving_gap_and_fold() {
    // 29 March 2026: Berlin skips 02:00–03:00 local (01:00 UTC).
    let gap = enforced_in_berlin(wall(2026, 3, 29, 2, 30), ScheduleTimezone::Local);
    // 25 October 2026: Berlin runs 02:00–03:00 local twice (00:00–01:00 and 01:00–02:00 UTC).
    let fold = enforced_in_berlin(wall(2026, 10, 25, 2, 30), ScheduleTimezone::Local);
    let utc_gap = enforced_in_berlin(wall(2026, 3, 29, 2, 30), ScheduleTimezone::Utc);
    let ordinary = enforced_in_berlin(wall(2026, 7, 1, 9, 0), ScheduleTimezone::Local);
    let cases = [
        (
            "Local time inside the spring gap starts when the gap ends",
            gap,
            utc(2026, 3, 29, 1, 0),
        ),
        (
            "Local time in the autumn fold means its first occurrence",
            fold,
            utc(2026, 10, 25, 0, 30),
        ),
        (
            "UTC ignores the device's daylight saving",
            utc_gap,
            utc(2026, 3, 29, 2, 30),
        ),
        (
            "Local summer time is two hours ahead of UTC in Berlin",
            ordinary,
            utc(2026, 7, 1, 7, 0),
        ),
    ];
    for (rule, w, boundary) in cases {
        check(
            &[Row {
                rule: rule.into(),
                at: boundary,
                expect: [
                    Decision::Wait { until: boundary },
                    Decision::Start,
                    Decision::Start,
                ],
            }],
            |now| decide(&w, now, false, None),
        );
    }
}
