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

#[test]
fn bitlocker_is_read_suspended_and_resumed_through_wmi_or_fails_naming_the_namespace() {
    let mut ws = WindowsWorkstation::open();
    if under_wine() {
        for message in [
            refused(ws.bitlocker_status()),
            refused(ws.set_bitlocker_protectors(false)),
            refused(ws.suspend_bitlocker()),
        ] {
            assert!(
                message.contains("BitLocker")
                    && message.contains(super::readiness::BITLOCKER_NAMESPACE),
                "{}",
                message
            );
        }
        return;
    }
    // A Windows runner's volume is not encrypted: nothing to suspend, and nothing changes.
    let status = ws.bitlocker_status().unwrap();
    if !status.encrypted {
        assert!(!ws.set_bitlocker_protectors(false).unwrap());
        assert_eq!(ws.suspend_bitlocker().unwrap().changes, 0);
    }
}

#[test]
fn intune_enrolment_fails_naming_the_enroller_where_windows_has_none() {
    let mut ws = WindowsWorkstation::open();
    let exe = super::system::expand("%SystemRoot%\\System32\\deviceenroller.exe").unwrap();
    if std::path::Path::new(&exe).exists() {
        // A runner that is not Entra-joined is refused by the enrolment service; either way the
        // call returns rather than claiming an enrolment the registry does not show.
        let enrolled = ws.enroll_mdm();
        if let Ok(true) = enrolled {
            assert!(super::mdm::enrolled().unwrap());
        }
        return;
    }
    let message = refused(ws.enroll_mdm());
    assert!(message.contains("deviceenroller.exe"), "{}", message);
}

#[test]
fn a_domain_controller_look_up_and_an_entra_join_fail_naming_what_wine_lacks() {
    let mut ws = WindowsWorkstation::open();
    if !under_wine() {
        return;
    }
    let lookup = refused(ws.directory_reachable("fabrikam.test"));
    assert!(lookup.contains("DsGetDcNameW"), "{}", lookup);
    let token = model::protocol::BulkToken("eyJ0eXAiOiJKV1Qi.bulk.token".into());
    let join = refused(ws.join_entra_with_token("contoso.onmicrosoft.com", &token));
    assert!(join.contains("provisioning package"), "{}", join);
    assert!(!join.contains("bulk.token"), "{}", join);
}
