//! Sends the readiness checks: when the server asks in a check-in answer (the device is new to
//! its batch, or someone asked from the console) and right before the final check-in, so the
//! server decides the start on checks taken moments before it.

use model::protocol::{AgentEvent, DeviceAssignment};
use model::readiness::ReadinessReport;
use model::status::EventLevel;

use super::Agent;
use crate::client::Transport;
use crate::workstation::Workstation;
use crate::{readiness, Error, Result};

impl<W: Workstation, T: Transport> Agent<W, T> {
    /// Takes every readiness check of `assignment` and sends them. A server out of reach is not
    /// an error here: the next check-in asks again, and the final check-in sends them anyway.
    pub(super) fn send_readiness(&mut self, assignment: &DeviceAssignment) -> Result<()> {
        let checks = readiness::take(&self.workstation, assignment, self.clock.now());
        let report = ReadinessReport {
            batch: assignment.batch,
            runbook: assignment.runbook.id,
            checks,
        };
        match self.client.upload_readiness(&report) {
            Ok(_) | Err(Error::Unreachable(_)) => Ok(()),
            // A server that refuses them (an older one, or a report it finds wrong) does not stop
            // the agent: the device's log says so, and the run is decided by the server anyway.
            Err(e) => {
                self.record(AgentEvent {
                    seq: 0,
                    at: self.clock.now(),
                    level: EventLevel::Warning,
                    runbook: Some(assignment.runbook.id),
                    phase: None,
                    step: None,
                    status: None,
                    message: format!("The server did not take the readiness checks: {}", e),
                })?;
                Ok(())
            }
        }
    }
}
