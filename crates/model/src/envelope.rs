//! The application-layer security of agent traffic, so it stays confidential and tamper-proof over
//! plain HTTP or through a TLS-terminating proxy.
//!
//! * First contact is authenticated with the PSK: an HMAC-SHA256 over a purpose label, timestamp,
//!   nonce and body ([`PskSigned`]).
//! * Every later message is an [`Envelope`]: encrypted to the recipient's X25519 key with a fresh
//!   ephemeral key (ChaCha20-Poly1305), and signed with the sender's Ed25519 key over the header and
//!   ciphertext. The header names the agent, the server certificate, the message kind, a timestamp
//!   and a nonce, so a message cannot be replayed, moved to another route or to another agent.
//! * The [session form](SessionEnvelope) keeps the header and drops the per-message key agreement
//!   and signature: a key per agent and server certificate, derived once, seals every message.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::ids::{AgentId, CertificateId};
use crate::{Error, Result};

mod session;
pub use session::{AnyEnvelope, Direction, SessionEnvelope, SessionKeys};

/// How far a message's timestamp may be from the receiver's clock.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// 32 bytes of a public key, written as base64 on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key32(pub [u8; 32]);

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key32({})", B64.encode(self.0))
    }
}

impl Serialize for Key32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Key32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Key32, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = B64
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a key is 32 bytes"))?;
        Ok(Key32(array))
    }
}

/// The public half of a [`KeyPair`]: an Ed25519 verifying key and an X25519 encryption key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeys {
    /// Ed25519 key that checks this party's signatures.
    pub sign: Key32,
    /// X25519 key that messages to this party are encrypted to.
    pub encrypt: Key32,
}

/// A party's secret keys: the server's per agent certificate, or an agent's own.
#[derive(Clone)]
pub struct KeyPair {
    sign: SigningKey,
    encrypt: StaticSecret,
    /// The X25519 public key of `encrypt`, computed once: opening a message needs it, and
    /// computing it is a scalar multiplication.
    encrypt_public: [u8; 32],
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyPair {{ public: {:?}, secret: <hidden> }}",
            self.public()
        )
    }
}

impl KeyPair {
    /// A new random key pair from the operating system's generator.
    pub fn generate() -> KeyPair {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        let sign = SigningKey::from_bytes(&seed);
        OsRng.fill_bytes(&mut seed);
        KeyPair::from_parts(sign, StaticSecret::from(seed))
    }

    fn from_parts(sign: SigningKey, encrypt: StaticSecret) -> KeyPair {
        let encrypt_public = PublicKey::from(&encrypt).to_bytes();
        KeyPair {
            sign,
            encrypt,
            encrypt_public,
        }
    }

    /// The public keys to hand out.
    pub fn public(&self) -> PublicKeys {
        PublicKeys {
            sign: Key32(self.sign.verifying_key().to_bytes()),
            encrypt: Key32(self.encrypt_public),
        }
    }

    /// The 64 secret bytes, for storage encrypted at rest or in an agent's protected state file.
    pub fn to_secret_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.sign.to_bytes());
        out[32..].copy_from_slice(&self.encrypt.to_bytes());
        out
    }

    /// Restores a key pair from [`KeyPair::to_secret_bytes`].
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<KeyPair> {
        if bytes.len() != 64 {
            return Err(Error::Envelope("a stored key pair is 64 bytes"));
        }
        let mut sign = [0u8; 32];
        sign.copy_from_slice(&bytes[..32]);
        let mut encrypt = [0u8; 32];
        encrypt.copy_from_slice(&bytes[32..]);
        Ok(KeyPair::from_parts(
            SigningKey::from_bytes(&sign),
            StaticSecret::from(encrypt),
        ))
    }

    /// Signs `message` with the Ed25519 key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.sign.sign(message).to_bytes()
    }
}

