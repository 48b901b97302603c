use super::*;
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap()
}

struct Pair {
    agent: AgentId,
    agent_keys: KeyPair,
    certificate: CertificateId,
    server_keys: KeyPair,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            agent: AgentId::new(),
            agent_keys: KeyPair::generate(),
            certificate: CertificateId::new(),
            server_keys: KeyPair::generate(),
        }
    }

    fn agent_side(&self) -> SessionKeys {
        SessionKeys::agent_side(
            self.agent,
            &self.agent_keys,
            self.certificate,
            &self.server_keys.public(),
        )
        .unwrap()
    }

    fn server_side(&self) -> SessionKeys {
        SessionKeys::server_side(
            self.agent,
            &self.agent_keys.public(),
            self.certificate,
            &self.server_keys,
        )
        .unwrap()
    }

    fn header(&self, kind: &str) -> EnvelopeHeader {
        EnvelopeHeader {
            agent: self.agent,
            certificate: self.certificate,
            kind: kind.to_string(),
            timestamp: now().timestamp(),
            nonce: super::super::new_nonce(),
        }
    }

    fn request(&self, body: &str) -> SessionEnvelope {
        SessionEnvelope::seal(
            self.header("check-in"),
            &body.to_string(),
            &self.agent_side(),
            Direction::ToServer,
        )
        .unwrap()
    }
}

fn open(e: &SessionEnvelope, keys: &SessionKeys) -> Result<String> {
    e.open("check-in", keys, Direction::ToServer, now())
}

#[test]
fn hkdf_matches_the_first_test_vector_of_rfc_5869() {
    let ikm = [0x0bu8; 22];
    let salt: Vec<u8> = (0x00u8..=0x0c).collect();
    let info: Vec<u8> = (0xf0u8..=0xf9).collect();
    let okm = hkdf_sha256_32(&salt, &ikm, &info);
    let hex: String = okm.iter().map(|b| format!("{:02x}", b)).collect();
    assert_eq!(
        hex,
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
    );
}

#[test]
fn both_sides_derive_the_same_keys_and_a_message_opens_on_the_other() {
    let pair = Pair::new();
    let request = pair.request("hello");
    assert!(!request.sealed.contains("hello"));
    assert_eq!(open(&request, &pair.server_side()).unwrap(), "hello");
    let answer = SessionEnvelope::seal(
        pair.header("check-in-response"),
        &7u32,
        &pair.server_side(),
        Direction::ToAgent,
    )
    .unwrap();
    let opened: u32 = answer
        .open(
            "check-in-response",
            &pair.agent_side(),
            Direction::ToAgent,
            now(),
        )
        .unwrap();
    assert_eq!(opened, 7);
}

#[test]
fn two_messages_with_one_body_differ_on_the_wire() {
    let pair = Pair::new();
    assert_ne!(pair.request("same").sealed, pair.request("same").sealed);
}

#[test]
fn a_tampered_header_or_ciphertext_is_refused() {
    let pair = Pair::new();
    let keys = pair.server_side();
    let request = pair.request("hello");
    type Tamper = Box<dyn Fn(&mut SessionEnvelope)>;
    let tamper: Vec<Tamper> = vec![
        Box::new(|e| e.header.timestamp += 1),
        Box::new(|e| e.header.nonce = super::super::new_nonce()),
        Box::new(|e| e.header.kind = "events".into()),
        Box::new(|e| {
            let mut bytes = B64.decode(e.sealed.as_bytes()).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            e.sealed = B64.encode(bytes);
        }),
        Box::new(|e| {
            let mut bytes = B64.decode(e.sealed.as_bytes()).unwrap();
            bytes[0] ^= 1;
            e.sealed = B64.encode(bytes);
        }),
        Box::new(|e| e.sealed = B64.encode([0u8; 10])),
        Box::new(|e| e.sealed = "not base64!".into()),
    ];
    for (i, change) in tamper.iter().enumerate() {
        let mut changed = request.clone();
        change(&mut changed);
        // Every change must be refused on the route the message was made for.
        assert!(open(&changed, &keys).is_err(), "change {} accepted", i);
    }
    assert_eq!(open(&request, &keys).unwrap(), "hello");
}

#[test]
fn a_message_is_refused_for_another_agent_another_certificate_or_the_other_direction() {
    let pair = Pair::new();
    let request = pair.request("hello");
    // Another agent's keys with this certificate.
    let other = Pair {
        agent: AgentId::new(),
        agent_keys: KeyPair::generate(),
        certificate: pair.certificate,
        server_keys: pair.server_keys.clone(),
    };
    assert!(open(&request, &other.server_side()).is_err());
    // The header moved to the other agent, opened with that agent's keys.
    let mut moved = request.clone();
    moved.header.agent = other.agent;
    assert!(open(&moved, &other.server_side()).is_err());
    // The same agent id claimed with another key pair (not the certified one).
    let impostor_keys = KeyPair::generate();
    let forged = SessionEnvelope::seal(
        pair.header("check-in"),
        &"forged".to_string(),
        &SessionKeys::agent_side(
            pair.agent,
            &impostor_keys,
            pair.certificate,
            &pair.server_keys.public(),
        )
        .unwrap(),
        Direction::ToServer,
    )
    .unwrap();
    assert!(open(&forged, &pair.server_side()).is_err());
    // A request reflected back to the agent as if it were an answer.
    assert!(request
        .open::<String>("check-in", &pair.agent_side(), Direction::ToAgent, now())
        .is_err());
}

#[test]
fn a_stale_message_is_refused() {
    let pair = Pair::new();
    let request = pair.request("hello");
    let later = now() + chrono::Duration::seconds(301);
    assert!(request
        .open::<String>("check-in", &pair.server_side(), Direction::ToServer, later)
        .is_err());
}

#[test]
fn either_form_is_read_from_the_wire_and_a_mixed_one_is_refused() {
    let pair = Pair::new();
    let session = pair.request("hello");
    let signed = Envelope::seal(
        pair.header("check-in"),
        &"hello",
        &pair.agent_keys,
        &pair.server_keys.public(),
    )
    .unwrap();
    let read = |v: &serde_json::Value| serde_json::from_value::<AnyEnvelope>(v.clone());
    let session_json = serde_json::to_value(&session).unwrap();
    let signed_json = serde_json::to_value(&signed).unwrap();
    assert_eq!(
        read(&session_json).unwrap(),
        AnyEnvelope::Session(session.clone())
    );
    assert_eq!(read(&signed_json).unwrap(), AnyEnvelope::Signed(signed));
    let mut mixed = signed_json.clone();
    mixed["sealed"] = session_json["sealed"].clone();
    assert!(read(&mixed).is_err());
    assert_eq!(
        serde_json::to_value(AnyEnvelope::Session(session)).unwrap(),
        session_json
    );
}
