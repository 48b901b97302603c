use super::*;
use crate::directory::profile::synthetic::directories;

fn matched(target: usize, via: Via) -> Finding {
    Finding::Matched { target, via }
}

fn several(via: Via, candidates: Vec<usize>) -> Finding {
    Finding::Ambiguous {
        via,
        candidate_count: candidates.len(),
        candidates,
        shared: false,
    }
}

fn shared(via: Via, target: usize) -> Finding {
    Finding::Ambiguous {
        via,
        candidates: vec![target],
        candidate_count: 1,
        shared: true,
    }
}

#[test]
fn rules_are_tried_in_order_and_the_first_with_one_candidate_decides() {
    let p = profile(
        vec![
            MatchRule::same(EmployeeId),
            rule("localpart(userPrincipalName)", "sAMAccountName"),
            MatchRule::same(Mail),
        ],
        true,
    );
    let sources = vec![
        // employeeID decides although the UPN points elsewhere.
        user("Ann", 1, 1, "ann")
            .with(EmployeeId, "E1")
            .with(UserPrincipalName, "bob@old.example"),
        // No employeeID: the UPN's local part decides.
        user("Bob", 1, 2, "bob").with(UserPrincipalName, "Bob@old.example"),
        // employeeID has no candidate, the UPN none either: mail decides.
        user("Cy", 1, 3, "cy")
            .with(EmployeeId, "E404")
            .with(UserPrincipalName, "nobody@old.example")
            .with(Mail, "cy@example.com"),
    ];
    let targets = vec![
        user("Bob T", 2, 2, "BOB"),
        user("Ann T", 2, 1, "ann.t").with(EmployeeId, "E1"),
        user("Cy T", 2, 3, "cy.t").with(Mail, "CY@example.com"),
    ];
    assert_eq!(
        match_all(&p, &sources, &targets),
        vec![
            matched(1, Via::Rule(0)),
            matched(0, Via::Rule(1)),
            matched(2, Via::Rule(2)),
        ]
    );
}

#[test]
fn several_candidates_stop_at_that_rule_even_if_a_later_one_would_decide() {
    let p = profile(vec![MatchRule::same(Surname), MatchRule::same(Mail)], false);
    let sources = vec![user("Ann", 1, 1, "ann")
        .with(Surname, "Smith")
        .with(Mail, "ann@example.com")];
    let targets = vec![
        user("Ann Smith", 2, 1, "a").with(Surname, "smith"),
        user("Bo Smith", 2, 2, "b").with(Surname, "SMITH"),
        user("Ann T", 2, 3, "c").with(Mail, "ann@example.com"),
    ];
    assert_eq!(
        match_all(&p, &sources, &targets),
        vec![several(Via::Rule(0), vec![0, 1])]
    );
}

#[test]
fn no_target_is_given_to_two_sources() {
    let p = MatchProfile::default();
    let sources = vec![
        user("Dave", 1, 1, "dave"),
        user("Dave Two", 1, 2, "DAVE"),
        user("Eve", 1, 3, "eve"),
    ];
    let targets = vec![user("Eve T", 2, 3, "eve"), user("Dave T", 2, 1, "dave")];
    assert_eq!(
        match_all(&p, &sources, &targets),
        vec![
            shared(Via::Rule(0), 1),
            shared(Via::Rule(0), 1),
            matched(0, Via::Rule(0)),
        ]
    );
    // Two sources reaching one target by different routes are held back too.
    let sources = vec![
        user("Dave", 1, 1, "dave"),
        user("Old Dave", 1, 9, "olddave"),
    ];
    let targets = vec![user("Dave T", 2, 1, "dave").with_history(sid(1, 9))];
    assert_eq!(
        match_all(&p, &sources, &targets),
        vec![shared(Via::Rule(0), 0), shared(Via::SidHistory, 0)]
    );
}

#[test]
fn sid_history_comes_first_and_is_one_to_one_too() {
    let sources = vec![
        user("Moved", 1, 1, "moved"),
        user("Twice", 1, 2, "twice"),
        user("Plain", 1, 3, "plain"),
    ];
    let targets = vec![
        // Holds Moved's old SID, though its name differs; a name match elsewhere loses.
        user("Moved T", 2, 1, "moved.new").with_history(sid(1, 1)),
        user("Moved by name", 2, 7, "moved"),
        user("Twice A", 2, 2, "a").with_history(sid(1, 2)),
        user("Twice B", 2, 3, "b").with_history(sid(1, 2)),
        user("Plain T", 2, 4, "plain"),
    ];
    let with = profile(vec![MatchRule::same(SamAccountName)], true);
    assert_eq!(
        match_all(&with, &sources, &targets),
        vec![
            matched(0, Via::SidHistory),
            several(Via::SidHistory, vec![2, 3]),
            matched(4, Via::Rule(0)),
        ]
    );
    let without = profile(vec![MatchRule::same(SamAccountName)], false);
    assert_eq!(
        match_all(&without, &sources, &targets),
        vec![
            matched(1, Via::Rule(0)),
            Finding::Unmatched,
            matched(4, Via::Rule(0)),
        ]
    );
}