/// Checks an Ed25519 signature made by the owner of `key`.
pub fn verify_signature(key: &Key32, message: &[u8], signature: &[u8]) -> Result<()> {
    let key = VerifyingKey::from_bytes(&key.0).map_err(|_| Error::Envelope("bad signing key"))?;
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| Error::Envelope("a signature is 64 bytes"))?;
    key.verify(message, &Signature::from_bytes(&signature))
        .map_err(|_| Error::Envelope("signature does not verify"))
}

/// A random nonce as URL-safe text (16 random bytes).
pub fn new_nonce() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

fn check_fresh(timestamp: i64, now: DateTime<Utc>) -> Result<()> {
    let skew = (now.timestamp() - timestamp).abs();
    if skew > MAX_CLOCK_SKEW_SECONDS {
        return Err(Error::Envelope("timestamp too far from the server's clock"));
    }
    Ok(())
}

fn check_nonce(nonce: &str) -> Result<()> {
    if nonce.len() < 16 || nonce.len() > 64 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::Envelope("nonce must be 16 to 64 letters or digits"));
    }
    Ok(())
}

type HmacSha256 = Hmac<Sha256>;

/// A body authenticated with a pre-shared key: registration requests and their responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PskSigned {
    /// What the body is, e.g. `register` or `register-response`.
    pub purpose: String,
    /// Seconds since the Unix epoch when it was made.
    pub timestamp: i64,
    /// Random, never reused: replays are refused.
    pub nonce: String,
    /// The JSON body, as text, exactly as authenticated.
    pub body: String,
    /// HMAC-SHA256 over purpose, timestamp, nonce and body, base64.
    pub mac: String,
}

fn psk_mac(psk: &str, purpose: &str, timestamp: i64, nonce: &str, body: &str) -> HmacSha256 {
    // new_from_slice accepts keys of any length for HMAC; this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(psk.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in [purpose, &timestamp.to_string(), nonce, body] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac
}

impl PskSigned {
    /// Authenticates `body` with `psk`.
    pub fn sign<T: Serialize>(
        psk: &str,
        purpose: &str,
        body: &T,
        now: DateTime<Utc>,
        nonce: String,
    ) -> Result<PskSigned> {
        let body = serde_json::to_string(body).map_err(|e| Error::Malformed(e.to_string()))?;
        let timestamp = now.timestamp();
        let mac = psk_mac(psk, purpose, timestamp, &nonce, &body)
            .finalize()
            .into_bytes();
        Ok(PskSigned {
            purpose: purpose.to_string(),
            timestamp,
            nonce,
            body,
            mac: B64.encode(mac),
        })
    }

