//! The restart a run ends with when it changed what Windows applies only at the next start: a
//! domain join or leave, an Entra join or leave, a rename. It is scheduled once the last step is
//! done, so the user signs in to the moved device after it and no step is cut off by it.

use model::plan::{Action, Step};

/// Minutes between the end of such a run and the restart: time to read the Migration Complete
/// dialog and save open work.
pub const RESTART_AFTER_MINUTES: u32 = 10;

/// Whether `action` changes something Windows applies only at the next start.
pub fn takes_effect_at_restart(action: &Action) -> bool {
    matches!(
        action,
        Action::LeaveActiveDirectory
            | Action::LeaveEntra
            | Action::JoinActiveDirectory { .. }
            | Action::JoinEntra { .. }
            | Action::RenameComputer { .. }
    )
}

/// Whether a run of `steps` ends with a restart.
pub fn needed(steps: &[Step]) -> bool {
    steps.iter().any(|s| takes_effect_at_restart(&s.action))
}

/// What the signed-in user is told when the restart is scheduled.
pub fn message(runbook: &str) -> String {
    format!(
        "{} has moved this device. It restarts in {} minutes to finish: save your work now.",
        runbook, RESTART_AFTER_MINUTES
    )
}
