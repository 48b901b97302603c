//! Licences: signed entitlements to use rehome's products for named source and target domains and
//! a number of devices, until an expiry date.
//!
//! A licence travels as one line of text to paste:
//! `REHOME-LICENCE-1.<base64url JSON payload>.<base64url Ed25519 signature>`. The signature covers
//! the prefix and the encoded payload exactly as written, so no byte can change unnoticed. The
//! payload names the issuer's public key; a server accepts a licence only from the issuers it
//! trusts. A licence must be applied within [`APPLY_WITHIN_DAYS`] days of issue; once applied it
//! counts until it expires.

use std::fmt;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::directory::is_dns_name;
use crate::envelope::Key32;
use crate::ids::LicenceId;
use crate::{Result, Validator};

/// What every licence text starts with; the number is the format's version.
pub const PREFIX: &str = "REHOME-LICENCE-1";
/// Days after issue by which a licence must be applied.
pub const APPLY_WITHIN_DAYS: i64 = 30;
/// How far ahead of the server's clock an issuer's clock may be.
pub const MAX_CLOCK_SKEW_MINUTES: i64 = 5;

/// A product a licence grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// Directory synchronisation.
    Sync,
    /// Workstation migration: agents running runbooks.
    Migration,
}

impl Product {
    /// The stable name: `sync` or `migration`.
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Sync => "sync",
            Product::Migration => "migration",
        }
    }

    /// Parses [`Product::as_str`], ignoring case and surrounding spaces.
    pub fn parse(text: &str) -> Option<Product> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sync" => Some(Product::Sync),
            "migration" => Some(Product::Migration),
            _ => None,
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signed entitlement, as issued and as verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    /// Its id, chosen by the issuer.
    pub id: LicenceId,
    /// Who it is for.
    pub customer: String,
    /// What it grants; at least one.
    pub products: Vec<Product>,
    /// AD DNS domains (`contoso.local`) or Entra tenant names (`contoso.onmicrosoft.com`) devices
    /// may come from, lower-case.
    pub source_domains: Vec<String>,
    /// Domains or tenants devices may move to, lower-case.
    pub target_domains: Vec<String>,
    /// How many devices may be migrated under it; at least 1.
    pub devices: u32,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops counting.
    pub expires_at: DateTime<Utc>,
    /// The public key of the issuer that signed it; [`issue`] fills it in.
    pub issuer: Key32,
}

/// Why a licence text was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceError {
    /// Not a licence text at all, or damaged.
    #[error("not a valid licence text ({0}); paste the whole line starting with {PREFIX}")]
    Malformed(String),
    /// Signed by an issuer this server does not trust.
    #[error("the licence is signed by issuer {issuer}, which this server does not trust; start the server with --licence-issuer for that key, or ask for a licence from a trusted issuer")]
    UntrustedIssuer {
        /// The issuer's public key as base64.
        issuer: String,
    },
    /// The signature does not match the content: the text was altered.
    #[error("the licence's signature does not match its content: it was altered or damaged; paste it again exactly as issued")]
    BadSignature,
    /// Issued later than the server's clock allows.
    #[error("the licence is issued at {}, which is still in the future by this server's clock; check the server's clock", when(.issued_at))]
    NotYetValid {
        /// When it was issued.
        issued_at: DateTime<Utc>,
    },
    /// Past its expiry.
    #[error("the licence expired on {}; ask for a renewed licence", when(.expires_at))]
    Expired {
        /// When it expired.
        expires_at: DateTime<Utc>,
    },
    /// Not applied within [`APPLY_WITHIN_DAYS`] days of issue.
    #[error("a licence must be applied within {APPLY_WITHIN_DAYS} days of issue; this one, issued on {}, had to be applied by {}; ask for a new one", when(.issued_at), when(.apply_by))]
    NotAppliedInTime {
        /// When it was issued.
        issued_at: DateTime<Utc>,
        /// The last instant it could have been applied.
        apply_by: DateTime<Utc>,
    },
}

fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Lower-cases a domain and drops surrounding spaces and a trailing dot.
pub fn normalize_domain(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// True for a domain a licence may name: a DNS name of at least two labels, such as
/// `contoso.local` or `contoso.onmicrosoft.com`.
pub fn is_licence_domain(domain: &str) -> bool {
    is_dns_name(domain) && domain.contains('.')
}

impl Licence {
    /// The last instant it may be applied.
    pub fn apply_by(&self) -> DateTime<Utc> {
        self.issued_at + Duration::days(APPLY_WITHIN_DAYS)
    }

    /// Lower-cases the domains, sorts and de-duplicates domains and products, trims the customer.
    pub fn normalize(&mut self) {
        self.customer = self.customer.trim().to_string();
        self.products.sort();
        self.products.dedup();
        for list in [&mut self.source_domains, &mut self.target_domains] {
            for d in list.iter_mut() {
                *d = normalize_domain(d);
            }
            list.sort();
            list.dedup();
        }
    }

    /// Checks the fields, naming each that is wrong.
    pub fn validate(&self) -> Result<()> {
        let mut v = Validator::default();
        let customer = self.customer.trim();
        v.check(
            !customer.is_empty(),
            "customer",
            "a licence names its customer",
        );
        v.check(
            customer.chars().count() <= 200,
            "customer",
            "at most 200 characters",
        );
        v.check(
            !self.products.is_empty(),
            "products",
            "at least one of sync and migration",
        );
        for (field, list) in [
            ("source_domains", &self.source_domains),
            ("target_domains", &self.target_domains),
        ] {
            v.check(
                !list.is_empty(),
                field,
                "at least one domain, such as contoso.local or contoso.onmicrosoft.com",
            );
            for (i, d) in list.iter().enumerate() {
                v.check(
                    is_licence_domain(d) && *d == normalize_domain(d),
                    format!("{}[{}]", field, i),
                    format!(
                        "{:?} is not a lower-case DNS domain such as contoso.local or contoso.onmicrosoft.com",
                        d
                    ),
                );
            }
        }
        v.check(self.devices >= 1, "devices", "at least 1 device");
        v.check(
            self.expires_at > self.issued_at,
            "expires_at",
            "a licence expires after it is issued",
        );
        v.finish()
    }

    /// True while it counts at `now`: issued (allowing for clock skew) and not yet expired.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        now >= self.issued_at - Duration::minutes(MAX_CLOCK_SKEW_MINUTES) && now < self.expires_at
    }

    /// Checks that it counts at `now`: neither issued in the future nor expired.
    pub fn check_valid(&self, now: DateTime<Utc>) -> std::result::Result<(), LicenceError> {
        if now < self.issued_at - Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
            return Err(LicenceError::NotYetValid {
                issued_at: self.issued_at,
            });
        }
        if now >= self.expires_at {
            return Err(LicenceError::Expired {
                expires_at: self.expires_at,
            });
        }
        Ok(())
    }

    /// Checks that it may be applied at `now`: valid, and within [`APPLY_WITHIN_DAYS`] of issue.
    pub fn check_apply(&self, now: DateTime<Utc>) -> std::result::Result<(), LicenceError> {
        self.check_valid(now)?;
        if now > self.apply_by() {
            return Err(LicenceError::NotAppliedInTime {
                issued_at: self.issued_at,
                apply_by: self.apply_by(),
            });
        }
        Ok(())
    }

    /// Whether it names `product`, `source_domain` and `target_domain`, at any time. Domains
    /// compare without regard to case.
    pub fn grants(&self, product: Product, source_domain: &str, target_domain: &str) -> bool {
        let (source, target) = (
            normalize_domain(source_domain),
            normalize_domain(target_domain),
        );
        self.products.contains(&product)
            && self.source_domains.contains(&source)
            && self.target_domains.contains(&target)
    }

    /// Whether it grants `product` for devices moving from `source_domain` to `target_domain` at
    /// `now`.
    pub fn covers(
        &self,
        product: Product,
        source_domain: &str,
        target_domain: &str,
        now: DateTime<Utc>,
    ) -> bool {
        self.grants(product, source_domain, target_domain) && self.is_valid_at(now)
    }
}

/// An issuer's Ed25519 signing key. Its text form is the 32 secret bytes as base64.
#[derive(Clone)]
pub struct IssuerKey(SigningKey);

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IssuerKey {{ public: {}, secret: <hidden> }}",
            self.public_text()
        )
    }
}

