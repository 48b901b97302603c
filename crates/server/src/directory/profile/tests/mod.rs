//! Tests of match profiles: expressions, matching, explanations, the profile's JSON and checks.

mod anchors;
mod explain;
mod expr;
mod matching;
mod profile;

use super::synthetic::{sid, Record};
use super::Attribute::*;
use super::*;

/// A user with a SID in domain 1 (sources) or 2 (targets) and a sAMAccountName.
fn user(display: &str, domain: u32, rid: u32, sam: &str) -> Record {
    Record::user(display)
        .with_sid(sid(domain, rid))
        .with(SamAccountName, sam)
}

fn rule(source: &str, target: &str) -> MatchRule {
    MatchRule::new(
        Expr::parse(source).expect("test expression"),
        Expr::parse(target).expect("test expression"),
    )
}

fn profile(rules: Vec<MatchRule>, sid_history: bool) -> MatchProfile {
    MatchProfile {
        name: "test".to_string(),
        rules,
        sid_history,
    }
}
