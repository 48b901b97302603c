use super::*;

fn sid(s: &str) -> Sid {
    s.parse().unwrap()
}

fn map() -> SidMap {
    [
        (
            sid("S-1-5-21-1-2-3-1001"),
            sid("S-1-12-1-1943430372-1249052806-2496021943-3034400218"),
        ),
        (sid("S-1-5-21-1-2-3-513"), sid("S-1-5-21-7-8-9-513")),
    ]
    .into_iter()
    .collect()
}

const USER: &str = "S-1-5-21-1-2-3-1001";
const TARGET: &str = "S-1-12-1-1943430372-1249052806-2496021943-3034400218";

fn descriptor() -> SecurityDescriptor {
    let sddl = format!(
        "O:{u}G:S-1-5-21-1-2-3-513D:PAI(D;;FW;;;{u})(A;OICI;FA;;;SY)(A;OICI;FA;;;{u})(A;OICIID;FA;;;{u})(A;;FR;;;S-1-5-21-1-2-3-513)S:(AU;FA;FA;;;{u})",
        u = USER
    );
    SecurityDescriptor::from_sddl(&sddl, None).unwrap()
}

#[test]
fn replace_rewrites_explicit_aces_and_leaves_inherited_ones() {
    let mut sd = descriptor();
    let options = TranslateOptions {
        mode: TranslateMode::Replace,
        owner_and_group: false,
    };
    let changes = translate(&mut sd, &map(), &options).unwrap();
    assert_eq!(changes.len(), 4);
    assert_eq!(
        sd.to_sddl(None),
        format!(
            "O:{u}G:S-1-5-21-1-2-3-513D:PAI(D;;FW;;;{t})(A;OICI;FA;;;SY)(A;OICI;FA;;;{t})(A;OICIID;FA;;;{u})(A;;FR;;;S-1-5-21-7-8-9-513)S:(AU;FA;FA;;;{t})",
            u = USER,
            t = TARGET
        )
    );
}

#[test]
fn add_puts_the_copy_right_after_its_original() {
    let mut sd = descriptor();
    let changes = translate(&mut sd, &map(), &TranslateOptions::default()).unwrap();
    assert!(changes.iter().all(|c| c.action == Action::Added));
    assert_eq!(
        sd.to_sddl(None),
        format!(
            "O:{u}G:S-1-5-21-1-2-3-513D:PAI(D;;FW;;;{u})(D;;FW;;;{t})(A;OICI;FA;;;SY)(A;OICI;FA;;;{u})(A;OICI;FA;;;{t})(A;OICIID;FA;;;{u})(A;;FR;;;S-1-5-21-1-2-3-513)(A;;FR;;;S-1-5-21-7-8-9-513)S:(AU;FA;FA;;;{u})(AU;FA;FA;;;{t})",
            u = USER,
            t = TARGET
        )
    );
}

#[test]
fn translating_twice_equals_translating_once() {
    for mode in [TranslateMode::Add, TranslateMode::Replace] {
        for owner_and_group in [false, true] {
            let options = TranslateOptions {
                mode,
                owner_and_group,
            };
            let mut once = descriptor();
            translate(&mut once, &map(), &options).unwrap();
            let mut twice = once.clone();
            let again = translate(&mut twice, &map(), &options).unwrap();
            assert_eq!(twice, once, "{:?}", options);
            assert!(
                again.is_empty() || mode == TranslateMode::Add && !owner_and_group,
                "{:?}: {:?}",
                options,
                again
            );
            assert_eq!(again.len(), 0, "{:?}", options);
        }
    }
}

#[test]
fn owner_and_group_change_only_when_asked() {
    let mut sd = descriptor();
    let options = TranslateOptions {
        mode: TranslateMode::Add,
        owner_and_group: true,
    };
    let changes = translate(&mut sd, &map(), &options).unwrap();
    assert_eq!(changes[0].place, Place::Owner);
    assert_eq!(changes[1].place, Place::Group);
    assert_eq!(sd.owner, Some(sid(TARGET)));
    assert_eq!(sd.group, Some(sid("S-1-5-21-7-8-9-513")));
}

#[test]
fn an_acl_that_would_pass_64_kib_is_an_error_and_nothing_changes() {
    // 1,800 distinct ACEs of 36 bytes fit (64,808 bytes); doubled they would not.
    let sddl: String = (0..1800)
        .map(|mask| format!("(A;;{};;;{})", mask, USER))
        .collect();
    let sddl = format!("D:{}", sddl);
    let mut sd = SecurityDescriptor::from_sddl(&sddl, None).unwrap();
    let before = sd.clone();
    let err = translate(&mut sd, &map(), &TranslateOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::AclTooLarge { acl: "DACL", .. }),
        "{}",
        err
    );
    assert_eq!(sd, before);
}

#[test]
fn sid_map_reads_csv_with_a_header() {
    let map =
        SidMap::from_csv("source_sid,target_sid\nS-1-5-21-1-2-3-1001, S-1-5-21-7-8-9-1001\n\n")
            .unwrap();
    assert_eq!(map.get(&sid(USER)), Some(&sid("S-1-5-21-7-8-9-1001")));
    assert!(matches!(
        SidMap::from_csv("S-1-1-0,S-1-1-0"),
        Err(Error::SidMap { line: 1, .. })
    ));
    assert!(matches!(
        SidMap::from_csv("source_sid,target_sid\nS-1-1-0"),
        Err(Error::SidMap { line: 2, .. })
    ));
    assert!(matches!(
        SidMap::from_csv("source_sid,target_sid\nS-1-1-0,S-1-x"),
        Err(Error::SidMap { line: 2, .. })
    ));
}

#[test]
fn sids_lists_owner_group_and_every_trustee() {
    let sd = descriptor();
    let sids: Vec<String> = sd.sids().map(|s| s.to_string()).collect();
    assert_eq!(sids.len(), 8);
    assert_eq!(sids[0], USER);
    assert_eq!(sids[2], USER);
    assert_eq!(sids[3], "S-1-5-18");
}
