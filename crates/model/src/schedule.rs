//! Schedule rules as pure functions of the current instant: when to check in, when to retry, and
//! what an assignment means right now.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Check-in delays after registration while no assignment has arrived: 1, 2, 4, 8, 16, 32 minutes.
pub const REGISTRATION_BACKOFF_MINUTES: [i64; 6] = [1, 2, 4, 8, 16, 32];
/// Retry delays while the server is unreachable: 1 … 64 minutes, then every 64.
pub const UNREACHABLE_BACKOFF_MINUTES: [i64; 7] = [1, 2, 4, 8, 16, 32, 64];
/// The regular check-in interval.
pub const HOURLY: i64 = 60;
/// With nobody logged on, an enforced runbook starts within this many minutes.
pub const ENFORCED_START_WINDOW_MINUTES: i64 = 15;
/// With somebody logged on, an enforced runbook starts after this countdown.
pub const COUNTDOWN_MINUTES: i64 = 60;
/// Minutes left on the countdown at which the user is reminded.
pub const COUNTDOWN_REMINDERS: [i64; 7] = [45, 30, 15, 10, 5, 2, 1];

/// What the agent remembers between check-ins to time the next one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInState {
    /// Successful check-ins since registration that returned no assignment.
    pub empty_check_ins: u32,
    /// Whether the last successful check-in returned an assignment.
    pub has_assignment: bool,
    /// Consecutive failed attempts to reach the server.
    pub failures: u32,
}

impl CheckInState {
    /// Records a successful check-in.
    pub fn succeeded(&mut self, has_assignment: bool) {
        self.failures = 0;
        self.has_assignment = has_assignment;
        if !has_assignment {
            self.empty_check_ins = self.empty_check_ins.saturating_add(1);
        }
    }

    /// Records a check-in that could not reach the server.
    pub fn failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    /// How long to wait after the last attempt.
    pub fn delay(&self) -> Duration {
        if self.failures > 0 {
            let i = (self.failures - 1) as usize;
            let minutes = UNREACHABLE_BACKOFF_MINUTES
                .get(i)
                .copied()
                .unwrap_or(UNREACHABLE_BACKOFF_MINUTES[UNREACHABLE_BACKOFF_MINUTES.len() - 1]);
            return Duration::minutes(minutes);
        }
        if self.has_assignment {
            return Duration::minutes(HOURLY);
        }
        // The first check-in right after registration counts as empty check-in number one.
        let i = self.empty_check_ins.saturating_sub(1) as usize;
        Duration::minutes(
            REGISTRATION_BACKOFF_MINUTES
                .get(i)
                .copied()
                .unwrap_or(HOURLY),
        )
    }

    /// When to check in next, given the instant of the last attempt.
    pub fn next(&self, last_attempt: DateTime<Utc>) -> DateTime<Utc> {
        last_attempt + self.delay()
    }
}

/// The instants of an assignment, already resolved for the device's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Available From, if any.
    pub available_from: Option<DateTime<Utc>>,
    /// Enforced After.
    pub enforced_after: DateTime<Utc>,
}

/// What an assignment means at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Nothing to offer yet; look again at `until`.
    Wait { until: DateTime<Utc> },
    /// Offer Migration Available to the logged-on user; enforced at `enforced_at`.
    Offer { enforced_at: DateTime<Utc> },
    /// Start now (after the final check-in).
    Start,
    /// Somebody is logged on: count down to `starts_at`, reminding at `next_reminder`.
    Countdown {
        starts_at: DateTime<Utc>,
        next_reminder: Option<DateTime<Utc>>,
    },
}

/// Decides what to do at `now`. `countdown_started` is when the 60-minute countdown began, if it has.
pub fn decide(
    window: &Window,
    now: DateTime<Utc>,
    user_logged_on: bool,
    countdown_started: Option<DateTime<Utc>>,
) -> Decision {
    if now < window.enforced_after {
        return match window.available_from {
            Some(from) if now >= from && user_logged_on => Decision::Offer {
                enforced_at: window.enforced_after,
            },
            Some(from) if now < from => Decision::Wait { until: from },
            _ => Decision::Wait {
                until: window.enforced_after,
            },
        };
    }
    if !user_logged_on {
        return Decision::Start;
    }
    let started = countdown_started.unwrap_or(now);
    let starts_at = started + Duration::minutes(COUNTDOWN_MINUTES);
    if now >= starts_at {
        return Decision::Start;
    }
    let next_reminder = COUNTDOWN_REMINDERS
        .iter()
        .map(|left| starts_at - Duration::minutes(*left))
        .find(|at| *at > now);
    Decision::Countdown {
        starts_at,
        next_reminder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).unwrap()
    }

    #[test]
    fn registration_backoff_doubles_then_goes_hourly() {
        let mut state = CheckInState::default();
        let mut delays = Vec::new();
        for _ in 0..8 {
            state.succeeded(false);
            delays.push(state.delay().num_minutes());
        }
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        state.succeeded(true);
        assert_eq!(state.delay().num_minutes(), 60);
    }

    #[test]
    fn unreachable_backoff_caps_at_64_minutes() {
        let mut state = CheckInState::default();
        let mut delays = Vec::new();
        for _ in 0..9 {
            state.failed();
            delays.push(state.delay().num_minutes());
        }
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 64, 64, 64]);
        state.succeeded(true);
        assert_eq!(state.delay().num_minutes(), 60);
    }

    #[test]
    fn enforced_with_nobody_logged_on_starts() {
        let w = Window {
            available_from: None,
            enforced_after: at(9, 0),
        };
        assert_eq!(
            decide(&w, at(8, 59), false, None),
            Decision::Wait { until: at(9, 0) }
        );
        assert_eq!(decide(&w, at(9, 0), false, None), Decision::Start);
    }

    #[test]
    fn available_is_offered_only_to_a_logged_on_user() {
        let w = Window {
            available_from: Some(at(8, 0)),
            enforced_after: at(9, 0),
        };
        assert_eq!(
            decide(&w, at(7, 59), true, None),
            Decision::Wait { until: at(8, 0) }
        );
        assert_eq!(
            decide(&w, at(8, 0), true, None),
            Decision::Offer {
                enforced_at: at(9, 0)
            }
        );
        assert_eq!(
            decide(&w, at(8, 0), false, None),
            Decision::Wait { until: at(9, 0) }
        );
    }

    #[test]
    fn countdown_reminds_then_starts() {
        let w = Window {
            available_from: None,
            enforced_after: at(9, 0),
        };
        let started = Some(at(9, 0));
        assert_eq!(
            decide(&w, at(9, 0), true, started),
            Decision::Countdown {
                starts_at: at(10, 0),
                next_reminder: Some(at(9, 15))
            }
        );
        assert_eq!(
            decide(&w, at(9, 55), true, started),
            Decision::Countdown {
                starts_at: at(10, 0),
                next_reminder: Some(at(9, 58))
            }
        );
        assert_eq!(
            decide(&w, at(9, 59), true, started),
            Decision::Countdown {
                starts_at: at(10, 0),
                next_reminder: None
            }
        );
        assert_eq!(decide(&w, at(10, 0), true, started), Decision::Start);
    }
}
