//! The simulated device's scheduled restart: recorded, so a test sees what the agent asked for
//! (after how many minutes, with which message) and that a cancel took it back, and carried out
//! when the device starts again ([`SimWorkstation::start_up`]).

use serde::{Deserialize, Serialize};

use super::SimWorkstation;
use crate::Result;

/// A restart the agent scheduled and nobody cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRestart {
    /// Minutes from the request to the restart.
    pub minutes: u32,
    /// What the signed-in user is told.
    pub message: String,
}

impl SimWorkstation {
    pub(super) fn sim_schedule_restart(&mut self, minutes: u32, message: &str) -> Result<bool> {
        self.require("schedule_restart")?;
        let wanted = SimRestart {
            minutes,
            message: message.to_string(),
        };
        // Windows refuses a second shutdown while one is pending: the first one stands.
        if self.state.scheduled_restart.is_some() {
            return Ok(false);
        }
        self.state.scheduled_restart = Some(wanted);
        self.save()?;
        Ok(true)
    }

    pub(super) fn sim_cancel_restart(&mut self) -> Result<bool> {
        self.require("cancel_restart")?;
        if self.state.scheduled_restart.take().is_none() {
            return Ok(false);
        }
        self.save()?;
        Ok(true)
    }

    /// The device starts (the agent's service with it): a restart it had scheduled has happened,
    /// so none is pending any more and the next run schedules its own. True when one had been
    /// scheduled.
    pub fn start_up(&mut self) -> Result<bool> {
        if self.state.scheduled_restart.take().is_none() {
            return Ok(false);
        }
        self.state.restarts += 1;
        self.save()?;
        Ok(true)
    }
}
