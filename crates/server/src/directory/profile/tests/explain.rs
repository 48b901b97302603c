use serde_json::json;

use super::*;

fn two_rules() -> MatchProfile {
    profile(
        vec![
            MatchRule::same(EmployeeId).only(AppliesTo::Users),
            MatchRule::same(SamAccountName),
            MatchRule::same(Mail).only(AppliesTo::Groups),
        ],
        true,
    )
}

fn verdicts(e: &Explanation) -> Vec<Verdict> {
    e.steps.iter().map(|s| s.verdict.clone()).collect()
}

#[test]
fn a_match_shows_the_deciding_step_and_skips_the_rest() {
    let sources = vec![user("Ann", 1, 1, "ann")];
    let targets = vec![user("Ann T", 2, 1, "ANN"), user("Other", 2, 2, "other")];
    let e = explain(&two_rules(), &sources, 0, &targets);
    assert_eq!(e.target.as_deref(), Some("Ann T"));
    assert_eq!(
        verdicts(&e),
        vec![
            Verdict::NoCandidate,
            Verdict::NoValue,
            Verdict::Matched,
            Verdict::OtherKind,
        ]
    );
    assert_eq!(e.steps[0].value.as_deref(), Some("S-1-5-21-1-1-1-1"));
    assert_eq!(
        e.steps[1].no_value.as_deref(),
        Some("attribute employeeID is empty")
    );
    assert_eq!(e.steps[2].value.as_deref(), Some("ann"));
    assert_eq!(e.steps[2].candidates, ["Ann T"]);
    let text = e.to_string();
    assert_eq!(
        text,
        "Ann (user) under profile test: matched to Ann T by rules[1]\n\
         \x20 sIDHistory: objectSid -> sIDHistory\n\
         \x20   value: \"S-1-5-21-1-1-1-1\"\n\
         \x20   candidates: none\n\
         \x20   verdict: no candidate\n\
         \x20 rules[0]: employeeID -> employeeID (ignoring case)\n\
         \x20   no value: attribute employeeID is empty\n\
         \x20   verdict: no value\n\
         \x20 rules[1]: sAMAccountName -> sAMAccountName (ignoring case)\n\
         \x20   value: \"ann\"\n\
         \x20   candidates (1): Ann T\n\
         \x20   verdict: matched\n\
         \x20 rules[2]: mail -> mail (ignoring case)\n\
         \x20   verdict: not applied: the rule is for the other kind\n"
    );
}

#[test]
fn an_early_decision_marks_later_rules_skipped() {
    let sources = vec![user("Moved", 1, 1, "moved")];
    let targets = vec![
        user("Moved T", 2, 1, "m2").with_history(sid(1, 1)),
        user("Namesake", 2, 2, "moved"),
    ];
    let e = explain(&two_rules(), &sources, 0, &targets);
    let skipped = Verdict::Skipped {
        decided_by: Via::SidHistory,
    };
    assert_eq!(
        verdicts(&e),
        vec![
            Verdict::Matched,
            Verdict::NoValue,
            skipped,
            Verdict::OtherKind
        ]
    );
    // The skipped rule still shows what it would have found.
    assert_eq!(e.steps[2].candidates, ["Namesake"]);
    assert!(e
        .to_string()
        .contains("verdict: skipped: sIDHistory decided\n"));
}

#[test]
fn several_candidates_are_listed_up_to_ten_with_a_count() {
    let sources = vec![user("Sam", 1, 1, "sam")];
    let targets: Vec<Record> = (0..12)
        .map(|i| user(&format!("Sam {i}"), 2, i, "SAM"))
        .collect();
    let e = explain(&two_rules(), &sources, 0, &targets);
    assert_eq!(e.steps[2].verdict, Verdict::SeveralCandidates);
    assert_eq!(e.steps[2].candidate_count, 12);
    assert_eq!(e.steps[2].candidates.len(), 10);
    let text = e.to_string();
    assert!(
        text.starts_with(
            "Sam (user) under profile test: not matched: 12 candidates under rules[1]\n"
        ),
        "{text}"
    );
    assert!(text.contains("candidates (12): Sam 0, Sam 1,"), "{text}");
    assert!(text.contains("Sam 9 and 2 more\n"), "{text}");
}

