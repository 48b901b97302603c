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
        prerequisites: Vec::new(),
        startup: StartupSettings::default(),
        user_experience: UserExperienceSettings::default(),
        device_state: DeviceStateSettings {
            remove_from,
            domain_join,
            ..Default::default()
        },
        permissions: PermissionSettings {
            mode,
            ..Default::default()
        },
        apps: AppSettings::default(),
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

fn target() -> TargetFacts {
    TargetFacts {
        domain: "fabrikam.test".into(),
    }
}

/// The step ids of default processing and its reverts.
const DEFAULT_PROCESSING: [&str; 9] = [
    "startup/suspend-bitlocker",
    "startup/backup-legal-notice",
    "startup/backup-local-groups",
    "startup/backup-appx",
    "device-state/reset-windows-hello",
    "completion/restore-legal-notice",
    "completion/restore-local-groups",
    "completion/restore-appx",
    "completion/resume-bitlocker",
];

#[test]
fn default_processing_at_every_combination_of_leave_join_startup_and_completion() {
    // Short names: S suspend BitLocker, L legal notice backup, G local groups backup, A AppX
    // backup, H Windows Hello reset; r… their reverts.
    let rows: &[(RemoveFrom, DomainJoin, bool, bool, &str)] = &[
        (RemoveFrom::None, DomainJoin::None, true, true, "L rL"),
        (RemoveFrom::None, DomainJoin::None, true, false, "L"),
        (RemoveFrom::None, DomainJoin::None, false, true, ""),
        (RemoveFrom::None, DomainJoin::None, false, false, ""),
        (
            RemoveFrom::ActiveDirectory,
            DomainJoin::None,
            true,
            true,
            "L rL",
        ),
        (
            RemoveFrom::ActiveDirectory,
            DomainJoin::None,
            true,
            false,
            "L",
        ),
        (
            RemoveFrom::ActiveDirectory,
            DomainJoin::None,
            false,
            true,
            "",
        ),
        (
            RemoveFrom::ActiveDirectory,
            DomainJoin::None,
            false,
            false,
            "",
        ),
        (
            RemoveFrom::None,
            DomainJoin::ActiveDirectory,
            true,
            true,
            "S L A H rL rA rB",
        ),
        (
            RemoveFrom::None,
            DomainJoin::ActiveDirectory,
            true,
            false,
            "S L A H",
        ),
        (
            RemoveFrom::None,
            DomainJoin::ActiveDirectory,
            false,
            true,
            "A H rA",
        ),
        (
            RemoveFrom::None,
            DomainJoin::ActiveDirectory,
            false,
            false,
            "A H",
        ),
        (
            RemoveFrom::ActiveDirectory,
            DomainJoin::ActiveDirectory,
            true,
            true,
            "S L G A H rL rG rA rB",
        ),
        (
            RemoveFrom::ActiveDirectory,
            DomainJoin::ActiveDirectory,
            true,
            false,
            "S L G A H",
        ),
        (
            RemoveFrom::ActiveDirectory,
            DomainJoin::ActiveDirectory,
            false,
            true,
            "G A H rG rA",
        ),
        (
            RemoveFrom::ActiveDirectory,
            DomainJoin::ActiveDirectory,
            false,
            false,
            "G A H",
        ),
        (
            RemoveFrom::All,
            DomainJoin::Entra,
            true,
            true,
            "S L G A H rL rG rA rB",
        ),
        (
            RemoveFrom::Entra,
            DomainJoin::Entra,
            false,
            true,
            "G A H rG rA",
        ),
        (RemoveFrom::None, DomainJoin::Entra, true, false, "S L A H"),
    ];
    let id = |short: &str| match short {
        "S" => "startup/suspend-bitlocker",
        "L" => "startup/backup-legal-notice",
        "G" => "startup/backup-local-groups",
        "A" => "startup/backup-appx",
        "H" => "device-state/reset-windows-hello",
        "rL" => "completion/restore-legal-notice",
        "rG" => "completion/restore-local-groups",
        "rA" => "completion/restore-appx",
        "rB" => "completion/resume-bitlocker",
        other => panic!("unknown short name {}", other),
    };
    for (remove_from, join, startup, completion, expected) in rows {
        let mut rb = runbook(*remove_from, *join, PermissionMode::DontUpdate);
        rb.startup.do_not_run = !startup;
        rb.completion.do_not_run = !completion;
        let steps = plan(&rb, &joined("contoso.test"), &target()).unwrap();
        let got: Vec<&str> = ids(&steps)
            .into_iter()
            .filter(|s| DEFAULT_PROCESSING.contains(s))
            .collect();
        let want: Vec<&str> = expected.split_whitespace().map(id).collect();
        assert_eq!(
            got, want,
            "remove {:?}, join {:?}, startup {}, completion {}",
            remove_from, join, startup, completion
        );
        assert!(steps.windows(2).all(|w| w[0].phase <= w[1].phase));
    }
}