    /// True when the MAC was made with `psk` (constant time).
    pub fn mac_matches(&self, psk: &str) -> bool {
        match B64.decode(self.mac.as_bytes()) {
            Ok(mac) => psk_mac(psk, &self.purpose, self.timestamp, &self.nonce, &self.body)
                .verify_slice(&mac)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Checks purpose, freshness and MAC, then decodes the body. The caller refuses nonces it has seen.
    pub fn open<T: DeserializeOwned>(
        &self,
        psk: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> Result<T> {
        if self.purpose != purpose {
            return Err(Error::Envelope("message is for another purpose"));
        }
        check_nonce(&self.nonce)?;
        check_fresh(self.timestamp, now)?;
        if !self.mac_matches(psk) {
            return Err(Error::Envelope("pre-shared key does not match"));
        }
        serde_json::from_str(&self.body).map_err(|e| Error::Malformed(e.to_string()))
    }
}

/// The clear header of an [`Envelope`]; authenticated, not secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeHeader {
    /// The agent the conversation belongs to (sender of a request, recipient of a response).
    pub agent: AgentId,
    /// The server's agent certificate used on the server side.
    pub certificate: CertificateId,
    /// The message kind, e.g. `check-in` or `check-in-response`.
    pub kind: String,
    /// Seconds since the Unix epoch.
    pub timestamp: i64,
    /// Random; a response repeats its request's nonce so the two are bound.
    pub nonce: String,
}

impl EnvelopeHeader {
    fn bytes(&self) -> Vec<u8> {
        self.bytes_labelled("rehome-envelope-v1")
    }

    /// The header as authenticated bytes, after the label of the envelope's form.
    fn bytes_labelled(&self, label: &str) -> Vec<u8> {
        // The ids as their hyphenated text and the timestamp in decimal, written on the stack:
        // every message is sealed or opened with these bytes.
        let (mut agent, mut certificate) =
            (uuid::Uuid::encode_buffer(), uuid::Uuid::encode_buffer());
        let mut timestamp = [0u8; 24];
        let timestamp = {
            let mut cursor = std::io::Cursor::new(&mut timestamp[..]);
            // 24 bytes hold any i64 in decimal.
            let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{}", self.timestamp));
            let written = cursor.position() as usize;
            std::str::from_utf8(&timestamp[..written]).unwrap_or_default()
        };
        let mut out = Vec::with_capacity(160);
        for part in [
            label,
            &*self.agent.0.hyphenated().encode_lower(&mut agent),
            &*self
                .certificate
                .0
                .hyphenated()
                .encode_lower(&mut certificate),
            &self.kind,
            timestamp,
            &self.nonce,
        ] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }

    /// When it was sent.
    pub fn sent_at(&self) -> Option<DateTime<Utc>> {
        Utc.timestamp_opt(self.timestamp, 0).single()
    }
}

/// A signed and encrypted message between an agent and the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Who, what, when.
    pub header: EnvelopeHeader,
    /// The sender's one-time X25519 public key.
    pub ephemeral: Key32,
    /// ChaCha20-Poly1305 ciphertext of the JSON body, base64.
    pub ciphertext: String,
    /// Ed25519 signature of the sender over header, ephemeral key and ciphertext, base64.
    pub signature: String,
}

fn message_key(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &[u8; 32]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"rehome-envelope-key-v1");
    hash.update(shared);
    hash.update(ephemeral);
    hash.update(recipient);
    hash.finalize().into()
}

fn signed_bytes(header: &[u8], ephemeral: &Key32, ciphertext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + 32 + ciphertext.len());
    out.extend_from_slice(header);
    out.extend_from_slice(&ephemeral.0);
    out.extend_from_slice(ciphertext);
    out
}

// Each message has its own ephemeral key and so its own symmetric key: a fixed AEAD nonce is safe.
const AEAD_NONCE: [u8; 12] = [0u8; 12];

impl Envelope {
    /// Encrypts `body` to `recipient` and signs it with `sender`.
    pub fn seal<T: Serialize>(
        header: EnvelopeHeader,
        body: &T,
        sender: &KeyPair,
        recipient: &PublicKeys,
    ) -> Result<Envelope> {
        let plaintext = serde_json::to_vec(body).map_err(|e| Error::Malformed(e.to_string()))?;
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        let ephemeral_secret = StaticSecret::from(seed);
        let ephemeral = Key32(PublicKey::from(&ephemeral_secret).to_bytes());
        let shared = ephemeral_secret.diffie_hellman(&PublicKey::from(recipient.encrypt.0));
        let key = message_key(shared.as_bytes(), &ephemeral.0, &recipient.encrypt.0);
        let header_bytes = header.bytes();
        let ciphertext = ChaCha20Poly1305::new((&key).into())
            .encrypt(
                (&AEAD_NONCE).into(),
                Payload {
                    msg: &plaintext,
                    aad: &header_bytes,
                },
            )
            .map_err(|_| Error::Envelope("encryption failed"))?;
        let signature = sender.sign(&signed_bytes(&header_bytes, &ephemeral, &ciphertext));
        Ok(Envelope {
            header,
            ephemeral,
            ciphertext: B64.encode(ciphertext),
            signature: B64.encode(signature),
        })
    }

