//! The session form of the envelope: no key agreement and no signature per message.
//!
//! An agent and a server certificate share one static-static X25519 secret (the agent's
//! certified encryption key with the certificate's). Two keys are derived from it once, with
//! HKDF-SHA256 (RFC 5869) under labels that name the direction, the agent and the certificate, and
//! both sides keep them. Each message is then sealed with XChaCha20-Poly1305 under a fresh random
//! 192-bit nonce, with the header as associated data. The header, its nonce memory and its
//! timestamp window work as in the signed form ([`Envelope`](super::Envelope)).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use x25519_dalek::PublicKey;

use super::{check_fresh, check_nonce, Envelope, EnvelopeHeader, Key32, KeyPair, PublicKeys};
use crate::ids::{AgentId, CertificateId};
use crate::{Error, Result};

const HEADER_LABEL: &str = "rehome-envelope-v2";
const SALT: &[u8] = b"rehome-session-v2";
const NONCE_BYTES: usize = 24;

/// Which way a message goes: each direction has its own key, so a message cannot be reflected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A request from the agent.
    ToServer,
    /// An answer from the server.
    ToAgent,
}

/// The two keys one agent and one server certificate share. Secret: never printed.
#[derive(Clone)]
pub struct SessionKeys {
    agent: AgentId,
    certificate: CertificateId,
    to_server: [u8; 32],
    to_agent: [u8; 32],
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SessionKeys {{ agent: {}, certificate: {}, keys: <hidden> }}",
            self.agent, self.certificate
        )
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// HKDF-SHA256 (RFC 5869) for one 32-byte output: extract with `salt`, expand with `info`.
fn hkdf_sha256_32(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = hmac(salt, &[ikm]);
    hmac(&prk, &[info, &[1u8]])
}

