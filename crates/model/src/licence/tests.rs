use super::*;
use chrono::TimeZone;

fn issued() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

fn licence() -> Licence {
    Licence {
        id: LicenceId::new(),
        customer: "  Contoso Ltd ".into(),
        products: vec![Product::Migration, Product::Sync, Product::Migration],
        source_domains: vec!["Contoso.local.".into(), "contoso.onmicrosoft.com".into()],
        target_domains: vec!["fabrikam.onmicrosoft.com".into(), "FABRIKAM.local".into()],
        devices: 25,
        issued_at: issued(),
        expires_at: issued() + Duration::days(365),
        issuer: Key32([0; 32]),
    }
}

fn issued_text(key: &IssuerKey) -> String {
    issue(key, &licence()).unwrap()
}

#[test]
fn an_issued_licence_verifies_with_its_issuer_normalized() {
    let key = IssuerKey::generate();
    let text = issued_text(&key);
    assert!(text.starts_with("REHOME-LICENCE-1."));
    assert!(!text.contains(' ') && !text.contains('\n'));
    let got = verify(
        &text,
        &[IssuerKey::generate().public(), key.public()],
        issued(),
    )
    .unwrap();
    assert_eq!(got.customer, "Contoso Ltd");
    assert_eq!(got.products, vec![Product::Sync, Product::Migration]);
    assert_eq!(
        got.source_domains,
        vec!["contoso.local", "contoso.onmicrosoft.com"]
    );
    assert_eq!(
        got.target_domains,
        vec!["fabrikam.local", "fabrikam.onmicrosoft.com"]
    );
    assert_eq!((got.devices, got.issuer), (25, key.public()));

    // A line wrapped by a mail program still reads.
    let wrapped = format!("  {}\n{}\r\n", &text[..40], &text[40..]);
    assert_eq!(verify(&wrapped, &[key.public()], issued()).unwrap(), got);
}

#[test]
fn changing_any_byte_of_the_text_is_refused() {
    let key = IssuerKey::generate();
    let text = issued_text(&key);
    let bytes = text.as_bytes();
    for i in 0..bytes.len() {
        for replacement in [b'A', b'x', b'0', b'-', b'.'] {
            if bytes[i] == replacement {
                continue;
            }
            let mut tampered = bytes.to_vec();
            tampered[i] = replacement;
            let tampered = String::from_utf8(tampered).unwrap();
            let result = verify(&tampered, &[key.public()], issued());
            // Damaged text, a changed issuer or a signature that no longer fits: never a
            // licence read as another one (expired, not yet valid, over its limits).
            assert!(
                matches!(
                    result,
                    Err(LicenceError::Malformed(_))
                        | Err(LicenceError::BadSignature)
                        | Err(LicenceError::UntrustedIssuer { .. })
                ),
                "byte {} set to {:?}: {:?}",
                i,
                replacement as char,
                result
            );
        }
    }
    let mut shorter = text.clone();
    shorter.pop();
    for cut in [shorter, format!("{}A", text)] {
        let result = verify(&cut, &[key.public()], issued());
        assert!(
            matches!(
                result,
                Err(LicenceError::Malformed(_)) | Err(LicenceError::BadSignature)
            ),
            "{:?}",
            result
        );
    }
}

#[test]
fn a_changed_payload_with_the_same_issuer_is_a_bad_signature() {
    let key = IssuerKey::generate();
    let text = issued_text(&key);
    let parts: Vec<&str> = text.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
    payload["devices"] = serde_json::json!(100_000);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        B64URL.encode(serde_json::to_vec(&payload).unwrap()),
        parts[2]
    );
    assert_eq!(
        verify(&forged, &[key.public()], issued()),
        Err(LicenceError::BadSignature)
    );
}

#[test]
fn a_licence_from_another_issuer_is_refused_naming_it() {
    let key = IssuerKey::generate();
    let text = issued_text(&key);
    let trusted = IssuerKey::generate();
    assert_eq!(
        verify(&text, &[trusted.public()], issued()),
        Err(LicenceError::UntrustedIssuer {
            issuer: key.public_text()
        })
    );
    assert_eq!(
        verify(&text, &[], issued()),
        Err(LicenceError::UntrustedIssuer {
            issuer: key.public_text()
        }),
        "a server that trusts nobody trusts no licence"
    );

    // Re-signing the payload with another key while keeping the first issuer's name fails too.
    let parts: Vec<&str> = text.split('.').collect();
    let signed = format!("{}.{}", parts[0], parts[1]);
    let forged = format!(
        "{}.{}",
        signed,
        B64URL.encode(trusted.0.sign(signed.as_bytes()).to_bytes())
    );
    assert_eq!(
        verify(&forged, &[key.public()], issued()),
        Err(LicenceError::BadSignature)
    );
}

#[test]
fn garbage_is_malformed() {
    let key = IssuerKey::generate();
    for text in [
        "",
        "hello",
        "REHOME-LICENCE-1",
        "REHOME-LICENCE-1.abc",
        "REHOME-LICENCE-2.abc.def",
        "REHOME-LICENCE-1.!!!.def",
        "REHOME-LICENCE-1.e30.AAAA",
    ] {
        match verify(text, &[key.public()], issued()) {
            Err(LicenceError::Malformed(_)) => {}
            other => panic!("{:?}: {:?}", text, other),
        }
    }
}