    /// Checks kind, freshness and the sender's signature, then decrypts with `recipient`.
    /// The caller checks that the header's agent and certificate are the ones it expects and that
    /// the nonce is new.
    pub fn open<T: DeserializeOwned>(
        &self,
        kind: &str,
        sender: &PublicKeys,
        recipient: &KeyPair,
        now: DateTime<Utc>,
    ) -> Result<T> {
        if self.header.kind != kind {
            return Err(Error::Envelope("message kind does not match the route"));
        }
        check_nonce(&self.header.nonce)?;
        check_fresh(self.header.timestamp, now)?;
        let ciphertext = B64
            .decode(self.ciphertext.as_bytes())
            .map_err(|_| Error::Envelope("ciphertext is not base64"))?;
        let signature = B64
            .decode(self.signature.as_bytes())
            .map_err(|_| Error::Envelope("signature is not base64"))?;
        let header_bytes = self.header.bytes();
        verify_signature(
            &sender.sign,
            &signed_bytes(&header_bytes, &self.ephemeral, &ciphertext),
            &signature,
        )?;
        let shared = recipient
            .encrypt
            .diffie_hellman(&PublicKey::from(self.ephemeral.0));
        let key = message_key(
            shared.as_bytes(),
            &self.ephemeral.0,
            &recipient.encrypt_public,
        );
        let plaintext = ChaCha20Poly1305::new((&key).into())
            .decrypt(
                (&AEAD_NONCE).into(),
                Payload {
                    msg: &ciphertext,
                    aad: &header_bytes,
                },
            )
            .map_err(|_| Error::Envelope("message does not decrypt with this key"))?;
        serde_json::from_slice(&plaintext).map_err(|e| Error::Malformed(e.to_string()))
    }
}

/// A certificate the server issues to an agent at registration: the agent's public keys, signed
/// by the server's current agent certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCertificate {
    /// The agent.
    pub agent: AgentId,
    /// The computer name it registered with.
    pub computer_name: String,
    /// Its public keys.
    pub keys: PublicKeys,
    /// The server certificate that signed it.
    pub issuer: CertificateId,
    /// Issued at, seconds since the Unix epoch.
    pub not_before: i64,
    /// Expires at, seconds since the Unix epoch.
    pub not_after: i64,
    /// Ed25519 signature of the issuer over the fields above, base64.
    pub signature: String,
}

impl AgentCertificate {
    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = b"rehome-agent-certificate-v1".to_vec();
        for part in [
            self.agent.to_string(),
            self.computer_name.clone(),
            B64.encode(self.keys.sign.0),
            B64.encode(self.keys.encrypt.0),
            self.issuer.to_string(),
            self.not_before.to_string(),
            self.not_after.to_string(),
        ] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }

    /// Issues a certificate for `keys`, signed by `issuer_keys`, valid for `valid_for` from `now`.
    #[allow(clippy::too_many_arguments)]
    pub fn issue(
        agent: AgentId,
        computer_name: &str,
        keys: PublicKeys,
        issuer: CertificateId,
        issuer_keys: &KeyPair,
        now: DateTime<Utc>,
        valid_for: Duration,
    ) -> AgentCertificate {
        let mut cert = AgentCertificate {
            agent,
            computer_name: computer_name.to_string(),
            keys,
            issuer,
            not_before: now.timestamp(),
            not_after: (now + valid_for).timestamp(),
            signature: String::new(),
        };
        cert.signature = B64.encode(issuer_keys.sign(&cert.signed_bytes()));
        cert
    }

    /// Checks the issuer's signature and the validity period at `now`.
    pub fn verify(&self, issuer: &PublicKeys, now: DateTime<Utc>) -> Result<()> {
        let signature = B64
            .decode(self.signature.as_bytes())
            .map_err(|_| Error::Envelope("certificate signature is not base64"))?;
        verify_signature(&issuer.sign, &self.signed_bytes(), &signature)?;
        let t = now.timestamp();
        if t < self.not_before || t > self.not_after {
            return Err(Error::Envelope("certificate is not valid at this time"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