fn info(
    direction: &str,
    agent: AgentId,
    agent_key: &Key32,
    certificate: CertificateId,
    server_key: &Key32,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(192);
    for part in [
        direction.as_bytes(),
        agent.to_string().as_bytes(),
        &agent_key.0,
        certificate.to_string().as_bytes(),
        &server_key.0,
    ] {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

impl SessionKeys {
    fn derive(
        shared: x25519_dalek::SharedSecret,
        agent: AgentId,
        agent_key: &Key32,
        certificate: CertificateId,
        server_key: &Key32,
    ) -> Result<SessionKeys> {
        // A low-order public key would make the secret known to anyone.
        if !shared.was_contributory() {
            return Err(Error::Envelope("a key agreement with a weak public key"));
        }
        let key = |direction: &str| {
            let info = info(direction, agent, agent_key, certificate, server_key);
            hkdf_sha256_32(SALT, shared.as_bytes(), &info)
        };
        Ok(SessionKeys {
            agent,
            certificate,
            to_server: key("agent-to-server"),
            to_agent: key("server-to-agent"),
        })
    }

    /// The agent's side: its own key pair and the certificate's public keys.
    pub fn agent_side(
        agent: AgentId,
        own: &KeyPair,
        certificate: CertificateId,
        server: &PublicKeys,
    ) -> Result<SessionKeys> {
        let shared = own
            .encrypt
            .diffie_hellman(&PublicKey::from(server.encrypt.0));
        SessionKeys::derive(
            shared,
            agent,
            &Key32(own.encrypt_public),
            certificate,
            &server.encrypt,
        )
    }

    /// The server's side: the agent's certified public keys and the certificate's key pair.
    pub fn server_side(
        agent: AgentId,
        agent_keys: &PublicKeys,
        certificate: CertificateId,
        own: &KeyPair,
    ) -> Result<SessionKeys> {
        let shared = own
            .encrypt
            .diffie_hellman(&PublicKey::from(agent_keys.encrypt.0));
        SessionKeys::derive(
            shared,
            agent,
            &agent_keys.encrypt,
            certificate,
            &Key32(own.encrypt_public),
        )
    }

    fn key(&self, direction: Direction) -> &[u8; 32] {
        match direction {
            Direction::ToServer => &self.to_server,
            Direction::ToAgent => &self.to_agent,
        }
    }

    fn check_header(&self, header: &EnvelopeHeader) -> Result<()> {
        if header.agent != self.agent || header.certificate != self.certificate {
            return Err(Error::Envelope(
                "the message names another agent or certificate",
            ));
        }
        Ok(())
    }
}

/// A message in the session form: the clear header and the sealed body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnvelope {
    /// Who, what, when: authenticated as the cipher's associated data.
    pub header: EnvelopeHeader,
    /// The 24-byte random nonce followed by the XChaCha20-Poly1305 ciphertext, base64.
    pub sealed: String,
}

impl SessionEnvelope {
    /// Encrypts `body` under the key of `direction`.
    pub fn seal<T: Serialize>(
        header: EnvelopeHeader,
        body: &T,
        keys: &SessionKeys,
        direction: Direction,
    ) -> Result<SessionEnvelope> {
        keys.check_header(&header)?;
        let plaintext = serde_json::to_vec(body).map_err(|e| Error::Malformed(e.to_string()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let aad = header.bytes_labelled(HEADER_LABEL);
        let ciphertext = XChaCha20Poly1305::new(keys.key(direction).into())
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Envelope("encryption failed"))?;
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(SessionEnvelope {
            header,
            sealed: B64.encode(sealed),
        })
    }

    /// Checks kind, freshness, agent and certificate, then decrypts under the key of `direction`.
    /// The caller refuses a nonce it has seen.
    pub fn open<T: DeserializeOwned>(
        &self,
        kind: &str,
        keys: &SessionKeys,
        direction: Direction,
        now: DateTime<Utc>,
    ) -> Result<T> {
        if self.header.kind != kind {
            return Err(Error::Envelope("message kind does not match the route"));
        }
        check_nonce(&self.header.nonce)?;
        check_fresh(self.header.timestamp, now)?;
        keys.check_header(&self.header)?;
        let sealed = B64
            .decode(self.sealed.as_bytes())
            .map_err(|_| Error::Envelope("the sealed body is not base64"))?;
        if sealed.len() < NONCE_BYTES {
            return Err(Error::Envelope("the sealed body is too short"));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let aad = self.header.bytes_labelled(HEADER_LABEL);
        let plaintext = XChaCha20Poly1305::new(keys.key(direction).into())
            .decrypt(
                nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Envelope("message does not decrypt with this key"))?;
        serde_json::from_slice(&plaintext).map_err(|e| Error::Malformed(e.to_string()))
    }
}

/// An agent message in either form: what the server accepts on every enveloped route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyEnvelope {
    /// The signed form (every agent before the session form).
    Signed(Envelope),
    /// The session form.
    Session(SessionEnvelope),
}

impl AnyEnvelope {
    /// The clear header.
    pub fn header(&self) -> &EnvelopeHeader {
        match self {
            AnyEnvelope::Signed(e) => &e.header,
            AnyEnvelope::Session(e) => &e.header,
        }
    }
}

impl Serialize for AnyEnvelope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            AnyEnvelope::Signed(e) => e.serialize(s),
            AnyEnvelope::Session(e) => e.serialize(s),
        }
    }
}

/// Either form's fields, read in one pass (a large upload is not buffered twice).
#[derive(Deserialize)]
struct WireEnvelope {
    header: EnvelopeHeader,
    #[serde(default)]
    sealed: Option<String>,
    #[serde(default)]
    ephemeral: Option<Key32>,
    #[serde(default)]
    ciphertext: Option<String>,
    #[serde(default)]
    signature: Option<String>,
}

impl<'de> Deserialize<'de> for AnyEnvelope {
    fn deserialize<D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<AnyEnvelope, D::Error> {
        use serde::de::Error as _;
        let wire = WireEnvelope::deserialize(d)?;
        match (wire.sealed, wire.ephemeral, wire.ciphertext, wire.signature) {
            (Some(sealed), None, None, None) => Ok(AnyEnvelope::Session(SessionEnvelope {
                header: wire.header,
                sealed,
            })),
            (None, Some(ephemeral), Some(ciphertext), Some(signature)) => {
                Ok(AnyEnvelope::Signed(Envelope {
                    header: wire.header,
                    ephemeral,
                    ciphertext,
                    signature,
                }))
            }
            _ => Err(D::Error::custom(
                "an envelope has either `sealed`, or `ephemeral`, `ciphertext` and `signature`",
            )),
        }
    }
}

#[cfg(test)]
mod tests;