impl IssuerKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> IssuerKey {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        IssuerKey(SigningKey::from_bytes(&seed))
    }

    /// The secret key as base64, for the issuer's key file. Keep it private.
    pub fn to_secret_text(&self) -> String {
        B64.encode(self.0.to_bytes())
    }

    /// Reads [`IssuerKey::to_secret_text`]; surrounding white space is ignored.
    pub fn from_secret_text(text: &str) -> std::result::Result<IssuerKey, LicenceError> {
        let bytes = B64
            .decode(text.trim().as_bytes())
            .map_err(|_| LicenceError::Malformed("an issuer key is base64".into()))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| LicenceError::Malformed("an issuer key is 32 bytes".into()))?;
        Ok(IssuerKey(SigningKey::from_bytes(&seed)))
    }

    /// The public key servers trust.
    pub fn public(&self) -> Key32 {
        Key32(self.0.verifying_key().to_bytes())
    }

    /// The public key as base64, the form `--licence-issuer` takes.
    pub fn public_text(&self) -> String {
        public_key_text(&self.public())
    }
}

/// A public key as base64, the way [`Key32`] is written everywhere.
pub fn public_key_text(key: &Key32) -> String {
    B64.encode(key.0)
}

/// Parses a trusted issuer's public key from base64.
pub fn parse_public_key(text: &str) -> std::result::Result<Key32, String> {
    let bytes = B64
        .decode(text.trim().as_bytes())
        .map_err(|_| "an issuer public key is base64".to_string())?;
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an issuer public key is 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&array).map_err(|_| "not an Ed25519 public key".to_string())?;
    Ok(Key32(array))
}

/// Signs `licence` with `key`, after normalizing and validating it, and returns the text to paste.
pub fn issue(key: &IssuerKey, licence: &Licence) -> Result<String> {
    let mut licence = licence.clone();
    licence.normalize();
    licence.issuer = key.public();
    licence.validate()?;
    let payload =
        serde_json::to_vec(&licence).map_err(|e| crate::Error::Malformed(e.to_string()))?;
    let signed = format!("{}.{}", PREFIX, B64URL.encode(payload));
    let signature = key.0.sign(signed.as_bytes()).to_bytes();
    Ok(format!("{}.{}", signed, B64URL.encode(signature)))
}

/// Reads a licence text and checks its signature against `trusted` issuers, without looking at
/// the time. White space anywhere in the text (a line wrapped by a mail program) is ignored.
pub fn open(text: &str, trusted: &[Key32]) -> std::result::Result<Licence, LicenceError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let malformed = |why: &str| LicenceError::Malformed(why.to_string());
    let mut parts = compact.split('.');
    let (prefix, payload, signature) =
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c), None) => (a, b, c),
            _ => return Err(malformed("three parts separated by dots are expected")),
        };
    if prefix != PREFIX {
        return Err(malformed("it does not start with the licence prefix"));
    }
    let payload_bytes = B64URL
        .decode(payload.as_bytes())
        .map_err(|_| malformed("the content is not base64url"))?;
    let signature: [u8; 64] = B64URL
        .decode(signature.as_bytes())
        .map_err(|_| malformed("the signature is not base64url"))?
        .try_into()
        .map_err(|_| malformed("the signature is not 64 bytes"))?;
    let licence: Licence = serde_json::from_slice(&payload_bytes)
        .map_err(|_| malformed("the content is not a licence"))?;
    if !trusted.contains(&licence.issuer) {
        return Err(LicenceError::UntrustedIssuer {
            issuer: public_key_text(&licence.issuer),
        });
    }
    let key = VerifyingKey::from_bytes(&licence.issuer.0)
        .map_err(|_| malformed("the issuer key is not an Ed25519 key"))?;
    let signed_len = prefix.len() + 1 + payload.len();
    key.verify(
        &compact.as_bytes()[..signed_len],
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| LicenceError::BadSignature)?;
    // Signed, so the issuer vouches for it; a licence that still breaks a rule is unusable.
    let mut normalized = licence.clone();
    normalized.normalize();
    if normalized != licence || licence.validate().is_err() {
        return Err(malformed(
            "the issuer signed a licence that breaks the rules",
        ));
    }
    Ok(licence)
}

/// Reads and checks a licence being applied at `now`: the signature is from one of `trusted`,
/// it is valid at `now`, and `now` is within [`APPLY_WITHIN_DAYS`] days of its issue.
pub fn verify(
    text: &str,
    trusted: &[Key32],
    now: DateTime<Utc>,
) -> std::result::Result<Licence, LicenceError> {
    let licence = open(text, trusted)?;
    licence.check_apply(now)?;
    Ok(licence)
}

#[cfg(test)]
mod tests;
