use std::borrow::Cow;

use super::*;
use crate::directory::profile::expr::MAX_DEPTH;

fn alice() -> Record {
    Record::user("Alice Smith")
        .with(SamAccountName, "ASmith")
        .with(UserPrincipalName, " Alice.Smith@Old.Example ")
        .with(Mail, "alice@sub@old.example")
        .with(GivenName, "Alice")
        .with(Surname, "Smith")
        .with(EmployeeId, "   ")
}

fn eval(text: &str) -> Option<String> {
    let object = alice();
    let expr = Expr::parse(text).expect("test expression");
    let value = expr.evaluate(&object).map(Cow::into_owned);
    value
}

#[test]
fn attributes_are_trimmed_and_blank_ones_have_no_value() {
    assert_eq!(
        eval("userPrincipalName").as_deref(),
        Some("Alice.Smith@Old.Example")
    );
    assert_eq!(eval("employeeID"), None);
    assert_eq!(eval("displayName"), None);
    // Attribute names ignore case.
    assert_eq!(eval("SAMACCOUNTNAME").as_deref(), Some("ASmith"));
    assert_eq!(eval("\"fixed\"").as_deref(), Some("fixed"));
}

#[test]
fn lower_and_upper() {
    assert_eq!(eval("lower(sAMAccountName)").as_deref(), Some("asmith"));
    assert_eq!(eval("upper(sAMAccountName)").as_deref(), Some("ASMITH"));
    assert_eq!(eval("lower(employeeID)"), None);
}

#[test]
fn localpart_and_domain_split_at_the_last_at_sign() {
    assert_eq!(
        eval("localpart(userPrincipalName)").as_deref(),
        Some("Alice.Smith")
    );
    assert_eq!(eval("localpart(mail)").as_deref(), Some("alice@sub"));
    assert_eq!(eval("domain(mail)").as_deref(), Some("old.example"));
    // Without an `@` the whole value is the local part and there is no domain.
    assert_eq!(eval("localpart(sAMAccountName)").as_deref(), Some("ASmith"));
    assert_eq!(eval("domain(sAMAccountName)"), None);
    // A value ending in `@` has an empty domain: no value rather than an empty key.
    assert_eq!(eval("domain(concat(sn, \"@\"))"), None);
}

#[test]
fn replacedomain_keeps_the_local_part() {
    assert_eq!(
        eval("replacedomain(userPrincipalName, \"new.example\")").as_deref(),
        Some("Alice.Smith@new.example")
    );
    assert_eq!(
        eval("replacedomain(sAMAccountName, \"new.example\")").as_deref(),
        Some("ASmith@new.example")
    );
    assert_eq!(eval("replacedomain(employeeID, \"new.example\")"), None);
}

