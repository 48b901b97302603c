use crate::{Domains, Error, SecurityDescriptor, Sid};

fn domain() -> Sid {
    "S-1-5-21-1004336348-1177238915-682003330".parse().unwrap()
}

fn round_trip(sddl: &str) -> String {
    let d = domain();
    let sd =
        SecurityDescriptor::from_sddl(sddl, Some(&d)).unwrap_or_else(|e| panic!("{}: {}", sddl, e));
    let bytes = sd.to_bytes();
    let back = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(back, sd, "{}", sddl);
    assert_eq!(back.to_bytes(), bytes);
    back.to_sddl(Some(&d))
}

#[test]
fn canonical_windows_strings_come_back_unchanged() {
    for s in [
        "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)",
        "O:S-1-5-21-1004336348-1177238915-682003330-1001G:DUD:AI(A;ID;FA;;;S-1-5-21-1004336348-1177238915-682003330-1001)",
        "D:(A;OICIIO;GXGR;;;BU)(A;;0x1301bf;;;AU)",
        "O:DAG:DAD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;DA)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)",
        "O:BAG:SYD:(D;;FA;;;AN)(A;;KA;;;BA)(A;;KR;;;BU)",
        "D:NO_ACCESS_CONTROL",
        "D:",
        "D:P",
        "O:SYG:SYD:PARAI(A;;FA;;;SY)S:AI(AU;SAFA;FA;;;WD)",
        "S:(ML;;NW;;;HI)",
        "S:(ML;CIOI;NRNWNX;;;LW)",
        "D:(OA;CIIO;RP;4c164200-20c0-11d0-a768-00aa006e0529;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)",
        "D:(A;;;;;WD)",
        "D:(A;0x20;FA;;;WD)",
    ] {
        let expected = s.replace("CIOI", "OICI").replace("NRNWNX", "NWNRNX");
        assert_eq!(round_trip(s), expected);
    }
}

#[test]
fn masks_and_flags_are_normalised_the_way_windows_writes_them() {
    assert_eq!(round_trip("D:(A;;2032127;;;WD)"), "D:(A;;FA;;;WD)");
    assert_eq!(round_trip("D:(A;;0x0;;;WD)"), "D:(A;;;;;WD)");
    assert_eq!(round_trip("D:(A;;0x001F01FF;;;WD)"), "D:(A;;FA;;;WD)");
    assert_eq!(round_trip("D:(A;;010;;;WD)"), "D:(A;;SW;;;WD)"); // octal, as wcstoul reads it
    assert_eq!(round_trip("D:(A;;GRGX;;;WD)"), "D:(A;;GXGR;;;WD)");
    assert_eq!(round_trip("D:(A;;KX;;;WD)"), "D:(A;;KR;;;WD)");
    assert_eq!(
        round_trip("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"),
        "D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)"
    );
    assert_eq!(
        round_trip("D:(A;CIOIIDNP;FR;;;WD)"),
        "D:(A;OICINPID;FR;;;WD)"
    );
}

#[test]
fn domain_relative_aliases_need_a_domain() {
    let err = SecurityDescriptor::from_sddl("O:DAG:DU", None).unwrap_err();
    assert!(matches!(err, Error::Sddl { offset: 2, .. }), "{}", err);
    let sd = SecurityDescriptor::from_sddl("O:S-1-5-21-1-2-3-512", None).unwrap();
    let d: Sid = "S-1-5-21-1-2-3".parse().unwrap();
    assert_eq!(sd.to_sddl(Some(&d)), "O:DA");
    assert_eq!(sd.to_sddl(None), "O:S-1-5-21-1-2-3-512");
    let root: Sid = "S-1-5-21-7-8-9".parse().unwrap();
    let forest = Domains {
        domain: Some(d),
        root_domain: Some(root),
    };
    let sd = SecurityDescriptor::from_sddl_with("O:EAG:DA", &forest).unwrap();
    assert_eq!(sd.owner.unwrap().to_string(), "S-1-5-21-7-8-9-519");
}

