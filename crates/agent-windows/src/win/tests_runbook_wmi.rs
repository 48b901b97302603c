//! A runbook re-permissioning WMI namespaces on the real workstation. Wine's WMI has no
//! `__NAMESPACE` or `__SystemSecurity`: the step fails naming what it lacks and the run ends in
//! Error, never Completed. On Windows the namespaces are walked and the run completes.

use model::status::EventLevel;

use super::*;

#[test]
fn a_wmi_namespaces_step_fails_by_name_under_wine_and_the_run_ends_in_error() {
    let device = joined_device();
    let (mut runbook, secrets) = runbook(false);
    runbook.startup.do_not_run = true;
    runbook.completion.do_not_run = true;
    runbook.device_state = DeviceStateSettings::default();
    runbook.permissions.areas = vec![Area::WmiNamespaces];
    let id = runbook.id;
    let (exit, server) = run(&device, runbook, secrets);
    let state = server.state();
    let step = |level: EventLevel| {
        state
            .events
            .values()
            .find(|e| e.step.as_deref() == Some("permissions/wmi-namespaces") && e.level == level)
            .map(|e| e.message.clone())
    };
    if !super::super::under_wine() {
        assert_eq!(
            exit,
            Exit::Idle {
                runbook: id,
                status: AgentStatus::Completed
            }
        );
        assert!(step(EventLevel::Error).is_none());
        return;
    }
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let error = step(EventLevel::Error).unwrap_or_default();
    assert!(
        error.contains("__NAMESPACE") && error.contains("root"),
        "{:#?}",
        state
            .events
            .values()
            .map(|e| &e.message)
            .collect::<Vec<_>>()
    );
    // Nothing of the area was written: the double saw no call.
    assert!(
        device.device().calls.is_empty(),
        "{:#?}",
        device.device().calls
    );
}