#[test]
fn regex_replaces_every_match_and_leaves_other_values_alone() {
    assert_eq!(
        eval(r#"regex(userPrincipalName, "^(.*)@old\.example$", "$1@new.example")"#),
        Some("Alice.Smith@Old.Example".to_string()),
        "case matters to the pattern unless it says (?i)"
    );
    assert_eq!(
        eval(r#"regex(lower(userPrincipalName), "^(.*)@old\.example$", "$1@new.example")"#)
            .as_deref(),
        Some("alice.smith@new.example")
    );
    assert_eq!(
        eval(r#"regex(sAMAccountName, "[aeiou]", "")"#).as_deref(),
        Some("ASmth")
    );
    assert_eq!(
        eval(r#"regex(sAMAccountName, "(?i)[a-z]", "")"#),
        None,
        "an empty result is no value"
    );
}

#[test]
fn concat_needs_every_part_and_first_takes_the_first_present() {
    assert_eq!(
        eval(r#"concat(lower(givenName), ".", lower(sn))"#).as_deref(),
        Some("alice.smith")
    );
    assert_eq!(eval("concat(givenName, employeeID)"), None);
    assert_eq!(
        eval("first(employeeID, displayName, sAMAccountName, mail)").as_deref(),
        Some("ASmith")
    );
    assert_eq!(eval("first(employeeID, displayName)"), None);
}

#[test]
fn values_passing_through_are_borrowed_not_copied() {
    let object = alice();
    for text in [
        "sAMAccountName",
        "localpart(userPrincipalName)",
        "domain(mail)",
        "lower(\"abc\")",
        "upper(\"ABC\")",
        "regex(sAMAccountName, \"x\", \"y\")",
        "first(employeeID, sn)",
    ] {
        let expr = Expr::parse(text).expect("test expression");
        assert!(
            matches!(expr.evaluate(&object), Some(Cow::Borrowed(_))),
            "{text} allocated"
        );
    }
}

#[test]
fn printing_gives_the_canonical_text_and_parses_back_to_the_same_expression() {
    let cases = [
        ("samaccountname", "sAMAccountName"),
        (
            "  LOWER( localPart (UserPrincipalName ) )",
            "lower(localpart(userPrincipalName))",
        ),
        (
            r#"replaceDomain(mail,"new.example")"#,
            r#"replacedomain(mail, "new.example")"#,
        ),
        (
            r#"regex(dn, "^CN=([^,]+),", "$1")"#,
            r#"regex(dn, "^CN=([^,]+),", "$1")"#,
        ),
        (
            r#"concat(givenName, " \"and\" ", sn)"#,
            r#"concat(givenName, " \"and\" ", sn)"#,
        ),
        (
            r#"first(employeeID, upper(displayName), name)"#,
            r#"first(employeeID, upper(displayName), name)"#,
        ),
        (
            r#"regex(sn, "\d+\\\\", "\\")"#,
            r#"regex(sn, "\d+\\\\", "\\")"#,
        ),
    ];
    for (text, canonical) in cases {
        let expr = Expr::parse(text).expect("test expression");
        assert_eq!(expr.to_string(), canonical);
        assert_eq!(Expr::parse(canonical), Ok(expr));
    }
    // Literals with every awkward mix of backslashes and quotes survive the round trip.
    for literal in ["", "\\", "\\\\", "\"", "\\\"", "a\\d", "a\\\\d\"", "end\\"] {
        let expr = Expr::Concat(vec![
            Expr::Attribute(Name),
            Expr::Literal(literal.to_string()),
        ]);
        assert_eq!(Expr::parse(&expr.to_string()), Ok(expr), "{literal:?}");
    }
}

#[test]
fn expressions_are_json_strings() {
    let expr = Expr::parse("lower(mail)").expect("test expression");
    assert_eq!(
        serde_json::to_value(&expr).expect("json"),
        serde_json::json!("lower(mail)")
    );
    let back: Expr = serde_json::from_value(serde_json::json!("lower(mail)")).expect("json");
    assert_eq!(back, expr);
    let bad = serde_json::from_value::<Expr>(serde_json::json!("lower(mail")).unwrap_err();
    assert!(bad.to_string().contains("at byte 10"), "{bad}");
}

fn error(text: &str) -> ParseError {
    Expr::parse(text).expect_err(text)
}

#[test]
fn parse_errors_give_the_offset_and_what_was_expected() {
    let e = error("lower(mial)");
    assert_eq!(e.offset, 6);
    assert!(e.message.starts_with("unknown attribute `mial`"), "{e}");
    assert!(
        e.message.contains("sAMAccountName, userPrincipalName"),
        "{e}"
    );

    let e = error("lower(mail");
    assert_eq!(
        (e.offset, e.message.as_str()),
        (10, "expected `)` in the arguments of lower, found the end")
    );

    let e = error("lower(mail, sn)");
    assert_eq!(e.offset, 10);
    assert!(e.message.starts_with("expected `)`"), "{e}");

    let e = error("sn sn");
    assert_eq!(e.offset, 3);
    assert!(
        e.message.starts_with("expected the end of the expression"),
        "{e}"
    );

    let e = error("trim(sn)");
    assert_eq!(e.offset, 0);
    assert!(e.message.starts_with("unknown function `trim`"), "{e}");

    let e = error("concat(sn)");
    assert_eq!(e.offset, 9);
    assert!(e.message.contains("at least two"), "{e}");

    let e = error(r#"concat(sn, "open)"#);
    assert_eq!(e.offset, 11);
    assert!(e.message.contains("closing `\"`"), "{e}");

    let e = error("replacedomain(mail, new)");
    assert_eq!(e.offset, 20);
    assert!(e.message.starts_with("expected a \"domain\""), "{e}");

    let e = error(r#"replacedomain(mail, "a@b")"#);
    assert_eq!(e.offset, 20);

    let e = error(r#"regex(mail, "(unclosed", "x")"#);
    assert_eq!(e.offset, 12);
    assert!(e.message.starts_with("invalid regex pattern"), "{e}");

    let e = error(r#"regex(mail, "a")"#);
    assert_eq!(e.offset, 15);
    assert!(e.message.starts_with("expected `,`"), "{e}");

    let e = error("");
    assert_eq!(e.offset, 0);
    assert!(e.message.starts_with("expected an attribute name"), "{e}");

    let e = error(",");
    assert_eq!(e.offset, 0);
    assert!(e.message.ends_with("found `,`"), "{e}");
}

#[test]
fn nesting_and_length_are_bounded() {
    let deep = format!("{}sn{}", "lower(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(Expr::parse(&deep).is_ok());
    let deeper = format!(
        "{}sn{}",
        "lower(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let e = error(&deeper);
    assert_eq!(e.offset, 6 * MAX_DEPTH);
    assert!(e.message.contains("nest"), "{e}");
    let long = format!("\"{}\"", "x".repeat(2000));
    assert!(error(&long).message.contains("limited"));
}
