//! Which dialog the tray shows, and when, from the agent's view and what the user already
//! answered: Migration Available until Start or a snooze; the 60-minute countdown, hidden by
//! Later until the next reminder (45, 30, 15, 10, 5, 2 and 1 minutes left); Migration In Progress
//! while the runbook runs; Migration Complete once per runbook; Service Unavailable once per
//! outage. A Silent runbook shows nothing. Time is a parameter, so every instant is tested.

use agent::run::requests::{AgentView, Prompt};
use chrono::{DateTime, Duration, Utc};
use model::ids::RunbookId;
use model::rules::Dialog;
use model::runbook::UserExperienceSettings;
use model::schedule::COUNTDOWN_REMINDERS;
use model::status::AgentStatus;

/// What the tray remembers of the user's answers in this session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// Later on the countdown: hidden until this instant.
    pub countdown_hidden_until: Option<DateTime<Utc>>,
    /// The runbook whose Migration Complete was shown.
    pub complete_shown: Option<RunbookId>,
    /// Service Unavailable was shown in this outage.
    pub unavailable_shown: bool,
}

/// A dialog due now, with what its placeholders need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Which dialog.
    pub dialog: Dialog,
    /// The runbook's User Experience tab (the default texts when none is known).
    pub user_experience: UserExperienceSettings,
    /// Enforced After, for `{StartDate}`.
    pub enforced_at: Option<DateTime<Utc>>,
    /// Minutes left on the countdown, for `{0}`.
    pub minutes_left: Option<i64>,
}

/// Whole minutes left until `starts_at`, rounded up: "starts in 1 minute" until it starts.
pub fn minutes_left(starts_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let seconds = (starts_at - now).num_seconds().max(0);
    (seconds + 59) / 60
}

/// When the countdown shows again after Later at `now`: the next reminder, else the start.
pub fn next_reminder(starts_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    COUNTDOWN_REMINDERS
        .iter()
        .map(|left| starts_at - Duration::minutes(*left))
        .find(|at| *at > now)
        .unwrap_or(starts_at)
}

/// The dialog due at `now`, if any. Also forgets an outage once the server answers again.
pub fn due(view: &AgentView, memory: &mut Memory, now: DateTime<Utc>) -> Option<Due> {
    if view.reachable {
        memory.unavailable_shown = false;
    }
    let show = |dialog, ux: &UserExperienceSettings| Due {
        dialog,
        user_experience: ux.clone(),
        enforced_at: None,
        minutes_left: None,
    };
    if let Some(assigned) = view.assigned.as_ref().filter(|a| !a.silent) {
        let ux = &assigned.user_experience;
        match assigned.prompt {
            Prompt::Running => return Some(show(Dialog::MigrationInProgress, ux)),
            Prompt::Countdown { starts_at } => {
                if memory.countdown_hidden_until.map_or(true, |t| now >= t) {
                    return Some(Due {
                        minutes_left: Some(minutes_left(starts_at, now)),
                        ..show(Dialog::MigrationStarting, ux)
                    });
                }
            }
            Prompt::Available { enforced_at } => {
                return Some(Due {
                    enforced_at: Some(enforced_at),
                    ..show(Dialog::MigrationAvailable, ux)
                })
            }
            Prompt::Nothing => {}
        }
    }
    if let Some(finished) = &view.finished {
        if finished.status == AgentStatus::Completed
            && !finished.silent
            && memory.complete_shown != Some(finished.runbook)
        {
            return Some(show(Dialog::MigrationComplete, &finished.user_experience));
        }
    }
    if !view.reachable && !memory.unavailable_shown {
        let ux = view
            .assigned
            .as_ref()
            .map(|a| a.user_experience.clone())
            .unwrap_or_default();
        return Some(show(Dialog::ServiceUnavailable, &ux));
    }
    None
}

