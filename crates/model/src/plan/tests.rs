use super::*;
use crate::ids::{DirectoryId, RunbookId};
use crate::runbook::*;

fn runbook(remove_from: RemoveFrom, domain_join: DomainJoin, mode: PermissionMode) -> Runbook {
    Runbook {
        id: RunbookId::new(),
        name: "AD to AD".into(),
        source_directories: vec![DirectoryId::new()],
        target_directory: DirectoryId::new(),
        allow_on_server_os: false,
        startup: StartupSettings::default(),
        device_state: DeviceStateSettings {
            remove_from,
            domain_join,
        },
        permissions: PermissionSettings { mode },
        completion: CompletionSettings::default(),
    }
}

fn joined(domain: &str) -> DeviceFacts {
    DeviceFacts {
        os_edition: OsEdition::Workstation,
        join_state: JoinState::ActiveDirectory {
            domain: domain.into(),
        },
    }
}

fn ids(steps: &[Step]) -> Vec<&str> {
    steps.iter().map(|s| s.id.as_str()).collect()
}

#[test]
fn ad_to_ad_runs_every_default_processing_step_and_reverts_it() {
    let rb = runbook(
        RemoveFrom::ActiveDirectory,
        DomainJoin::ActiveDirectory,
        PermissionMode::AddAndRemove,
    );
    let steps = plan(
        &rb,
        &joined("contoso.test"),
        &TargetFacts {
            domain: "fabrikam.test".into(),
        },
    )
    .unwrap();
    assert_eq!(
        ids(&steps),
        vec![
            "startup/suspend-bitlocker",
            "startup/backup-legal-notice",
            "startup/backup-local-groups",
            "startup/backup-appx",
            "device-state/leave-ad",
            "device-state/join-ad",
            "device-state/reset-windows-hello",
            "permissions/windows-profiles",
            "permissions/file-system",
            "permissions/local-groups",
            "completion/restore-legal-notice",
            "completion/restore-local-groups",
            "completion/restore-appx",
            "completion/resume-bitlocker",
        ]
    );
    assert!(steps.windows(2).all(|w| w[0].phase <= w[1].phase));
}

#[test]
fn without_a_join_only_the_legal_notice_is_backed_up() {
    let rb = runbook(
        RemoveFrom::None,
        DomainJoin::None,
        PermissionMode::DontUpdate,
    );
    let steps = plan(
        &rb,
        &joined("contoso.test"),
        &TargetFacts {
            domain: "x.test".into(),
        },
    )
    .unwrap();
    assert_eq!(
        ids(&steps),
        vec![
            "startup/backup-legal-notice",
            "completion/restore-legal-notice"
        ]
    );
}

#[test]
fn startup_off_skips_default_processing_and_its_reverts() {
    let mut rb = runbook(
        RemoveFrom::ActiveDirectory,
        DomainJoin::Entra,
        PermissionMode::AddOnly,
    );
    rb.startup.do_not_run = true;
    let steps = plan(
        &rb,
        &joined("contoso.test"),
        &TargetFacts {
            domain: "t.test".into(),
        },
    )
    .unwrap();
    assert!(steps
        .iter()
        .all(|s| s.phase != Phase::Startup && s.phase != Phase::Completion));
    assert!(steps.iter().any(|s| s.action
        == Action::JoinEntra {
            tenant: "t.test".into()
        }));
}

#[test]
fn leaving_a_domain_the_device_is_not_in_is_skipped() {
    let rb = runbook(RemoveFrom::All, DomainJoin::Entra, PermissionMode::AddOnly);
    let device = DeviceFacts {
        os_edition: OsEdition::Workstation,
        join_state: JoinState::Workgroup,
    };
    let steps = plan(
        &rb,
        &device,
        &TargetFacts {
            domain: "t.test".into(),
        },
    )
    .unwrap();
    assert!(!ids(&steps)
        .iter()
        .any(|id| id.starts_with("device-state/leave")));
}

#[test]
fn server_os_is_refused_unless_allowed() {
    let mut rb = runbook(
        RemoveFrom::ActiveDirectory,
        DomainJoin::ActiveDirectory,
        PermissionMode::AddOnly,
    );
    let server = DeviceFacts {
        os_edition: OsEdition::Server,
        join_state: JoinState::Workgroup,
    };
    let target = TargetFacts {
        domain: "t.test".into(),
    };
    assert_eq!(plan(&rb, &server, &target), Err(Refusal::ServerOs));
    rb.allow_on_server_os = true;
    assert!(plan(&rb, &server, &target).is_ok());
}