#[test]
fn a_shared_target_names_the_other_source() {
    let sources = vec![user("Dave", 1, 1, "dave"), user("Dave Two", 1, 2, "DAVE")];
    let targets = vec![user("Dave T", 2, 1, "dave")];
    let e = explain(&two_rules(), &sources, 1, &targets);
    assert_eq!(
        e.steps[2].verdict,
        Verdict::TakenByAnother {
            sources: vec!["Dave".to_string()],
            count: 1
        }
    );
    let text = e.to_string();
    assert!(text.contains("is claimed by another source too"), "{text}");
    assert!(
        text.contains("verdict: the candidate is also claimed by Dave, so neither gets it"),
        "{text}"
    );
    let value = serde_json::to_value(&e).expect("json");
    assert_eq!(
        value["steps"][2],
        json!({
            "step": {"rule": 1},
            "source_expr": "sAMAccountName",
            "value": "dave",
            "no_value": null,
            "target_expr": "sAMAccountName",
            "ignore_case": true,
            "candidates": ["Dave T"],
            "candidate_count": 1,
            "verdict": "taken_by_another",
            "sources": ["Dave"],
            "count": 1,
        })
    );
    assert_eq!(value["outcome"]["outcome"], json!("ambiguous"));
    assert_eq!(value["steps"][0]["step"], json!("sid_history"));
}

#[test]
fn unmatched_and_no_value_say_why() {
    let p = profile(vec![rule("first(mail, employeeID)", "mail")], true);
    let sources = vec![
        Record::user("Nobody"),
        Record::user("Lost").with(Mail, "lost@example.com"),
    ];
    let targets = vec![Record::user("T").with(Mail, "t@example.com")];
    let e = explain(&p, &sources, 0, &targets);
    assert_eq!(e.outcome, Finding::NoValue);
    assert_eq!(verdicts(&e), vec![Verdict::NoValue, Verdict::NoValue]);
    assert_eq!(
        e.steps[0].no_value.as_deref(),
        Some("the source has no SID")
    );
    assert_eq!(
        e.steps[1].no_value.as_deref(),
        Some("attributes mail, employeeID are empty")
    );
    assert!(e.to_string().starts_with(
        "Nobody (user) under profile test: not matched: no rule has a value for it\n"
    ));
    let p = MatchProfile {
        sid_history: false,
        ..p
    };
    let e = explain(&p, &sources, 1, &targets);
    assert_eq!(e.outcome, Finding::Unmatched);
    assert_eq!(verdicts(&e), vec![Verdict::Off, Verdict::NoCandidate]);
    let text = e.to_string();
    assert!(text.contains("verdict: off in this profile\n"), "{text}");
    assert!(
        text.contains("candidates: none\n    verdict: no candidate\n"),
        "{text}"
    );
}

#[test]
fn a_match_without_both_sids_is_explained_as_not_translated_as_a_run_leaves_it() {
    let sources = vec![
        user("Ann", 1, 1, "ann"),
        Record::user("Bob").with(SamAccountName, "bob"),
    ];
    let mut no_sid = user("Ann T", 2, 1, "ANN");
    no_sid.sid = None;
    let targets = vec![no_sid, user("Bob T", 2, 2, "bob")];
    let ann = explain(&two_rules(), &sources, 0, &targets);
    assert_eq!(ann.target.as_deref(), Some("Ann T"));
    assert_eq!(
        ann.not_translated.as_deref(),
        Some("the target has no SID to translate to")
    );
    assert!(
        ann.to_string().starts_with(
            "Ann (user) under profile test: matched to Ann T by rules[1], but not translated: \
             the target has no SID to translate to; a match run leaves it unmatched\n"
        ),
        "{ann}"
    );
    let bob = explain(&two_rules(), &sources, 1, &targets);
    assert_eq!(bob.target.as_deref(), Some("Bob T"));
    assert!(bob
        .not_translated
        .as_deref()
        .is_some_and(|why| why.starts_with("the source has no SID")));
    let with_sid = vec![user("Ann T", 2, 1, "ANN")];
    let translated = explain(&two_rules(), &sources[..1], 0, &with_sid);
    assert_eq!(translated.target.as_deref(), Some("Ann T"));
    assert_eq!(translated.not_translated, None);
}
