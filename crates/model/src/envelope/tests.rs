use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap()
}

fn header(agent: AgentId, certificate: CertificateId, kind: &str) -> EnvelopeHeader {
    EnvelopeHeader {
        agent,
        certificate,
        kind: kind.to_string(),
        timestamp: now().timestamp(),
        nonce: new_nonce(),
    }
}

#[test]
fn a_sealed_message_opens_only_for_its_recipient_and_sender() {
    let agent = KeyPair::generate();
    let server = KeyPair::generate();
    let stranger = KeyPair::generate();
    let h = header(AgentId::new(), CertificateId::new(), "check-in");
    let sealed = Envelope::seal(h, &vec!["hello".to_string()], &agent, &server.public()).unwrap();
    assert!(!sealed.ciphertext.contains("hello"));
    let opened: Vec<String> = sealed
        .open("check-in", &agent.public(), &server, now())
        .unwrap();
    assert_eq!(opened, vec!["hello"]);
    assert!(sealed
        .open::<Vec<String>>("check-in", &agent.public(), &stranger, now())
        .is_err());
    assert!(sealed
        .open::<Vec<String>>("check-in", &stranger.public(), &server, now())
        .is_err());
    assert!(sealed
        .open::<Vec<String>>("events", &agent.public(), &server, now())
        .is_err());
}

#[test]
fn a_tampered_header_or_body_is_refused() {
    let agent = KeyPair::generate();
    let server = KeyPair::generate();
    let h = header(AgentId::new(), CertificateId::new(), "check-in");
    let sealed = Envelope::seal(h, &1u32, &agent, &server.public()).unwrap();
    let mut moved = sealed.clone();
    moved.header.agent = AgentId::new();
    assert!(moved
        .open::<u32>("check-in", &agent.public(), &server, now())
        .is_err());
    let mut flipped = sealed.clone();
    let mut bytes = B64.decode(flipped.ciphertext.as_bytes()).unwrap();
    bytes[0] ^= 1;
    flipped.ciphertext = B64.encode(bytes);
    assert!(flipped
        .open::<u32>("check-in", &agent.public(), &server, now())
        .is_err());
}

#[test]
fn stale_messages_are_refused() {
    let agent = KeyPair::generate();
    let server = KeyPair::generate();
    let h = header(AgentId::new(), CertificateId::new(), "check-in");
    let sealed = Envelope::seal(h, &1u32, &agent, &server.public()).unwrap();
    let later = now() + Duration::seconds(MAX_CLOCK_SKEW_SECONDS + 1);
    assert!(sealed
        .open::<u32>("check-in", &agent.public(), &server, later)
        .is_err());
    let just_in_time = now() + Duration::seconds(MAX_CLOCK_SKEW_SECONDS);
    assert!(sealed
        .open::<u32>("check-in", &agent.public(), &server, just_in_time)
        .is_ok());
}

#[test]
fn psk_signed_bodies_need_the_same_key() {
    let signed = PskSigned::sign(
        "k".repeat(64).as_str(),
        "register",
        &42u32,
        now(),
        new_nonce(),
    )
    .unwrap();
    assert_eq!(
        signed
            .open::<u32>(&"k".repeat(64), "register", now())
            .unwrap(),
        42
    );
    assert!(signed
        .open::<u32>(&"j".repeat(64), "register", now())
        .is_err());
    assert!(signed
        .open::<u32>(&"k".repeat(64), "register-response", now())
        .is_err());
    let mut changed = signed.clone();
    changed.body = "43".to_string();
    assert!(changed
        .open::<u32>(&"k".repeat(64), "register", now())
        .is_err());
    assert!(signed
        .open::<u32>(&"k".repeat(64), "register", now() + Duration::minutes(6))
        .is_err());
}

#[test]
fn key_pairs_survive_storage_and_hide_their_secrets() {
    let keys = KeyPair::generate();
    let restored = KeyPair::from_secret_bytes(&keys.to_secret_bytes()).unwrap();
    assert_eq!(keys.public(), restored.public());
    assert!(format!("{:?}", keys).contains("<hidden>"));
}

#[test]
fn agent_certificates_verify_against_their_issuer_only() {
    let issuer = KeyPair::generate();
    let other = KeyPair::generate();
    let agent = KeyPair::generate();
    let cert = AgentCertificate::issue(
        AgentId::new(),
        "PC-001",
        agent.public(),
        CertificateId::new(),
        &issuer,
        now(),
        Duration::days(365),
    );
    assert!(cert.verify(&issuer.public(), now()).is_ok());
    assert!(cert.verify(&other.public(), now()).is_err());
    assert!(cert
        .verify(&issuer.public(), now() + Duration::days(366))
        .is_err());
    let mut renamed = cert.clone();
    renamed.computer_name = "PC-002".to_string();
    assert!(renamed.verify(&issuer.public(), now()).is_err());
}
