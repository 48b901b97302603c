//! Where the BitLocker recovery password is escrowed (the backup events and the FVE policy) and
//! the EDR agents (by service, isolation judged by the server's answer), on a real Windows API.
//! Wine has no BitLocker Management channel: the test checks the reason names `EvtQuery` and
//! the channel; the policy, the services and the server are real under Wine.

use std::io::{Read, Write};
use std::net::TcpListener;

use agent::readiness::device::{BitLockerState, InterferenceKind};
use agent::RegValue;

use super::escrow::{self, BackupEvent};
use super::tests::TestService;
use super::{edr, registry, under_wine};
use crate::keys::KeyName;

fn event(id: u32, volume: Option<&str>) -> BackupEvent {
    BackupEvent {
        id,
        volume: volume.map(str::to_string),
        protector: None,
    }
}

#[test]
fn backup_events_are_read_from_their_xml() {
    let xml = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-BitLocker-API'/><EventID>845</EventID></System><EventData><Data Name='VolumeMountPoint'>C:</Data><Data Name='ProtectorGUID'>{1}</Data></EventData></Event>";
    let entra = escrow::parse_event(xml).unwrap();
    assert_eq!((entra.id, entra.volume.as_deref()), (845, Some("C:")));
    assert_eq!(entra.protector.as_deref(), Some("{1}"));
    let ad = "<Event><System><EventID Qualifiers='0'>784</EventID></System><EventData><Data Name=\"ProtectorGUID\">{1}</Data></EventData></Event>";
    let ad = escrow::parse_event(ad).unwrap();
    assert_eq!(
        (ad.id, ad.volume, ad.protector.as_deref()),
        (784, None, Some("{1}"))
    );
    let other = "<Event><System><EventID>775</EventID></System></Event>";
    assert_eq!(escrow::parse_event(other), None);
}

#[test]
fn the_newest_backup_event_of_each_directory_decides_where_the_key_is() {
    let domain = Some("old.contoso.test");
    let tenant = Some("contoso.onmicrosoft.com");
    // Newest first, as EvtQuery reads them in reverse.
    let found = escrow::places(
        domain,
        tenant,
        "C:",
        Ok(vec![
            event(845, Some("C:")),
            event(785, None),
            event(784, None),
        ]),
        false,
        None,
    );
    assert_eq!(found, Ok(vec!["entra:contoso.onmicrosoft.com".to_string()]));
    let found = escrow::places(domain, None, "C:", Ok(vec![event(783, None)]), false, None);
    assert_eq!(found, Ok(vec!["ad:old.contoso.test".to_string()]));
    // A failed backup is evidence too: nowhere, so the check blocks.
    let found = escrow::places(
        None,
        tenant,
        "C:",
        Ok(vec![event(846, Some("C:"))]),
        false,
        None,
    );
    assert_eq!(found, Ok(Vec::new()));
    // Another volume's backup does not count for the system volume.
    let found = escrow::places(
        None,
        tenant,
        "C:",
        Ok(vec![event(845, Some("D:"))]),
        false,
        None,
    );
    let why = found.unwrap_err();
    assert!(why.contains("holds no backup event for C:"), "{}", why);
    assert!(why.contains("Entra ID contoso.onmicrosoft.com"), "{}", why);
    // A backup of a recovery password removed since proves nothing; one of the volume's does.
    let removed = BackupEvent {
        protector: Some("{AAAA}".to_string()),
        ..event(845, Some("C:"))
    };
    let current = ["{bbbb}".to_string()];
    let found = escrow::places(
        None,
        tenant,
        "C:",
        Ok(vec![removed.clone()]),
        false,
        Some(&current),
    );
    assert!(found.is_err(), "{:?}", found);
    let kept = BackupEvent {
        protector: Some("{BBBB}".to_string()),
        ..removed
    };
    let found = escrow::places(None, tenant, "C:", Ok(vec![kept]), false, Some(&current));
    assert_eq!(found, Ok(vec!["entra:contoso.onmicrosoft.com".to_string()]));
    // The policy that made protection wait for the AD DS backup.
    let found = escrow::places(domain, None, "C:", Ok(Vec::new()), true, None);
    assert_eq!(found, Ok(vec!["ad:old.contoso.test".to_string()]));
}

struct Policy(KeyName);

impl Drop for Policy {
    fn drop(&mut self) {
        let _ = registry::delete_tree(&self.0);
    }
}

