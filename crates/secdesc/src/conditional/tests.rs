use crate::{Error, SecurityDescriptor, Sid};

fn round_trip(sddl: &str) -> String {
    let sd =
        SecurityDescriptor::from_sddl(sddl, None).unwrap_or_else(|e| panic!("{}: {}", sddl, e));
    let back = SecurityDescriptor::from_bytes(&sd.to_bytes()).unwrap();
    assert_eq!(back, sd);
    back.to_sddl(None)
}

#[test]
fn windows_conditions_come_back_unchanged() {
    for s in [
        "D:(XA;;FA;;;WD;(Member_of {SID(BA)}))",
        "D:(XA;;FR;;;AU;(@User.Department == \"Sales\"))",
        "D:(XA;;FR;;;AU;((@User.Title == \"PM\") && (@User.Division == \"Finance\")))",
        "D:(XD;;FA;;;WD;((Member_of {SID(BA), SID(S-1-5-21-1-2-3-1001)}) || (!(Exists @Device.Managed))))",
        "D:(XA;;FX;;;WD;(@Resource.Project Any_of {\"a\", \"b\"}))",
        "D:(XA;;FX;;;WD;(@User.clearance >= 0x10))",
        "D:(XA;;FX;;;WD;(@User.level < -5))",
        "D:(XA;;FX;;;WD;(@User.level != +010))",
        "D:(XA;;FX;;;WD;(@User.blob == #0aff))",
        "D:(XA;;FX;;;WD;(Not_Member_of_Any {SID(BU)}))",
        "D:(XA;;FX;;;WD;(@User.dept == @Resource.dept))",
        "D:(XA;;FX;;;WD;(smartcard))",
        "D:(ZA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD;(Device_Member_of {SID(DD)}))",
        "S:(XU;SA;FA;;;WD;(@User.x Not_Contains {1, 2}))",
    ] {
        let domain: Sid = "S-1-5-21-1-2-3".parse().unwrap();
        let sd = SecurityDescriptor::from_sddl(s, Some(&domain)).unwrap_or_else(|e| panic!("{}: {}", s, e));
        assert_eq!(sd.to_sddl(Some(&domain)), s);
        if !s.contains("DD") {
            assert_eq!(round_trip(s), s);
        }
    }
}

#[test]
fn precedence_and_spacing_are_normalised() {
    assert_eq!(
        round_trip("D:(XA;;FA;;;WD;(@User.a==1 || @User.b==2 && @User.c==3))"),
        "D:(XA;;FA;;;WD;((@User.a == 1) || ((@User.b == 2) && (@User.c == 3))))"
    );
}

#[test]
fn binary_form_matches_ms_dtyp() {
    let sd = SecurityDescriptor::from_sddl("D:(XA;;FA;;;WD;(Member_of {SID(BA)}))", None).unwrap();
    let data = &sd.dacl.unwrap().aces[0].data;
    let mut expected = b"artx".to_vec();
    expected.extend_from_slice(&[0x50, 21, 0, 0, 0, 0x51, 16, 0, 0, 0]);
    expected.extend_from_slice(&"S-1-5-32-544".parse::<Sid>().unwrap().to_bytes());
    expected.extend_from_slice(&[0x89, 0]);
    assert_eq!(data, &expected);
    assert_eq!(data.len() % 4, 0);
}

#[test]
fn bad_conditions_are_errors_with_offsets() {
    // (input, byte offset where reading stopped, what the reason says)
    let cases: [(&str, usize, &str); 8] = [
        // The closing parenthesis where a literal should be.
        ("D:(XA;;FA;;;WD;(@User.a ==))", 26, "expected a literal"),
        // The opening quote of the string that never ends.
        (
            "D:(XA;;FA;;;WD;(@User.a == \"x))",
            27,
            "unterminated string",
        ),
        // The alias itself.
        (
            "D:(XA;;FA;;;WD;(Member_of {SID(ZZ)}))",
            31,
            "unknown SID alias \"ZZ\"",
        ),
        // An empty condition: the closing parenthesis.
        ("D:(XA;;FA;;;WD;())", 16, "expected an attribute name"),
        // Just past the number that does not fit.
        (
            "D:(XA;;FA;;;WD;(@User.a == 99999999999999999999))",
            47,
            "invalid number",
        ),
        // Just past the odd hex digits.
        (
            "D:(XA;;FA;;;WD;(@User.a == #abc))",
            31,
            "even number of hex digits",
        ),
        // Found by fuzzing: an operator word read as a local attribute wrote back unreadable.
        (
            "D:(XA;;FR;;;AU;((Member_of_Any== \"inance\")))",
            17,
            "an operator cannot be used",
        ),
        (
            "D:(XA;;FR;;;AU;(exists== 1))",
            16,
            "an operator cannot be used",
        ),
    ];
    for (bad, at, why) in cases {
        match SecurityDescriptor::from_sddl(bad, None) {
            Err(Error::Sddl { offset, reason }) => {
                assert_eq!(offset, at, "{}: {}", bad, reason);
                assert!(reason.contains(why), "{}: {}", bad, reason);
            }
            other => panic!("{}: expected an SDDL error, got {:?}", bad, other),
        }
    }
    let deep = format!("D:(XA;;FA;;;WD;({}a{}))", "(".repeat(100), ")".repeat(100));
    match SecurityDescriptor::from_sddl(&deep, None) {
        Err(Error::Sddl { offset, reason }) => {
            // Refused inside the run of parentheses, before the attribute is reached.
            assert!((16..116).contains(&offset), "{}: {}", offset, reason);
        }
        other => panic!("expected an SDDL error, got {:?}", other),
    }
}

#[test]
fn long_chains_of_one_operator_write_back_flat_and_read_again() {
    // Found by fuzzing: a chain of 70 `||` was written as 70 nested parentheses, deeper than the
    // reader accepts.
    let terms: Vec<String> = (0..70).map(|i| format!("a{}", i)).collect();
    let sddl = format!("D:(XA;;FA;;;WD;({}))", terms.join(" || "));
    let written = round_trip(&sddl);
    assert_eq!(written, sddl);
    // Found by fuzzing: octal zero came back as decimal zero.
    assert_eq!(
        round_trip("D:(XA;;FA;;;WD;(a >= 00))"),
        "D:(XA;;FA;;;WD;(a >= 00))"
    );
    let mixed = "D:(XA;;FA;;;WD;(a || b && c || d))";
    assert_eq!(round_trip(mixed), "D:(XA;;FA;;;WD;(a || (b && c) || d))");
}