/// Records that the user dismissed `dialog` at `now` (OK, or Later on the countdown).
pub fn dismissed(memory: &mut Memory, view: &AgentView, dialog: Dialog, now: DateTime<Utc>) {
    match dialog {
        Dialog::MigrationStarting => {
            if let Some(Prompt::Countdown { starts_at }) = view.assigned.as_ref().map(|a| a.prompt)
            {
                memory.countdown_hidden_until = Some(next_reminder(starts_at, now));
            }
        }
        Dialog::MigrationComplete => {
            memory.complete_shown = view.finished.as_ref().map(|f| f.runbook);
        }
        Dialog::ServiceUnavailable => memory.unavailable_shown = true,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use agent::run::requests::{AssignedView, FinishedView};
    use chrono::TimeZone;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    fn view(prompt: Prompt, silent: bool) -> AgentView {
        AgentView {
            registered: true,
            assigned: Some(AssignedView {
                runbook: RunbookId::new(),
                name: "Move".into(),
                silent,
                user_experience: UserExperienceSettings::default(),
                prompt,
            }),
            ..AgentView::default()
        }
    }

    #[test]
    fn the_countdown_counts_whole_minutes_up_and_hides_until_each_reminder() {
        let starts_at = t0() + Duration::minutes(60);
        let v = view(Prompt::Countdown { starts_at }, false);
        let mut memory = Memory::default();
        let shown = due(&v, &mut memory, t0()).expect("shown at once");
        assert_eq!(shown.dialog, Dialog::MigrationStarting);
        assert_eq!(shown.minutes_left, Some(60));
        assert_eq!(
            due(&v, &mut memory, t0() + Duration::seconds(61)).and_then(|d| d.minutes_left),
            Some(59)
        );
        // Later at 0:01: back at 45 minutes left, not a second sooner.
        dismissed(
            &mut memory,
            &v,
            Dialog::MigrationStarting,
            t0() + Duration::minutes(1),
        );
        let at_45 = starts_at - Duration::minutes(45);
        assert_eq!(due(&v, &mut memory, at_45 - Duration::seconds(1)), None);
        assert_eq!(
            due(&v, &mut memory, at_45).and_then(|d| d.minutes_left),
            Some(45)
        );
        // Every reminder in turn, then the start itself.
        let mut seen = Vec::new();
        let mut now = at_45;
        loop {
            dismissed(&mut memory, &v, Dialog::MigrationStarting, now);
            now = memory.countdown_hidden_until.expect("hidden");
            if now >= starts_at {
                break;
            }
            seen.push(minutes_left(starts_at, now));
        }
        assert_eq!(seen, vec![30, 15, 10, 5, 2, 1]);
        assert_eq!(now, starts_at);
    }

    #[test]
    fn a_silent_runbook_shows_nothing_at_all() {
        let mut memory = Memory::default();
        for prompt in [
            Prompt::Available {
                enforced_at: t0() + Duration::days(1),
            },
            Prompt::Countdown {
                starts_at: t0() + Duration::minutes(60),
            },
            Prompt::Running,
        ] {
            assert_eq!(due(&view(prompt, true), &mut memory, t0()), None);
        }
        let mut v = view(Prompt::Nothing, true);
        v.finished = Some(FinishedView {
            runbook: RunbookId::new(),
            status: AgentStatus::Completed,
            silent: true,
            user_experience: UserExperienceSettings::default(),
        });
        v.assigned = None;
        assert_eq!(due(&v, &mut memory, t0()), None);
    }

    #[test]
    fn complete_shows_once_and_service_unavailable_once_per_outage() {
        let mut memory = Memory::default();
        let mut v = view(Prompt::Nothing, false);
        v.assigned = None;
        v.finished = Some(FinishedView {
            runbook: RunbookId::new(),
            status: AgentStatus::Completed,
            silent: false,
            user_experience: UserExperienceSettings::default(),
        });
        assert_eq!(
            due(&v, &mut memory, t0()).map(|d| d.dialog),
            Some(Dialog::MigrationComplete)
        );
        dismissed(&mut memory, &v, Dialog::MigrationComplete, t0());
        assert_eq!(due(&v, &mut memory, t0()), None);

        v.reachable = false;
        assert_eq!(
            due(&v, &mut memory, t0()).map(|d| d.dialog),
            Some(Dialog::ServiceUnavailable)
        );
        dismissed(&mut memory, &v, Dialog::ServiceUnavailable, t0());
        assert_eq!(due(&v, &mut memory, t0()), None);
        v.reachable = true;
        assert_eq!(due(&v, &mut memory, t0()), None);
        v.reachable = false;
        assert_eq!(
            due(&v, &mut memory, t0()).map(|d| d.dialog),
            Some(Dialog::ServiceUnavailable)
        );
    }

    #[test]
    fn available_carries_the_enforced_start_and_running_shows_progress() {
        let mut memory = Memory::default();
        let enforced_at = t0() + Duration::days(3);
        let shown = due(
            &view(Prompt::Available { enforced_at }, false),
            &mut memory,
            t0(),
        )
        .expect("shown");
        assert_eq!(shown.dialog, Dialog::MigrationAvailable);
        assert_eq!(shown.enforced_at, Some(enforced_at));
        assert_eq!(
            due(&view(Prompt::Running, false), &mut memory, t0()).map(|d| d.dialog),
            Some(Dialog::MigrationInProgress)
        );
    }
}