#[test]
fn the_fve_policy_and_the_event_log_are_the_evidence_of_an_escrowed_key() {
    let name = KeyName::parse(escrow::FVE_POLICY).unwrap();
    let _ = registry::delete_tree(&name);
    let policy = Policy(name);
    let mut state = BitLockerState {
        encrypted: true,
        protection_on: true,
        ..Default::default()
    };
    let events = escrow::backup_events(escrow::CHANNEL);
    escrow::fill(&mut state, Some("old.contoso.test"), None, "C:", None).unwrap();
    if under_wine() {
        // Wine has no BitLocker Management channel: no evidence, and the reason says which
        // call could not read which log.
        let e = events.unwrap_err().to_string();
        assert!(
            e.contains("EvtQuery") && e.contains(escrow::CHANNEL),
            "{}",
            e
        );
        let why = state.escrow_unread.clone().expect("no evidence under Wine");
        assert!(why.contains("EvtQuery"), "{}", why);
        assert!(
            why.contains("no FVE policy requires an AD DS backup"),
            "{}",
            why
        );
        assert!(why.contains("joined to old.contoso.test"), "{}", why);
        assert!(state.escrowed_to.is_empty());
    } else if let Err(e) = events {
        // A Windows without BitLocker (a server runner) may have no such channel either.
        assert!(e.to_string().contains("EvtQuery"), "{}", e);
    }
    // Required AD DS backup before protection: the key is in the domain.
    let key = registry::create(&policy.0, registry::WRITE).unwrap();
    for value in [
        "OSRecovery",
        "OSActiveDirectoryBackup",
        "OSRequireActiveDirectoryBackup",
    ] {
        key.set_value(value, &RegValue::Dword(1)).unwrap();
    }
    drop(key);
    assert!(escrow::policy_requires_ad_backup().unwrap());
    escrow::fill(&mut state, Some("old.contoso.test"), None, "C:", None).unwrap();
    assert_eq!(state.escrow_unread, None);
    assert_eq!(state.escrowed_to, vec!["ad:old.contoso.test".to_string()]);
    // Backup asked for but not required: no longer evidence.
    registry::create(&policy.0, registry::WRITE)
        .unwrap()
        .set_value("OSRequireActiveDirectoryBackup", &RegValue::Dword(0))
        .unwrap();
    assert!(!escrow::policy_requires_ad_backup().unwrap());
}

/// A server on 127.0.0.1 that answers one request; its URL.
fn answering_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2048];
        let _ = stream.read(&mut buf);
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    (url, server)
}

#[test]
fn an_edr_agent_is_found_by_its_service_and_judged_by_the_servers_answer() {
    let known = [("RehomeTestEdr", "Test EDR")];
    assert!(edr::interference_with(&known, Some("http://127.0.0.1:9/"))
        .unwrap()
        .is_empty());
    let _service = TestService::create("RehomeTestEdr");
    assert_eq!(
        edr::present(&known).unwrap(),
        vec!["Test EDR (RehomeTestEdr)"]
    );
    let (url, server) = answering_server();
    let found = edr::interference_with(&known, Some(&url)).unwrap();
    server.join().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, InterferenceKind::Edr);
    assert_eq!(found[0].name, "Test EDR (RehomeTestEdr)");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://127.0.0.1:{}/", closed.local_addr().unwrap().port());
    drop(closed);
    let found = edr::interference_with(&known, Some(&closed_url)).unwrap();
    assert_eq!(found[0].kind, InterferenceKind::EdrIsolation);
    assert_eq!(
        found[0].name,
        format!(
            "Test EDR (RehomeTestEdr) while the server {} does not answer the device",
            closed_url
        )
    );
    // No server to try: not judged here (the check says why instead).
    assert!(edr::interference_with(&known, None).unwrap().is_empty());
}

#[test]
fn defender_for_endpoint_counts_only_once_onboarded() {
    let known = [("RehomeTestSense", "Defender")];
    let _service = TestService::create("RehomeTestSense");
    // Any service name but Sense needs no onboarding; Sense itself is checked on Windows,
    // where it ships with the system whether onboarded or not.
    assert_eq!(edr::present(&known).unwrap().len(), 1);
    if !under_wine() {
        let onboarded = registry::open(&KeyName::parse(edr::MDE_STATUS).unwrap(), registry::READ)
            .unwrap()
            .and_then(|k| k.value("OnboardingState").unwrap())
            == Some(RegValue::Dword(1));
        let sense = edr::present(&[("Sense", "Microsoft Defender for Endpoint")]).unwrap();
        assert_eq!(!sense.is_empty(), onboarded, "{:?}", sense);
    }
}