#[test]
fn errors_say_where_and_why() {
    let cases: &[(&str, usize, &str)] = &[
        ("X:BA", 0, "expected O:"),
        ("O:ZZ", 2, "unknown SID alias \"ZZ\""),
        ("D:(A;;FA;;;ÄÖ)", 11, "unknown SID alias \"ÄÖ\""),
        ("D:(A;;FA;;;Ä", 11, "unknown SID alias \"Ä\""),
        ("O:BAO:BA", 4, "twice"),
        ("D:(A;;FA;;;WD", 13, "expected ';' or ')'"),
        ("D:(Q;;FA;;;WD)", 3, "unknown ACE type"),
        ("D:(A;XX;FA;;;WD)", 5, "invalid ACE flags"),
        ("D:(A;;FQ;;;WD)", 6, "invalid access rights"),
        ("D:(A;;FA;nope;;WD)", 9, "only object ACEs"),
        ("D:(OA;;FA;nope;;WD)", 10, "invalid GUID"),
        ("D:(A;;FA;;;S-1-x)", 11, "identifier authority"),
        ("D:(A;;FA;;;WDX)", 11, "then ';' or ')'"),
        ("D:(A;;FA;;;WD)junk", 14, "expected an ACE"),
        ("D:NO_ACCESS_CONTROL(A;;FA;;;WD)", 31, "NULL ACL"),
        ("D:(A;;FA;;;WD;x)", 14, "seventh field"),
        ("D:(A;;0x100000000;;;WD)", 6, "invalid access rights"),
    ];
    for (text, offset, why) in cases {
        match SecurityDescriptor::from_sddl(text, None) {
            Err(Error::Sddl { offset: o, reason }) => {
                assert_eq!(
                    (o, reason.contains(why)),
                    (*offset, true),
                    "{}: {} at {}",
                    text,
                    reason,
                    o
                )
            }
            other => panic!("{}: {:?}", text, other),
        }
    }
}

#[test]
fn components_may_come_in_any_order() {
    let a = SecurityDescriptor::from_sddl("D:(A;;FA;;;WD)G:SYO:BA", None).unwrap();
    let b = SecurityDescriptor::from_sddl("O:BAG:SYD:(A;;FA;;;WD)", None).unwrap();
    assert_eq!(a, b);
}

#[test]
fn object_aces_use_the_ds_acl_revision() {
    let sd =
        SecurityDescriptor::from_sddl("D:(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)", None)
            .unwrap();
    assert_eq!(sd.dacl.unwrap().revision, 4);
    let sd = SecurityDescriptor::from_sddl("D:(A;;FA;;;WD)", None).unwrap();
    assert_eq!(sd.dacl.unwrap().revision, 2);
}

#[test]
fn white_space_between_parts_and_before_aces_is_read_as_windows_does_and_written_back_canonically()
{
    for (loose, canonical) in [
        // An Active Directory schema default: a space after D:.
        (
            "D: (A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPLCLORC;;;AU)",
            "D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;LCRPLORC;;;AU)",
        ),
        (
            " O:BA G:SY\tD:PAI (A;;FA;;;SY) (A;;FA;;;BA)\r\n S: (AU;SAFA;FA;;;WD) ",
            "O:BAG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)S:(AU;SAFA;FA;;;WD)",
        ),
        ("D: P AI", "D:PAI"),
        ("  ", ""),
    ] {
        assert_eq!(round_trip(loose), canonical, "{:?}", loose);
    }
    // White space inside an ACE is still refused, with the offset of the fault.
    match SecurityDescriptor::from_sddl("D:(A; ;FA;;;SY)", None) {
        Err(Error::Sddl { offset, .. }) => assert!(offset >= 3, "{}", offset),
        other => panic!("{:?}", other),
    }
    assert!(SecurityDescriptor::from_sddl("D:(A;;FA;;;SY) X", None).is_err());
}