fn package(name: &str) -> CommandPackageRef {
    CommandPackageRef {
        name: name.into(),
        sha256: "ab".repeat(32),
    }
}

/// A runbook with every tab's settings on.
fn everything() -> Runbook {
    let mut rb = runbook(
        RemoveFrom::All,
        DomainJoin::ActiveDirectory,
        PermissionMode::AddAndRemove,
    );
    rb.startup = StartupSettings {
        do_not_run: false,
        interaction: UserInteraction::ShowProgress,
        lock_screen_image: LockScreenImage::Builtin,
        set_legal_notice: true,
        prevent_login: true,
        admin_fallback: Some(AdminFallback {
            username: "rescue".into(),
            password: Secret::new("Correct-Horse-42-Battery"),
            delay_deletion_days: 7,
        }),
        command_package: Some(package("before.zip")),
        readiness_max_age_hours: Some(24),
    };
    rb.device_state.cache_user_credentials = true;
    rb.device_state.active_directory = ActiveDirectoryJoin {
        offline_domain_join: true,
        reuse_existing_computer_account: true,
        computer_ou: "OU=Desks,DC=fabrikam,DC=test".into(),
        username: String::new(),
        password: Secret::default(),
    };
    rb.device_state.rename = Some(Rename {
        template: "FAB-%RAND:4%".into(),
    });
    rb.permissions.areas = Area::ALL.to_vec();
    rb.permissions.remote_file_shares = Some(RemoteFileShares {
        username: "FABRIKAM\\nas-admin".into(),
        password: Secret::new("x"),
        paths: "\\\\nas\\sales\n\n\\\\nas\\hr$".into(),
    });
    rb.apps = AppSettings {
        mode: AppMode::Reconfigure,
        outlook: true,
        outlook_zero_config_exchange: Switch::Set,
        other_m365_apps: true,
        edge: true,
        onedrive: OneDrive {
            cloud_only: true,
            silent_account_config: Switch::Clear,
            source_tenants: "9bc4a702-2977-4d17-8f19-64d596b61cbe".into(),
            target_folder_name: "OneDrive - Fabrikam".into(),
        },
        information_protection: Some(InformationProtection {
            source_hosts: "a.rms.eu.aadrm.com".into(),
            target_host: "b.rms.eu.aadrm.com".into(),
        }),
    };
    rb.completion = CompletionSettings {
        do_not_run: false,
        proxy_autodetect: Switch::Set,
        command_package: Some(package("after.zip")),
        uninstall_agent: true,
    };
    rb
}

