use super::*;
use crate::rules::Dialog;

fn valid() -> Runbook {
    Runbook {
        id: RunbookId::new(),
        name: "CONTOSO to FABRIKAM".into(),
        source_directories: vec![DirectoryId::new()],
        target_directory: DirectoryId::new(),
        allow_on_server_os: false,
        prerequisites: Vec::new(),
        startup: StartupSettings::default(),
        user_experience: UserExperienceSettings::default(),
        device_state: DeviceStateSettings {
            remove_from: RemoveFrom::ActiveDirectory,
            domain_join: DomainJoin::ActiveDirectory,
            active_directory: ActiveDirectoryJoin {
                username: "FABRIKAM\\joiner".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        permissions: PermissionSettings::default(),
        apps: AppSettings::default(),
        completion: CompletionSettings::default(),
    }
}

fn fields(result: Result<()>) -> Vec<String> {
    match result {
        Ok(()) => Vec::new(),
        Err(Error::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        Err(other) => panic!("unexpected {}", other),
    }
}

fn package(name: &str, sha256: &str) -> Option<CommandPackageRef> {
    Some(CommandPackageRef {
        name: name.into(),
        sha256: sha256.into(),
    })
}

fn fallback(username: &str, password: &str, days: i64) -> Option<AdminFallback> {
    Some(AdminFallback {
        username: username.into(),
        password: Secret::new(password),
        delay_deletion_days: days,
    })
}

type Rule = (&'static str, fn(&mut Runbook), &'static str);

/// One row per rule: what breaks it, and the field the error must name.
const RULES: &[Rule] = &[
    ("blank name", |r| r.name = "  ".into(), "name"),
    ("long name", |r| r.name = "x".repeat(101), "name"),
    (
        "no source",
        |r| r.source_directories.clear(),
        "source_directories",
    ),
    (
        "source twice",
        |r| r.source_directories.push(r.source_directories[0]),
        "source_directories[1]",
    ),
    (
        "join what it leaves",
        |r| r.target_directory = r.source_directories[0],
        "source_directories",
    ),
    (
        "target among the sources, joining nothing",
        |r| {
            r.device_state.domain_join = DomainJoin::None;
            r.source_directories.push(r.target_directory);
        },
        "source_directories",
    ),
    ("NUL in the name", |r| r.name = "RB\0x".into(), "name"),
    (
        "right-to-left override in the name",
        |r| r.name = "RTL\u{202E}XYZ".into(),
        "name",
    ),
    (
        "NUL in a legal notice",
        |r| r.user_experience.cultures[0].legal_notice = SafeHtml::new("Moving.\0Hidden"),
        "user_experience.cultures[0].legal_notice",
    ),
    (
        "self prerequisite",
        |r| r.prerequisites = vec![r.id],
        "prerequisites[0]",
    ),
    (
        "prerequisite twice",
        |r| {
            let other = RunbookId::new();
            r.prerequisites = vec![other, other];
        },
        "prerequisites[1]",
    ),
    (
        "lock-screen image type",
        |r| {
            r.startup.lock_screen_image = LockScreenImage::Custom {
                name: "wall.gif".into(),
                sha256: "ab".repeat(32),
            }
        },
        "startup.lock_screen_image.name",
    ),
    (
        "lock-screen image hash",
        |r| {
            r.startup.lock_screen_image = LockScreenImage::Custom {
                name: "wall.png".into(),
                sha256: "XYZ".into(),
            }
        },
        "startup.lock_screen_image.sha256",
    ),
    (
        "fallback without name",
        |r| r.startup.admin_fallback = fallback(" ", "Correct-Horse-42-Battery", 0),
        "startup.admin_fallback.username",
    ),
    (
        "fallback name with a bad character",
        |r| r.startup.admin_fallback = fallback("res/cue", "Correct-Horse-42-Battery", 0),
        "startup.admin_fallback.username",
    ),
    (
        "fallback password too short",
        |r| r.startup.admin_fallback = fallback("rescue", "Sh0rt!", 0),
        "startup.admin_fallback.password",
    ),
    (
        "fallback password too plain",
        |r| r.startup.admin_fallback = fallback("rescue", "alllowercaseletters", 0),
        "startup.admin_fallback.password",
    ),
    (
        "fallback password holds the name",
        |r| r.startup.admin_fallback = fallback("rescue", "Rescue-Account-2025!", 0),
        "startup.admin_fallback.password",
    ),
    (
        "fallback deletion delay above 365",
        |r| r.startup.admin_fallback = fallback("rescue", "Correct-Horse-42-Battery", 366),
        "startup.admin_fallback.delay_deletion_days",
    ),
    (
        "fallback deletion delay negative",
        |r| r.startup.admin_fallback = fallback("rescue", "Correct-Horse-42-Battery", -1),
        "startup.admin_fallback.delay_deletion_days",
    ),
    (
        "startup package not a zip",
        |r| r.startup.command_package = package("run.cmd", &"ab".repeat(32)),
        "startup.command_package.name",
    ),
    (
        "startup package hash",
        |r| r.startup.command_package = package("run.zip", "abc"),
        "startup.command_package.sha256",
    ),
    (
        "completion package hash",
        |r| r.completion.command_package = package("run.zip", &"AB".repeat(32)),
        "completion.command_package.sha256",
    ),
    (
        "QR URL not https",
        |r| r.user_experience.qr_code_url = "ftp://help.fabrikam.com".into(),
        "user_experience.qr_code_url",
    ),
    (
        "QR URL with an anchor",
        |r| r.user_experience.qr_code_url = "https://help.fabrikam.com/#top".into(),
        "user_experience.qr_code_url",
    ),
    (
        "default culture missing",
        |r| r.user_experience.default_culture = "fr-FR".into(),
        "user_experience.default_culture",
    ),
    (
        "bad culture code",
        |r| r.user_experience.cultures.push(Culture::new("french")),
        "user_experience.cultures[1].code",
    ),
    (
        "culture twice",
        |r| {
            r.user_experience
                .cultures
                .push(Culture::new(DEFAULT_CULTURE))
        },
        "user_experience.cultures[1].code",
    ),
    (
        "placeholder another dialog has",
        |r| {
            r.user_experience.cultures[0]
                .dialogs
                .migration_starting
                .message = SafeHtml::new("Starts at {StartDate}")
        },
        "user_experience.cultures[0].dialogs.migration_starting.message",
    ),
    (
        "unknown placeholder in a title",
        |r| {
            r.user_experience.cultures[0]
                .dialogs
                .cache_credentials
                .title = "Welcome {UserName}".into()
        },
        "user_experience.cultures[0].dialogs.cache_credentials.title",
    ),
    (
        "markup in a title",
        |r| {
            r.user_experience.cultures[0]
                .dialogs
                .migration_complete
                .title = "<b>Done</b>".into()
        },
        "user_experience.cultures[0].dialogs.migration_complete.title",
    ),
    (
        "label the dialog does not have",
        |r| {
            r.user_experience.cultures[0]
                .dialogs
                .migration_in_progress
                .labels
                .insert("ok_button".into(), "OK".into());
        },
        "user_experience.cultures[0].dialogs.migration_in_progress.labels.ok_button",
    ),
    (
        "markup in a label",
        |r| {
            r.user_experience.cultures[0]
                .dialogs
                .migration_starting
                .labels
                .insert("yes_button".into(), "<i>Yes</i>".into());
        },
        "user_experience.cultures[0].dialogs.migration_starting.labels.yes_button",
    ),
    (
        "placeholder in the legal notice",
        |r| r.user_experience.cultures[0].legal_notice = SafeHtml::new("Moving to {TargetDomain}"),
        "user_experience.cultures[0].legal_notice",
    ),
    (
        "legal notice set but blank",
        |r| {
            r.startup.set_legal_notice = true;
            r.user_experience.cultures[0].legal_notice = SafeHtml::new(" ");
        },
        "user_experience.cultures[0].legal_notice",
    ),
    (
        "computer OU is the Computers container",
        |r| r.device_state.active_directory.computer_ou = "CN=Computers,DC=fabrikam,DC=com".into(),
        "device_state.active_directory.computer_ou",
    ),
    (
        "online join without an account",
        |r| r.device_state.active_directory.username.clear(),
        "device_state.active_directory.username",
    ),
    (
        "rename too long",
        |r| {
            r.device_state.rename = Some(Rename {
                template: "FABRIKAM-%RAND:9%".into(),
            })
        },
        "device_state.rename.template",
    ),
    (
        "rename unknown placeholder",
        |r| {
            r.device_state.rename = Some(Rename {
                template: "PC-%USER%".into(),
            })
        },
        "device_state.rename.template",
    ),
    (
        "hybrid tenant name",
        |r| {
            r.device_state.domain_join = DomainJoin::None;
            r.device_state.hybrid_join = Some(HybridJoin {
                tenant_name: "fabrikam.com".into(),
                tenant_id: "d404cf81-40be-4c2b-af2a-0353ecf58683".into(),
            });
        },
        "device_state.hybrid_join.tenant_name",
    ),
    (
        "hybrid tenant id",
        |r| {
            r.device_state.domain_join = DomainJoin::None;
            r.device_state.hybrid_join = Some(HybridJoin {
                tenant_name: "fabrikam.onmicrosoft.com".into(),
                tenant_id: "not-a-guid".into(),
            });
        },
        "device_state.hybrid_join.tenant_id",
    ),
    (
        "hybrid join with a domain join",
        |r| {
            r.device_state.hybrid_join = Some(HybridJoin {
                tenant_name: "fabrikam.onmicrosoft.com".into(),
                tenant_id: "d404cf81-40be-4c2b-af2a-0353ecf58683".into(),
            })
        },
        "device_state.hybrid_join",
    ),
    (
        "cached credentials before an Entra join",
        |r| {
            r.device_state.domain_join = DomainJoin::Entra;
            r.device_state.cache_user_credentials = true;
        },
        "device_state.cache_user_credentials",
    ),
    (
        "Intune without an Entra join",
        |r| r.device_state.enroll_intune = true,
        "device_state.enroll_intune",
    ),
    (
        "area twice",
        |r| r.permissions.areas.push(Area::FileSystem),
        "permissions.areas[3]",
    ),
    (
        "blank ignore pattern",
        |r| r.permissions.ignore.push("  ".into()),
        "permissions.ignore[4]",
    ),
    (
        "ignore pattern twice",
        |r| r.permissions.ignore.push("%systemroot%\\*".into()),
        "permissions.ignore[4]",
    ),
    (
        "remote shares without an account",
        |r| {
            r.permissions.remote_file_shares = Some(RemoteFileShares {
                username: String::new(),
                password: Secret::new("x"),
                paths: "\\\\nas\\sales".into(),
            })
        },
        "permissions.remote_file_shares.username",
    ),
    (
        "remote share as a drive letter",
        |r| {
            r.permissions.remote_file_shares = Some(RemoteFileShares {
                username: "admin".into(),
                password: Secret::new("x"),
                paths: "\\\\nas\\sales\nS:\\Library".into(),
            })
        },
        "permissions.remote_file_shares.paths",
    ),
    (
        "remote shares empty",
        |r| {
            r.permissions.remote_file_shares = Some(RemoteFileShares {
                username: "admin".into(),
                password: Secret::new("x"),
                paths: "\n".into(),
            })
        },
        "permissions.remote_file_shares.paths",
    ),
    (
        "source tenant not a GUID",
        |r| r.apps.onedrive.source_tenants = "contoso.onmicrosoft.com".into(),
        "apps.onedrive.source_tenants",
    ),
    (
        "cloud-only without source tenants",
        |r| {
            r.apps.mode = AppMode::Reconfigure;
            r.apps.onedrive.cloud_only = true;
            r.apps.onedrive.target_folder_name = "OneDrive - Fabrikam".into();
        },
        "apps.onedrive.source_tenants",
    ),
    (
        "OneDrive folder with a dash",
        |r| r.apps.onedrive.target_folder_name = "OneDrive \u{2013} Fabrikam".into(),
        "apps.onedrive.target_folder_name",
    ),
    (
        "OneDrive folder with a trailing space",
        |r| r.apps.onedrive.target_folder_name = "OneDrive - Fabrikam ".into(),
        "apps.onedrive.target_folder_name",
    ),
    (
        "cloud-only without a folder",
        |r| {
            r.apps.mode = AppMode::Reconfigure;
            r.apps.onedrive.cloud_only = true;
            r.apps.onedrive.source_tenants = "9bc4a702-2977-4d17-8f19-64d596b61cbe".into();
        },
        "apps.onedrive.target_folder_name",
    ),
    (
        "AIP source host",
        |r| {
            r.apps.information_protection = Some(InformationProtection {
                source_hosts: "https://a.rms.eu.aadrm.com/_wmcs".into(),
                target_host: "b.rms.eu.aadrm.com".into(),
            })
        },
        "apps.information_protection.source_hosts",
    ),
    (
        "AIP target host",
        |r| {
            r.apps.information_protection = Some(InformationProtection {
                source_hosts: "a.rms.eu.aadrm.com".into(),
                target_host: String::new(),
            })
        },
        "apps.information_protection.target_host",
    ),
];

#[test]
fn the_base_runbook_is_valid() {
    assert_eq!(fields(valid().validate()), Vec::<String>::new());
}

#[test]
fn each_rule_names_its_field() {
    for (rule, breaks, field) in RULES {
        let mut rb = valid();
        breaks(&mut rb);
        let got = fields(rb.validate());
        assert_eq!(got, vec![field.to_string()], "rule: {}", rule);
    }
}

fn context() -> RunbookContext {
    RunbookContext {
        target_kind: DirectoryKind::ActiveDirectory,
        target_has_bprt: false,
        prerequisite_caches_credentials: false,
        password_policy: PasswordPolicy::default(),
    }
}

#[test]
fn rules_that_need_the_server_name_their_field() {
    type Row = (
        &'static str,
        fn(&mut Runbook, &mut RunbookContext),
        &'static str,
    );
    let rows: &[Row] = &[
        (
            "Entra join without a bulk enrollment token",
            |r, c| {
                r.device_state.domain_join = DomainJoin::Entra;
                c.target_kind = DirectoryKind::EntraId;
            },
            "device_state.domain_join",
        ),
        (
            "Entra join into an AD target",
            |r, _| r.device_state.domain_join = DomainJoin::Entra,
            "device_state.domain_join",
        ),
        (
            "AD join into an Entra target",
            |_, c| {
                c.target_kind = DirectoryKind::EntraId;
                c.target_has_bprt = true;
            },
            "device_state.domain_join",
        ),
        (
            "offline join without cached credentials",
            |r, _| r.device_state.active_directory.offline_domain_join = true,
            "device_state.active_directory.offline_domain_join",
        ),
        (
            "password against a stricter policy",
            |r, c| {
                r.startup.admin_fallback = fallback("rescue", "Correct-Horse-42-Battery", 0);
                c.password_policy.min_length = 30;
            },
            "startup.admin_fallback.password",
        ),
    ];
    assert_eq!(
        fields(valid().validate_with(&context())),
        Vec::<String>::new()
    );
    for (rule, breaks, field) in rows {
        let (mut rb, mut ctx) = (valid(), context());
        breaks(&mut rb, &mut ctx);
        assert_eq!(
            fields(rb.validate_with(&ctx)),
            vec![field.to_string()],
            "rule: {}",
            rule
        );
    }

    let mut rb = valid();
    rb.device_state.domain_join = DomainJoin::Entra;
    let ctx = RunbookContext {
        target_kind: DirectoryKind::EntraId,
        target_has_bprt: true,
        ..context()
    };
    assert!(rb.validate_with(&ctx).is_ok());
    rb.device_state.domain_join = DomainJoin::ActiveDirectory;
    rb.device_state.active_directory.offline_domain_join = true;
    let ctx = RunbookContext {
        prerequisite_caches_credentials: true,
        ..context()
    };
    assert!(rb.validate_with(&ctx).is_ok());
}

#[test]
fn secrets_are_read_but_never_written_or_printed() {
    let mut rb = valid();
    rb.startup.admin_fallback = fallback("rescue", "Correct-Horse-42-Battery", 3);
    rb.device_state.active_directory.password = Secret::new("Join-Password-1");
    rb.permissions.remote_file_shares = Some(RemoteFileShares {
        username: "admin".into(),
        password: Secret::new("Share-Password-1"),
        paths: "\\\\nas\\sales".into(),
    });
    let json = serde_json::to_string(&rb).unwrap();
    let debug = format!("{:?}", rb);
    for secret in [
        "Correct-Horse-42-Battery",
        "Join-Password-1",
        "Share-Password-1",
    ] {
        assert!(!json.contains(secret), "{} in JSON", secret);
        assert!(!debug.contains(secret), "{} in Debug", secret);
    }
    assert!(debug.contains("<hidden>"));

    let mut value = serde_json::to_value(&rb).unwrap();
    value["device_state"]["active_directory"]["password"] = "Join-Password-2".into();
    let back: Runbook = serde_json::from_value(value).unwrap();
    assert_eq!(
        back.device_state.active_directory.password.expose(),
        Some("Join-Password-2")
    );
    assert!(!back.startup.admin_fallback.unwrap().password.is_set());
}

#[test]
fn a_runbook_stored_before_the_tabs_grew_still_reads_and_plans_the_same_areas() {
    let rb: Runbook = serde_json::from_value(serde_json::json!({
        "id": RunbookId::new(), "name": "old", "source_directories": [DirectoryId::new()],
        "target_directory": DirectoryId::new(),
        "device_state": {"remove_from": "ActiveDirectory", "domain_join": "ActiveDirectory"},
        "permissions": {"mode": "AddAndRemove"}
    }))
    .unwrap();
    assert_eq!(
        rb.permissions.areas,
        vec![Area::WindowsProfiles, Area::FileSystem, Area::LocalGroups]
    );
    assert_eq!(rb.permissions.ignore.len(), 4);
    assert_eq!(rb.user_experience.cultures[0].code, DEFAULT_CULTURE);
    assert_eq!(rb.startup.interaction, UserInteraction::ShowProgress);
}

#[test]
fn wmi_namespaces_are_an_area_beside_the_twelve_stored_before() {
    let stored = |areas: serde_json::Value| -> std::result::Result<Runbook, String> {
        serde_json::from_value(serde_json::json!({
            "id": RunbookId::new(), "name": "wmi", "source_directories": [DirectoryId::new()],
            "target_directory": DirectoryId::new(),
            "permissions": {"mode": "AddOnly", "areas": areas}
        }))
        .map_err(|e| e.to_string())
    };
    // A runbook saved with the twelve areas there were before reads as it was saved.
    let twelve: Vec<Area> = Area::ALL
        .iter()
        .copied()
        .filter(|a| *a != Area::WmiNamespaces)
        .collect();
    assert_eq!(twelve.len(), 12);
    let old = stored(serde_json::to_value(&twelve).unwrap()).unwrap();
    assert_eq!(old.permissions.areas, twelve);
    // The new area is stored by its name and read back; its step is named by its slug.
    let rb = stored(serde_json::json!(["Registry", "WmiNamespaces"])).unwrap();
    assert_eq!(
        rb.permissions.areas,
        vec![Area::Registry, Area::WmiNamespaces]
    );
    assert_eq!(
        serde_json::to_value(&rb).unwrap()["permissions"]["areas"],
        serde_json::json!(["Registry", "WmiNamespaces"])
    );
    assert_eq!(Area::WmiNamespaces.slug(), "wmi-namespaces");
    assert!(rb.validate().is_ok());
    // Listed twice it is refused by its place; a misspelt area names the ones there are.
    let twice = stored(serde_json::json!(["WmiNamespaces", "WmiNamespaces"])).unwrap();
    assert_eq!(
        fields(twice.validate()),
        vec!["permissions.areas[1]".to_string()]
    );
    let e = stored(serde_json::json!(["Wmi"])).unwrap_err();
    assert!(e.contains("WmiNamespaces"), "{}", e);
}

#[test]
fn html_is_stored_sanitized() {
    let culture: Culture = serde_json::from_value(serde_json::json!({
        "code": "fr-FR",
        "legal_notice": "<script>alert(1)</script><b>Attendez</b>"
    }))
    .unwrap();
    assert_eq!(
        culture.legal_notice.as_str(),
        "&lt;script&gt;alert(1)&lt;/script&gt;<b>Attendez</b>"
    );
    let defaults = Culture::new("en-GB");
    for dialog in Dialog::ALL {
        let message = defaults.dialogs.get(dialog).message.as_str();
        assert_eq!(crate::html::sanitize(message), message, "{:?}", dialog);
    }
}

#[test]
fn cultures_are_copied_to_valid_new_codes_and_the_default_stays() {
    let mut ux = UserExperienceSettings::default();
    ux.copy_culture(DEFAULT_CULTURE, "fr-FR").unwrap();
    assert_eq!(ux.cultures[1].code, "fr-FR");
    assert_eq!(ux.cultures[1].dialogs, ux.cultures[0].dialogs);
    let field = |r: Result<()>| fields(r).pop().unwrap_or_default();
    assert_eq!(
        field(ux.copy_culture(DEFAULT_CULTURE, "fr-FR")),
        "user_experience.copy_to"
    );
    assert_eq!(
        field(ux.copy_culture(DEFAULT_CULTURE, "french")),
        "user_experience.copy_to"
    );
    assert_eq!(
        field(ux.delete_culture(DEFAULT_CULTURE)),
        "user_experience.culture"
    );
    ux.delete_culture("fr-FR").unwrap();
    assert_eq!(ux.cultures.len(), 1);
}

#[test]
fn every_dialog_has_texts_for_its_labels() {
    let dialogs = Dialogs::default();
    for dialog in Dialog::ALL {
        let keys: Vec<&str> = dialogs
            .get(dialog)
            .labels
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut want = labels_of(dialog).to_vec();
        want.sort_unstable();
        assert_eq!(keys, want, "{:?}", dialog);
    }
}

fn named(name: &str) -> Runbook {
    Runbook {
        name: name.into(),
        ..valid()
    }
}

#[test]
fn prerequisite_cycles_and_unknown_prerequisites_are_found() {
    let (mut a, mut b, mut c) = (named("prep"), named("main"), named("late"));
    b.prerequisites = vec![a.id];
    c.prerequisites = vec![b.id, a.id];
    assert!(check_prerequisites(&[a.clone(), b.clone(), c.clone()]).is_ok());

    a.prerequisites = vec![c.id];
    c.prerequisites = vec![b.id];
    let errors = match check_prerequisites(&[a.clone(), b.clone(), c.clone()]) {
        Err(Error::Invalid(errors)) => errors,
        other => panic!("{:?}", other),
    };
    assert_eq!(errors.len(), 1, "{:?}", errors);
    assert_eq!(errors[0].field, "runbooks[1].prerequisites[0]");
    assert!(
        errors[0]
            .message
            .ends_with("prep needs late needs main needs prep"),
        "{}",
        errors[0].message
    );

    a.prerequisites = vec![RunbookId::new()];
    assert_eq!(
        fields(check_prerequisites(&[a, b])),
        vec!["runbooks[0].prerequisites[0]".to_string()]
    );
}

#[test]
fn a_dialog_left_out_keeps_the_default_wording() {
    let culture: Culture = serde_json::from_value(serde_json::json!({
        "code": "de-DE",
        "dialogs": {"migration_complete": {"title": "Fertig", "message": "Alles erledigt."}}
    }))
    .unwrap();
    assert_eq!(culture.dialogs.migration_complete.title, "Fertig");
    assert_eq!(
        culture.dialogs.cache_credentials,
        Dialogs::default().cache_credentials
    );
}

#[test]
fn secrets_leave_the_runbook_and_come_back_only_where_their_section_is_on() {
    let mut rb = valid();
    rb.startup.admin_fallback = fallback("rescue", "Correct-Horse-42-Battery", 3);
    rb.device_state.active_directory.password = Secret::new("Join-Password-1");
    let secrets = rb.secrets();
    assert_eq!(
        secrets.set_flags(),
        SecretsSet {
            admin_fallback_password: true,
            domain_join_password: true,
            remote_file_shares_password: false,
        }
    );
    assert!(!format!("{:?}", secrets).contains("Join-Password-1"));

    // As the API receives it on an edit: passwords blank, one section now off.
    let mut edited = valid();
    edited.startup.admin_fallback = fallback("rescue", "", 3);
    edited.permissions.remote_file_shares = None;
    let stored = RunbookSecrets {
        remote_file_shares_password: Some("Share-Password-1".into()),
        ..secrets.clone()
    };
    edited.keep_secrets(&stored);
    assert_eq!(edited.secrets(), secrets);

    // A password given on the edit wins over the stored one.
    let mut changed = valid();
    changed.device_state.active_directory.password = Secret::new("Join-Password-2");
    changed.keep_secrets(&stored);
    assert_eq!(
        changed.secrets().domain_join_password.as_deref(),
        Some("Join-Password-2")
    );
}