#[test]
fn the_apply_window_ends_exactly_thirty_days_after_issue() {
    let key = IssuerKey::generate();
    let text = issued_text(&key);
    let trusted = [key.public()];
    let day_30 = issued() + Duration::days(30);
    assert!(verify(&text, &trusted, day_30).is_ok());
    let late = verify(&text, &trusted, day_30 + Duration::milliseconds(1));
    assert_eq!(
        late,
        Err(LicenceError::NotAppliedInTime {
            issued_at: issued(),
            apply_by: day_30
        })
    );
    let message = late.unwrap_err().to_string();
    assert!(message.contains("2026-04-01 10:00:00 UTC"), "{}", message);
    assert!(message.contains("30 days"), "{}", message);

    // Once applied, the licence keeps counting after the apply window.
    let licence = open(&text, &trusted).unwrap();
    assert!(licence.check_valid(day_30 + Duration::days(100)).is_ok());
}

#[test]
fn a_licence_stops_counting_at_its_expiry_instant() {
    let key = IssuerKey::generate();
    let mut short = licence();
    short.expires_at = issued() + Duration::days(10);
    let text = issue(&key, &short).unwrap();
    let trusted = [key.public()];
    let expiry = short.expires_at;
    let just_before = expiry - Duration::milliseconds(1);
    assert!(verify(&text, &trusted, just_before).is_ok());
    assert_eq!(
        verify(&text, &trusted, expiry),
        Err(LicenceError::Expired { expires_at: expiry })
    );
    let licence = open(&text, &trusted).unwrap();
    assert!(licence.covers(
        Product::Migration,
        "contoso.local",
        "fabrikam.local",
        just_before
    ));
    assert!(!licence.covers(
        Product::Migration,
        "contoso.local",
        "fabrikam.local",
        expiry
    ));
}

#[test]
fn a_licence_issued_in_the_future_is_not_yet_valid() {
    let key = IssuerKey::generate();
    let text = issued_text(&key);
    let trusted = [key.public()];
    let earliest = issued() - Duration::minutes(MAX_CLOCK_SKEW_MINUTES);
    assert!(verify(&text, &trusted, earliest).is_ok());
    assert_eq!(
        verify(&text, &trusted, earliest - Duration::milliseconds(1)),
        Err(LicenceError::NotYetValid {
            issued_at: issued()
        })
    );
}

#[test]
fn covers_needs_the_product_and_both_domains() {
    let key = IssuerKey::generate();
    let mut sync_only = licence();
    sync_only.products = vec![Product::Sync];
    let trusted = [key.public()];
    let full = open(&issued_text(&key), &trusted).unwrap();
    let sync = open(&issue(&key, &sync_only).unwrap(), &trusted).unwrap();
    let now = issued() + Duration::days(1);
    assert!(full.covers(
        Product::Migration,
        "CONTOSO.local",
        "fabrikam.onmicrosoft.com",
        now
    ));
    assert!(!sync.covers(Product::Migration, "contoso.local", "fabrikam.local", now));
    assert!(sync.covers(Product::Sync, "contoso.local", "fabrikam.local", now));
    assert!(!full.covers(Product::Migration, "fabrikam.local", "contoso.local", now));
    assert!(!full.covers(Product::Migration, "contoso.local", "other.local", now));
    assert!(!full.covers(
        Product::Migration,
        "sub.contoso.local",
        "fabrikam.local",
        now
    ));
}

#[test]
fn bad_fields_are_named_and_nothing_is_issued() {
    let key = IssuerKey::generate();
    let mut bad = licence();
    bad.customer = " ".into();
    bad.products.clear();
    bad.source_domains = vec!["contoso".into()];
    bad.target_domains = vec![];
    bad.devices = 0;
    bad.expires_at = bad.issued_at;
    let fields: Vec<String> = match issue(&key, &bad) {
        Err(crate::Error::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("{:?}", other),
    };
    for field in [
        "customer",
        "products",
        "source_domains[0]",
        "target_domains",
        "devices",
        "expires_at",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{} in {:?}",
            field,
            fields
        );
    }
}

#[test]
fn issuer_keys_round_trip_through_their_text_and_hide_their_secret() {
    let key = IssuerKey::generate();
    let again = IssuerKey::from_secret_text(&format!("{}\n", key.to_secret_text())).unwrap();
    assert_eq!(again.public(), key.public());
    assert!(!format!("{:?}", key).contains(&key.to_secret_text()));
    assert_eq!(parse_public_key(&key.public_text()), Ok(key.public()));
    assert_eq!(
        parse_public_key("not base64!"),
        Err("an issuer public key is base64".to_string())
    );
    assert_eq!(
        parse_public_key(&B64.encode([1u8; 16])),
        Err("an issuer public key is 32 bytes".to_string())
    );
    assert!(matches!(
        IssuerKey::from_secret_text("short"),
        Err(LicenceError::Malformed(_))
    ));
}