#[test]
fn every_setting_becomes_a_step_in_order() {
    let steps = plan(&everything(), &joined("contoso.test"), &target()).unwrap();
    assert_eq!(
        ids(&steps),
        vec![
            "startup/suspend-bitlocker",
            "startup/backup-legal-notice",
            "startup/backup-local-groups",
            "startup/backup-appx",
            "startup/set-legal-notice",
            "startup/set-lock-screen",
            "startup/prevent-login",
            "startup/create-fallback-admin",
            "startup/command-package",
            "device-state/cache-credentials",
            "device-state/leave-ad",
            "device-state/rename",
            "device-state/join-ad",
            "device-state/reset-windows-hello",
            "permissions/windows-profiles",
            "permissions/file-system",
            "permissions/registry",
            "permissions/local-groups",
            "permissions/file-shares",
            "permissions/printers",
            "permissions/services",
            "permissions/user-rights",
            "permissions/sql",
            "permissions/iis",
            "permissions/dcom",
            "permissions/wmi-namespaces",
            "permissions/scheduled-tasks",
            "permissions/remote-file-shares",
            "apps/outlook",
            "apps/m365-apps",
            "apps/edge",
            "apps/onedrive-cloud-only",
            "apps/onedrive-silent-config",
            "apps/information-protection",
            "completion/restore-legal-notice",
            "completion/restore-local-groups",
            "completion/restore-appx",
            "completion/resume-bitlocker",
            "completion/restore-lock-screen",
            "completion/allow-login",
            "completion/remove-fallback-admin",
            "completion/proxy-autodetect",
            "completion/command-package",
            "completion/uninstall-agent",
        ]
    );
    let ids: Vec<&str> = ids(&steps);
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "step ids are unique");
    let action = |id: &str| &steps.iter().find(|s| s.id == id).unwrap().action;
    assert_eq!(
        action("device-state/join-ad"),
        &Action::JoinActiveDirectory {
            domain: "fabrikam.test".into(),
            options: AdJoinOptions {
                offline: true,
                reuse_existing_account: true,
                computer_ou: "OU=Desks,DC=fabrikam,DC=test".into(),
                username: String::new(),
            },
        }
    );
    assert_eq!(
        action("permissions/registry"),
        &Action::UpdateAreaPermissions {
            area: Area::Registry,
            mode: PermissionMode::AddAndRemove,
            ignore: DEFAULT_IGNORE.iter().map(|s| s.to_string()).collect(),
        }
    );
    match action("permissions/remote-file-shares") {
        Action::UpdateRemoteFileShares { paths, .. } => {
            assert_eq!(
                paths,
                &vec!["\\\\nas\\sales".to_string(), "\\\\nas\\hr$".to_string()]
            )
        }
        other => panic!("{:?}", other),
    }
    assert_eq!(
        action("completion/remove-fallback-admin"),
        &Action::RemoveFallbackAdmin {
            username: "rescue".into(),
            delay_days: 7
        }
    );
}

#[test]
fn startup_off_drops_the_startup_tab_and_its_reverts_but_not_the_completion_tab() {
    let mut rb = everything();
    rb.startup.do_not_run = true;
    let steps = plan(&rb, &joined("contoso.test"), &target()).unwrap();
    let ids = ids(&steps);
    for gone in [
        "startup/set-legal-notice",
        "startup/create-fallback-admin",
        "startup/command-package",
        "completion/restore-lock-screen",
        "completion/allow-login",
        "completion/remove-fallback-admin",
        "completion/resume-bitlocker",
    ] {
        assert!(!ids.contains(&gone), "{} should not run", gone);
    }
    assert!(ids.contains(&"completion/command-package"));
    assert_eq!(ids.last(), Some(&"completion/uninstall-agent"));
}

#[test]
fn completion_off_drops_every_completion_step() {
    let mut rb = everything();
    rb.completion.do_not_run = true;
    let steps = plan(&rb, &joined("contoso.test"), &target()).unwrap();
    assert!(steps.iter().all(|s| s.phase != Phase::Completion));
    assert!(ids(&steps).contains(&"startup/create-fallback-admin"));
}

#[test]
fn apps_and_areas_run_only_when_chosen() {
    let mut rb = everything();
    rb.apps.mode = AppMode::DontReconfigure;
    rb.permissions.areas = vec![Area::Registry, Area::WindowsProfiles];
    rb.permissions.remote_file_shares = None;
    let steps = plan(&rb, &joined("contoso.test"), &target()).unwrap();
    let ids = ids(&steps);
    assert!(ids.iter().all(|id| !id.starts_with("apps/")));
    let areas: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| id.starts_with("permissions/"))
        .collect();
    assert_eq!(
        areas,
        vec!["permissions/windows-profiles", "permissions/registry"]
    );
}

