use serde_json::json;

use super::*;
use crate::Error;

fn fields(e: Error) -> Vec<(String, String)> {
    match e {
        Error::Invalid(fields) => fields.into_iter().map(|f| (f.field, f.message)).collect(),
        other => panic!("expected invalid input, got {other}"),
    }
}

#[test]
fn the_json_shape_is_stable_and_defaults_apply() {
    let p = preset("upn-localpart").expect("preset");
    assert_eq!(
        serde_json::to_value(&p).expect("json"),
        json!({
            "name": "upn-localpart",
            "rules": [
                {"applies_to": "users", "source": "localpart(userPrincipalName)",
                 "target": "sAMAccountName", "ignore_case": true},
                {"applies_to": "groups", "source": "sAMAccountName",
                 "target": "sAMAccountName", "ignore_case": true},
            ],
            "sid_history": true,
        })
    );
    let read: MatchProfile = serde_json::from_value(json!({
        "name": " by mail ",
        "rules": [{"source": "Mail", "target": "lower(mail)"}],
    }))
    .expect("valid profile");
    assert_eq!(
        read,
        MatchProfile {
            name: "by mail".to_string(),
            rules: vec![rule("mail", "lower(mail)")],
            sid_history: true,
        }
    );
    for p in presets() {
        let back: MatchProfile =
            serde_json::from_value(serde_json::to_value(&p).expect("json")).expect("preset");
        assert_eq!(back, p);
        assert_eq!(ProfileInput::from(&p).into_profile().expect("preset"), p);
    }
}

#[test]
fn every_bad_expression_is_reported_with_its_field_path() {
    let input: ProfileInput = serde_json::from_value(json!({
        "name": "x",
        "rules": [
            {"source": "mail", "target": "mail"},
            {"source": "lower(mail", "target": "mail"},
            {"source": "mail", "target": "regex(mail, \"(\", \"\")"},
        ],
    }))
    .expect("input shape");
    let found = fields(input.into_profile().unwrap_err());
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].0, "rules[1].source");
    assert!(
        found[0].1.starts_with("at byte 10: expected `)`"),
        "{found:?}"
    );
    assert_eq!(found[1].0, "rules[2].target");
    assert!(
        found[1].1.starts_with("at byte 12: invalid regex"),
        "{found:?}"
    );
    // Deserializing straight into a profile fails with the same paths in the message.
    let e = serde_json::from_value::<MatchProfile>(json!({
        "name": "x", "rules": [{"source": "lower(mail", "target": "mail"}],
    }))
    .unwrap_err();
    assert!(e.to_string().contains("rules[0].source: at byte 10"), "{e}");
}

#[test]
fn a_profile_must_be_named_able_to_match_and_read_attributes() {
    let mut p = profile(vec![rule("\"x\"", "sAMAccountName")], true);
    p.name = "  ".to_string();
    let found = fields(p.validate().unwrap_err());
    let paths: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(paths, ["name", "rules[0].source"]);

    let nothing = profile(vec![], false);
    let found = fields(nothing.validate().unwrap_err());
    assert_eq!(found[0].0, "rules");
    assert!(found[0].1.contains("can match nothing"));
    assert!(profile(vec![], true).validate().is_ok());

    let many = profile(vec![MatchRule::same(Mail); MAX_RULES + 1], true);
    assert_eq!(fields(many.validate().unwrap_err())[0].0, "rules");

    for hidden in ["Sales\u{200B}", "Sa\u{202E}les", "Sales\tHR"] {
        let mut p = profile(vec![], true);
        p.name = hidden.to_string();
        let found = fields(p.validate().unwrap_err());
        assert_eq!(found[0].0, "name", "{hidden:?}");
        assert!(found[0].1.contains("invisible character"), "{found:?}");
    }
    let mut p = profile(vec![], true);
    p.name = "Zürich Büro".to_string();
    assert!(p.validate().is_ok());
}

#[test]
fn the_default_matches_by_sam_account_name_ignoring_case() {
    let p = MatchProfile::default();
    assert_eq!(p.rules, vec![MatchRule::same(SamAccountName)]);
    assert!(p.rules[0].ignore_case && p.rules[0].applies_to == AppliesTo::Both);
    assert_eq!(preset("SAMACCOUNTNAME"), Some(p));
    let names: Vec<String> = presets().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "sAMAccountName",
            "upn",
            "mail",
            "employeeID",
            "upn-localpart",
            "hybrid-anchors"
        ]
    );
    assert!(presets().iter().all(|p| p.validate().is_ok()));
    assert_eq!(preset("nope"), None);
}

#[test]
fn the_attribute_list_is_one_list() {
    for a in Attribute::ALL {
        assert_eq!(Attribute::parse(a.as_str()), Some(a));
        assert_eq!(Attribute::parse(&a.as_str().to_uppercase()), Some(a));
        assert_eq!(
            serde_json::to_value(a).expect("json"),
            json!(a.as_str()),
            "serde and as_str agree"
        );
    }
    assert_eq!(Attribute::parse("objectSid"), Some(Attribute::ObjectSid));
    assert_eq!(Attribute::parse("sIDHistory"), None);
}
