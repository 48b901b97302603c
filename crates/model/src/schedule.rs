//! Schedule rules as pure functions of the current instant: when to check in, when to retry, and
//! what an assignment means right now.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::RunbookId;
use crate::runbook::Runbook;

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

/// How long the user may put Migration Available off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Snooze {
    /// 5 minutes.
    FiveMinutes,
    /// 15 minutes.
    FifteenMinutes,
    /// 30 minutes.
    ThirtyMinutes,
    /// 1 hour.
    OneHour,
    /// 4 hours.
    FourHours,
    /// 1 day.
    OneDay,
    /// 1 week.
    OneWeek,
}

impl Snooze {
    /// Every length the user may pick, shortest first.
    pub const ALL: [Snooze; 7] = [
        Snooze::FiveMinutes,
        Snooze::FifteenMinutes,
        Snooze::ThirtyMinutes,
        Snooze::OneHour,
        Snooze::FourHours,
        Snooze::OneDay,
        Snooze::OneWeek,
    ];

    /// How long it lasts.
    pub fn duration(self) -> Duration {
        match self {
            Snooze::FiveMinutes => Duration::minutes(5),
            Snooze::FifteenMinutes => Duration::minutes(15),
            Snooze::ThirtyMinutes => Duration::minutes(30),
            Snooze::OneHour => Duration::hours(1),
            Snooze::FourHours => Duration::hours(4),
            Snooze::OneDay => Duration::days(1),
            Snooze::OneWeek => Duration::weeks(1),
        }
    }
}

/// What the logged-on user chose about one runbook; the agent keeps it across restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserChoice {
    /// Migration Available stays hidden until this instant (Enforced After still applies).
    #[serde(default)]
    pub snoozed_until: Option<DateTime<Utc>>,
    /// The user asked for Migrate Now (or Yes on the countdown) once it was allowed.
    #[serde(default)]
    pub migrate_now: bool,
}

/// Why a choice of the user was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceRefused {
    /// Neither Available From nor Enforced After has passed; it opens at `opens_at`.
    NotYetAvailable {
        /// The first instant Migrate Now is allowed.
        opens_at: DateTime<Utc>,
    },
    /// Snooze only answers Migration Available: the runbook is not offered right now.
    NotOffered,
}

impl std::fmt::Display for ChoiceRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChoiceRefused::NotYetAvailable { opens_at } => write!(
                f,
                "the migration is not available yet; Migrate Now works from {}",
                opens_at
            ),
            ChoiceRefused::NotOffered => {
                write!(f, "there is no available migration to snooze right now")
            }
        }
    }
}

/// The first instant Migrate Now is allowed: Available From, or Enforced After without one.
pub fn opens_at(window: &Window) -> DateTime<Utc> {
    match window.available_from {
        Some(from) => from.min(window.enforced_after),
        None => window.enforced_after,
    }
}

/// Migrate Now at `now`: allowed only once Available From or Enforced After has passed.
pub fn migrate_now(window: &Window, now: DateTime<Utc>) -> Result<UserChoice, ChoiceRefused> {
    let opens_at = opens_at(window);
    if now < opens_at {
        return Err(ChoiceRefused::NotYetAvailable { opens_at });
    }
    Ok(UserChoice {
        snoozed_until: None,
        migrate_now: true,
    })
}

/// Snooze for `length` at `now`: allowed while Migration Available is offered (Available From
/// passed, Enforced After not yet).
pub fn snooze(
    window: &Window,
    now: DateTime<Utc>,
    length: Snooze,
) -> Result<UserChoice, ChoiceRefused> {
    let offered = match window.available_from {
        Some(from) => now >= from && now < window.enforced_after,
        None => false,
    };
    if !offered {
        return Err(ChoiceRefused::NotOffered);
    }
    Ok(UserChoice {
        snoozed_until: Some(now + length.duration()),
        migrate_now: false,
    })
}

/// [`decide`] with the user's stored choice: Migrate Now starts at once when allowed, and a
/// snooze hides Migration Available until it ends (never past Enforced After).
pub fn decide_with_choice(
    window: &Window,
    now: DateTime<Utc>,
    user_logged_on: bool,
    countdown_started: Option<DateTime<Utc>>,
    choice: &UserChoice,
) -> Decision {
    if choice.migrate_now && now >= opens_at(window) {
        return Decision::Start;
    }
    match decide(window, now, user_logged_on, countdown_started) {
        Decision::Offer { enforced_at } => match choice.snoozed_until {
            Some(until) if now < until => Decision::Wait {
                until: until.min(enforced_at),
            },
            _ => Decision::Offer { enforced_at },
        },
        other => other,
    }
}

/// Why a runbook may not run on a device at all, whatever the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ineligible {
    /// It Completed here already: a runbook never runs twice on a device.
    Completed,
    /// This prerequisite has not Completed here yet.
    PrerequisitePending(RunbookId),
    /// The device runs a server edition of Windows and the runbook does not allow that.
    ServerOs,
}

/// Whether `runbook` may run on a device where `completed` runbooks Completed.
pub fn eligibility(
    runbook: &Runbook,
    completed: &[RunbookId],
    server_os: bool,
) -> Result<(), Ineligible> {
    if completed.contains(&runbook.id) {
        return Err(Ineligible::Completed);
    }
    if let Some(pending) = runbook
        .prerequisites
        .iter()
        .find(|p| !completed.contains(p))
    {
        return Err(Ineligible::PrerequisitePending(*pending));
    }
    if server_os && !runbook.allow_on_server_os {
        return Err(Ineligible::ServerOs);
    }
    Ok(())
}

#[cfg(test)]
mod boundary_tests;

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
