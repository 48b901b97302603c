//! Any bytes as an agent message: a signed and encrypted envelope, or a PSK-signed registration.
//! Opening never panics, and nothing that was not made with the keys opens.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use model::envelope::{Envelope, KeyPair, PskSigned};

fuzz_target!(|data: &[u8]| {
    let agent = KeyPair::from_secret_bytes(&[7u8; 64]).expect("keys");
    let server = KeyPair::from_secret_bytes(&[9u8; 64]).expect("keys");
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(data) {
        let now = Utc
            .timestamp_opt(envelope.header.timestamp.clamp(0, 32_503_680_000), 0)
            .single()
            .unwrap_or_else(Utc::now);
        let kind = envelope.header.kind.clone();
        let opened = envelope.open::<serde_json::Value>(&kind, &agent.public(), &server, now);
        if opened.is_ok() {
            // Only a message sealed by the agent's key for the server's opens: re-sealing what
            // was read with the same header must give a message that opens too.
            let value = opened.expect("opened");
            let again = Envelope::seal(envelope.header.clone(), &value, &agent, &server.public())
                .expect("seal");
            again
                .open::<serde_json::Value>(&kind, &agent.public(), &server, now)
                .expect("a freshly sealed message opens");
        }
    }
    if let Ok(signed) = serde_json::from_slice::<PskSigned>(data) {
        let now = Utc
            .timestamp_opt(signed.timestamp.clamp(0, 32_503_680_000), 0)
            .single()
            .unwrap_or_else(Utc::now);
        let purpose = signed.purpose.clone();
        let _ = signed.open::<serde_json::Value>("the-fuzzing-psk", &purpose, now);
        let _ = signed.mac_matches("");
    }
});