#[test]
fn users_and_groups_never_match_each_other() {
    let p = profile(vec![MatchRule::same(SamAccountName)], true);
    let sources = vec![
        user("Staff", 1, 1, "staff"),
        Record::group("Staff")
            .with_sid(sid(1, 2))
            .with(SamAccountName, "staff"),
    ];
    // The group target also holds the user's old SID: still not the user's.
    let targets = vec![Record::group("Staff T")
        .with_sid(sid(2, 2))
        .with(SamAccountName, "staff")
        .with_history(sid(1, 1))];
    assert_eq!(
        match_all(&p, &sources, &targets),
        vec![Finding::Unmatched, matched(0, Via::Rule(0))]
    );
    // A rule for users only leaves groups to sIDHistory.
    let users_only = profile(
        vec![MatchRule::same(SamAccountName).only(AppliesTo::Users)],
        true,
    );
    assert_eq!(
        match_all(&users_only, &sources[1..], &targets),
        vec![Finding::Unmatched]
    );
}

#[test]
fn case_is_ignored_unless_the_rule_says_otherwise() {
    let sources = vec![user("Ann", 1, 1, "Ann")];
    let targets = vec![user("ann", 2, 1, "ann"), user("ANN", 2, 2, "ANN")];
    let folded = profile(vec![MatchRule::same(SamAccountName)], false);
    assert_eq!(
        match_all(&folded, &sources, &targets),
        vec![several(Via::Rule(0), vec![0, 1])]
    );
    let exact = profile(
        vec![MatchRule {
            ignore_case: false,
            ..MatchRule::same(SamAccountName)
        }],
        false,
    );
    assert_eq!(
        match_all(&exact, &sources, &targets),
        vec![Finding::Unmatched]
    );
    let exact_targets = vec![user("Ann T", 2, 1, "Ann"), user("ann", 2, 2, "ann")];
    assert_eq!(
        match_all(&exact, &sources, &exact_targets),
        vec![matched(0, Via::Rule(0))]
    );
}

#[test]
fn no_value_is_told_apart_from_no_target() {
    let p = profile(vec![MatchRule::same(Mail)], true);
    let sources = vec![
        user("No mail", 1, 1, "nomail"),
        user("Mail", 1, 2, "mail").with(Mail, "x@example.com"),
    ];
    assert_eq!(
        match_all(&p, &sources, &[user("T", 2, 1, "t")]),
        vec![Finding::NoValue, Finding::Unmatched]
    );
}

#[test]
fn targets_without_a_key_are_never_candidates() {
    // A source whose key is empty never pairs with targets that also lack it.
    let p = profile(vec![rule("domain(sAMAccountName)", "domain(mail)")], false);
    let sources = vec![user("Ann", 1, 1, "ann")];
    let targets = vec![user("T", 2, 1, "t")];
    assert_eq!(match_all(&p, &sources, &targets), vec![Finding::NoValue]);
}

#[test]
fn a_hundred_thousand_objects_match_as_built() {
    let (sources, targets, expected) = directories(100_000);
    let p = preset("upn-localpart").expect("preset");
    let outcomes = match_all(&p, &sources, &targets);
    assert_eq!(outcomes.len(), sources.len());
    let mut counted = synthetic::Expected::default();
    for (source, outcome) in sources.iter().zip(&outcomes) {
        match outcome {
            Finding::Matched { target, .. } => {
                counted.matched += 1;
                let target = &targets[*target];
                assert_eq!(target.group, source.group);
                assert!(
                    target.display.starts_with(&format!("{} (", source.display)),
                    "{} matched {}",
                    source.display,
                    target.display
                );
            }
            Finding::Ambiguous { .. } => counted.ambiguous += 1,
            Finding::Unmatched => counted.unmatched += 1,
            Finding::NoValue => counted.no_value += 1,
        }
    }
    assert_eq!(counted, expected);
    assert_eq!(synthetic::Expected::of(&outcomes), expected);
    assert_eq!(
        (
            expected.matched,
            expected.ambiguous,
            expected.unmatched,
            expected.no_value
        ),
        (69_000, 20_000, 10_000, 1_000)
    );
}