#[test]
fn intune_and_hybrid_join_steps() {
    let mut rb = runbook(RemoveFrom::All, DomainJoin::Entra, PermissionMode::AddOnly);
    rb.device_state.enroll_intune = true;
    let steps = plan(&rb, &joined("contoso.test"), &target()).unwrap();
    let ids_entra = ids(&steps);
    let join = ids_entra
        .iter()
        .position(|s| *s == "device-state/join-entra");
    let intune = ids_entra
        .iter()
        .position(|s| *s == "device-state/enroll-intune");
    assert!(join.is_some() && intune > join);

    let mut rb = runbook(
        RemoveFrom::Entra,
        DomainJoin::None,
        PermissionMode::DontUpdate,
    );
    rb.device_state.hybrid_join = Some(HybridJoin {
        tenant_name: "fabrikam.onmicrosoft.com".into(),
        tenant_id: "D404CF81-40BE-4C2B-AF2A-0353ECF58683".into(),
    });
    let device = DeviceFacts {
        os_edition: OsEdition::Workstation,
        join_state: JoinState::Entra {
            tenant: "contoso".into(),
        },
    };
    let steps = plan(&rb, &device, &target()).unwrap();
    assert_eq!(
        ids(&steps),
        vec![
            "startup/backup-legal-notice",
            "device-state/leave-entra",
            "device-state/hybrid-join-tenant",
            "completion/restore-legal-notice",
        ]
    );
    assert_eq!(
        steps[2].action,
        Action::SetHybridJoinTenant {
            tenant_name: "fabrikam.onmicrosoft.com".into(),
            tenant_id: "d404cf81-40be-4c2b-af2a-0353ecf58683".into(),
        }
    );
}

#[test]
fn the_legal_notice_step_carries_the_default_cultures_notice_as_plain_text() {
    let mut runbook = runbook(
        RemoveFrom::ActiveDirectory,
        DomainJoin::ActiveDirectory,
        PermissionMode::AddAndRemove,
    );
    runbook.startup.set_legal_notice = true;
    let culture = runbook
        .user_experience
        .cultures
        .first_mut()
        .expect("default culture");
    culture.legal_notice = SafeHtml::new("<p>Please <b>wait</b> &amp; see</p>");
    let target = TargetFacts {
        domain: "new.contoso.test".into(),
    };
    let steps = plan(&runbook, &joined("old.contoso.test"), &target).expect("plan");
    let step = steps
        .iter()
        .find(|s| s.id == "startup/set-legal-notice")
        .expect("step");
    match &step.action {
        Action::SetLegalNotice { text, .. } => assert_eq!(text, "Please wait & see"),
        other => panic!("{:?}", other),
    }
    // A journal written before the notice travelled in the step still reads.
    let old: Action = serde_json::from_str(r#"{"action":"SetLegalNotice"}"#).expect("old");
    assert_eq!(old.name(), "SetLegalNotice");
}

#[test]
fn autopilot_is_reset_after_leaving_and_before_the_join_only_when_the_runbook_asks() {
    let mut rb = runbook(
        RemoveFrom::Entra,
        DomainJoin::Entra,
        PermissionMode::DontUpdate,
    );
    let device = DeviceFacts {
        os_edition: OsEdition::Workstation,
        join_state: JoinState::Entra {
            tenant: "contoso".into(),
        },
    };
    let without = plan(&rb, &device, &target()).unwrap();
    assert!(!without.iter().any(|s| s.action == Action::ResetAutopilot));
    rb.device_state.reset_autopilot = true;
    let steps = plan(&rb, &device, &target()).unwrap();
    let position = |id: &str| ids(&steps).iter().position(|s| *s == id);
    let reset = position("device-state/reset-autopilot");
    assert!(reset.is_some());
    assert!(position("device-state/leave-entra") < reset);
    assert!(reset < position("device-state/join-entra"));
    assert_eq!(steps.len(), without.len() + 1);
}
