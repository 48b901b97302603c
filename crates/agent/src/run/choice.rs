//! What the logged-on user asks of the agent from the tray: snooze Migration Available, or
//! Migrate Now. The choice is kept in the agent's state file, so a restart keeps it, and
//! [`model::schedule::decide_with_choice`] decides with it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use model::protocol::DeviceAssignment;
use model::schedule::{self, Decision, Snooze};

use super::{Agent, SavedChoice};
use crate::client::Transport;
use crate::workstation::Workstation;
use crate::{Error, Result};

impl<W: Workstation, T: Transport> Agent<W, T> {
    fn current(&self) -> Result<Arc<DeviceAssignment>> {
        self.assignment.clone().ok_or_else(|| {
            Error::NotAllowed(
                "no migration is assigned to this computer yet; use Check Runbooks to ask the server"
                    .to_string(),
            )
        })
    }

    /// What the current assignment means now, with the user's choice; `None` without one.
    pub fn current_decision(&self) -> Result<Option<Decision>> {
        match &self.assignment {
            Some(a) => self.decide(a, self.clock.now()).map(Some),
            None => Ok(None),
        }
    }

    /// Snoozes Migration Available for `length`; returns when it shows again. Kept across
    /// restarts. Refused unless the migration is offered right now.
    pub fn snooze(&mut self, length: Snooze) -> Result<DateTime<Utc>> {
        let assignment = self.current()?;
        let window = self.window(&assignment)?;
        let choice = schedule::snooze(&window, self.clock.now(), length)
            .map_err(|e| Error::NotAllowed(e.to_string()))?;
        self.choice = Some(SavedChoice {
            runbook: assignment.runbook.id,
            choice,
        });
        self.save_schedule()?;
        Ok(choice
            .snoozed_until
            .unwrap_or_else(|| self.clock.now())
            .min(window.enforced_after))
    }

    /// Migrate Now (or Yes on the countdown): the runbook starts at the next decision. Refused
    /// until Available From or Enforced After has passed; kept across restarts once accepted.
    pub fn migrate_now(&mut self) -> Result<()> {
        let assignment = self.current()?;
        let window = self.window(&assignment)?;
        let choice = schedule::migrate_now(&window, self.clock.now())
            .map_err(|e| Error::NotAllowed(e.to_string()))?;
        self.choice = Some(SavedChoice {
            runbook: assignment.runbook.id,
            choice,
        });
        self.save_schedule()
    }
}
