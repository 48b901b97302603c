//! Restart scheduling, BitLocker's protectors, the Entra join and Intune enrolment on a real
//! Windows API. Wine has none of them: each is refused, or fails, naming the call it could not
//! make, and the Wine session is never shut down.

use agent::Workstation;

use super::under_wine;
use super::workstation::WindowsWorkstation;

/// The error's text, for a call that must fail under Wine.
fn refused<T: std::fmt::Debug>(result: agent::Result<T>) -> String {
    result.expect_err("refused under Wine").to_string()
}

#[test]
fn a_restart_is_refused_by_name_under_wine_and_the_session_goes_on() {
    if !under_wine() {
        // On a Windows runner a restart would end the job; its API is exercised by hand.
        return;
    }
    let mut ws = WindowsWorkstation::open();
    let scheduled = refused(ws.schedule_restart(10, "rehome test: no restart"));
    assert!(
        scheduled.contains("InitiateSystemShutdownExW") && scheduled.contains("Wine"),
        "{}",
        scheduled
    );
    let cancelled = refused(ws.cancel_restart());
    assert!(
        cancelled.contains("AbortSystemShutdownW") && cancelled.contains("Wine"),
        "{}",
        cancelled
    );
    // Still running, in the same session: the registry answers.
    assert!(ws.facts().is_ok());
}
