//! The runbook with every setting of every tab turned on, and the command package it names:
//! shared by the agent's tests and the end-to-end scenarios against the real server (which
//! include this file), so both run the same runbook.

use model::ids::{DirectoryId, RunbookId};
use model::runbook::{
    ActiveDirectoryJoin, AdminFallback, AppMode, AppSettings, Area, CommandPackageRef,
    CompletionSettings, DeviceStateSettings, DomainJoin, HybridJoin, InformationProtection,
    LockScreenImage, OneDrive, PermissionMode, PermissionSettings, RemoteFileShares, RemoveFrom,
    Rename, Runbook, RunbookSecrets, Secret, StartupSettings, Switch,
};

/// A share of a NAS with a folder per user, for Remote File Shares.
pub const REMOTE_SHARE: &str = "\\\\nas01\\users";
/// The source tenant of the users' OneDrive for Business.
pub const SOURCE_TENANT_ID: &str = "9bc4a702-2977-4d17-8f19-64d596b61cbe";

/// A zip of `entries` (name, content), stored without compression, as a command package.
pub fn zip(entries: &[(&str, &str)]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, content) in entries {
        let offset = out.len() as u32;
        let (crc, size) = (crc32(content.as_bytes()), content.len() as u32);
        let mut common = Vec::new();
        common.extend_from_slice(&20u16.to_le_bytes()); // version needed
        common.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
        common.extend_from_slice(&0u16.to_le_bytes()); // stored
        common.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
        common.extend_from_slice(&crc.to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes());
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(content.as_bytes());
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        central.extend_from_slice(&[0; 6]); // comment, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The AD join account's password in the runbooks' secrets.
pub const JOIN_PASSWORD: &str = "Join-Passw0rd!";

/// The account an online AD join runs as.
pub fn join_account() -> ActiveDirectoryJoin {
    ActiveDirectoryJoin {
        username: "NEW\\rehome-join".into(),
        ..Default::default()
    }
}

/// The command package of [`full_runbook`].
pub const FIX_PACKAGE: &[(&str, &str)] = &[
    (
        "cmdline.cmd",
        "@echo off\r\npowershell -File tools\\fix.ps1\r\n",
    ),
    ("tools/fix.ps1", "Write-Output fixed"),
];

/// The fallback administrator's password in [`full_runbook`]'s secrets.
pub const FALLBACK_PASSWORD: &str = "Fallback-Passw0rd!";

/// A runbook that leaves AD and joins `join`, with every setting of every tab turned on. With
/// `only_carried_out`, credential caching (which needs a signed-in user to answer, or a
/// prerequisite runbook), Edge and uninstall are left off, so the rest runs to completion in one
/// go.
pub fn full_runbook(join: DomainJoin, only_carried_out: bool) -> (Runbook, RunbookSecrets) {
    let all = !only_carried_out;
    // Held by every World's server.
    let package = CommandPackageRef {
        name: "fix.zip".into(),
        sha256: model::protocol::sha256_hex(&zip(FIX_PACKAGE)),
    };
    let runbook = Runbook {
        id: RunbookId::new(),
        name: "Every setting".into(),
        source_directories: vec![DirectoryId::new()],
        target_directory: DirectoryId::new(),
        allow_on_server_os: false,
        startup: StartupSettings {
            lock_screen_image: LockScreenImage::Builtin,
            set_legal_notice: true,
            prevent_login: true,
            admin_fallback: Some(AdminFallback {
                username: "rehome-fallback".into(),
                password: Secret::new(FALLBACK_PASSWORD),
                delay_deletion_days: 0,
            }),
            command_package: Some(package.clone()),
            ..Default::default()
        },
        device_state: DeviceStateSettings {
            cache_user_credentials: all,
            remove_from: RemoveFrom::ActiveDirectory,
            domain_join: join,
            active_directory: join_account(),
            rename: Some(Rename {
                template: "PC-%RAND:4%".into(),
            }),
            hybrid_join: Some(HybridJoin {
                tenant_name: "fabrikam.onmicrosoft.com".into(),
                tenant_id: "6f1c2f2c-1b2a-4c1e-9d8a-0a1b2c3d4e5f".into(),
            }),
            enroll_intune: join == DomainJoin::Entra,
            reset_autopilot: true,
        },
        permissions: PermissionSettings {
            mode: PermissionMode::AddAndRemove,
            areas: Area::ALL.to_vec(),
            remote_file_shares: Some(RemoteFileShares {
                username: "CONTOSO\\svc-shares".into(),
                password: Secret::new("share-pass"),
                paths: REMOTE_SHARE.into(),
            }),
            ..Default::default()
        },
        apps: AppSettings {
            mode: AppMode::Reconfigure,
            outlook: true,
            outlook_zero_config_exchange: Switch::Set,
            other_m365_apps: true,
            edge: all,
            onedrive: OneDrive {
                cloud_only: true,
                silent_account_config: Switch::Set,
                source_tenants: SOURCE_TENANT_ID.into(),
                target_folder_name: "OneDrive - Old".into(),
            },
            information_protection: Some(InformationProtection {
                source_hosts: "old.rms.contoso.test".into(),
                target_host: "new.rms.fabrikam.test".into(),
            }),
        },
        completion: CompletionSettings {
            proxy_autodetect: Switch::Set,
            command_package: Some(package),
            uninstall_agent: all,
            ..Default::default()
        },
        prerequisites: Vec::new(),
        user_experience: Default::default(),
    };
    let secrets = RunbookSecrets {
        admin_fallback_password: Some(FALLBACK_PASSWORD.into()),
        domain_join_password: Some(JOIN_PASSWORD.into()),
        remote_file_shares_password: Some("share-pass".into()),
    };
    (runbook, secrets)
}
