//! A plain [`Attributes`] record, and synthetic source and target directories of any size with a
//! known answer, for tests and the matching benchmark: `directories(n)`, then
//! `match_all(&preset("upn-localpart"), …)`, then compare `Expected::of(&outcomes)`.

use secdesc::Sid;

use super::{Attribute, Attributes, Finding};

/// A user or group with the attributes matching reads, held in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Whether it is a group.
    pub group: bool,
    /// Its display name.
    pub display: String,
    /// Its SID.
    pub sid: Option<Sid>,
    /// Its sIDHistory.
    pub sid_history: Vec<Sid>,
    /// Attribute values, indexed like [`Attribute::ALL`].
    pub values: [Option<String>; Attribute::ALL.len()],
}

fn slot(attribute: Attribute) -> usize {
    Attribute::ALL
        .iter()
        .position(|a| *a == attribute)
        .unwrap_or_default()
}

impl Record {
    /// A user named `display`, with no attributes yet.
    pub fn user(display: &str) -> Record {
        Record {
            display: display.to_string(),
            ..Record::default()
        }
    }

    /// A group named `display`, with no attributes yet.
    pub fn group(display: &str) -> Record {
        Record {
            group: true,
            ..Record::user(display)
        }
    }

    /// The same record with `attribute` set to `value`.
    pub fn with(mut self, attribute: Attribute, value: &str) -> Record {
        self.values[slot(attribute)] = Some(value.to_string());
        self
    }

    /// The same record with this SID.
    pub fn with_sid(mut self, sid: Sid) -> Record {
        self.sid = Some(sid);
        self
    }

    /// The same record with `sid` added to its sIDHistory.
    pub fn with_history(mut self, sid: Sid) -> Record {
        self.sid_history.push(sid);
        self
    }
}

impl Attributes for Record {
    fn attribute(&self, attribute: Attribute) -> Option<&str> {
        self.values[slot(attribute)].as_deref()
    }
    fn sid(&self) -> Option<Sid> {
        self.sid.clone()
    }
    fn sid_history(&self) -> std::borrow::Cow<'_, [Sid]> {
        std::borrow::Cow::Borrowed(&self.sid_history)
    }
    fn is_group(&self) -> bool {
        self.group
    }
    fn display(&self) -> &str {
        &self.display
    }
}

/// A SID `S-1-5-21-{domain}-{domain}-{domain}-{rid}`.
pub fn sid(domain: u32, rid: u32) -> Sid {
    // Five sub-authorities under authority 5 are always a valid SID.
    Sid::new(5, &[21, domain, domain, domain, rid]).unwrap_or_else(|_| unreachable!())
}

/// What [`directories`] built, and so what matching them under
/// `upn-localpart` ([`super::preset`]) must give, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    /// Sources that match exactly one target.
    pub matched: usize,
    /// Sources held back as ambiguous.
    pub ambiguous: usize,
    /// Sources with a key but no target.
    pub unmatched: usize,
    /// Sources with no key at all.
    pub no_value: usize,
}

impl Expected {
    /// The counts of the outcomes [`super::match_all`] gave, to compare with what was built.
    pub fn of(outcomes: &[Finding]) -> Expected {
        let mut counts = Expected::default();
        for outcome in outcomes {
            match outcome {
                Finding::Matched { .. } => counts.matched += 1,
                Finding::Ambiguous { .. } => counts.ambiguous += 1,
                Finding::Unmatched => counts.unmatched += 1,
                Finding::NoValue => counts.no_value += 1,
            }
        }
        counts
    }
}

/// `count` source objects and about as many targets: per 10 sources, five users whose UPN local
/// part is a target's sAMAccountName, one matched by sIDHistory, two sharing one target, one
/// with no target, one group matched by sAMAccountName, and every 100th a user without a UPN.
/// Matched targets are in reverse order, so no result comes from position.
pub fn directories(count: usize) -> (Vec<Record>, Vec<Record>, Expected) {
    let mut sources = Vec::with_capacity(count);
    let mut targets = Vec::with_capacity(count);
    let mut expected = Expected::default();
    for i in 0..count {
        let rid = i as u32 + 1000;
        let name = format!("user{i}");
        let mut source = Record::user(&name).with_sid(sid(1, rid));
        if i % 100 == 99 {
            sources.push(source);
            expected.no_value += 1;
            continue;
        }
        source = source.with(Attribute::UserPrincipalName, &format!("{name}@old.example"));
        match i % 10 {
            0..=4 => {
                targets.push(
                    Record::user(&format!("{name} (new)"))
                        .with_sid(sid(2, rid))
                        .with(Attribute::SamAccountName, &name.to_uppercase()),
                );
                expected.matched += 1;
            }
            5 => {
                targets.push(
                    Record::user(&format!("{name} (moved)"))
                        .with_sid(sid(2, rid))
                        .with(Attribute::SamAccountName, &format!("moved{i}"))
                        .with_history(sid(1, rid)),
                );
                expected.matched += 1;
            }
            6 => {
                // This one and the next both name the same target.
                targets.push(
                    Record::user(&format!("{name} (shared)"))
                        .with_sid(sid(2, rid))
                        .with(Attribute::SamAccountName, &name),
                );
                expected.ambiguous += 1;
            }
            7 => {
                let shared = format!("user{}", i - 1);
                source = source.with(
                    Attribute::UserPrincipalName,
                    &format!("{shared}@old.example"),
                );
                expected.ambiguous += 1;
            }
            8 => expected.unmatched += 1,
            _ => {
                source = Record::group(&format!("group{i}"))
                    .with_sid(sid(1, rid))
                    .with(Attribute::SamAccountName, &format!("group{i}"));
                targets.push(
                    Record::group(&format!("group{i} (new)"))
                        .with_sid(sid(2, rid))
                        .with(Attribute::SamAccountName, &format!("Group{i}")),
                );
                expected.matched += 1;
            }
        }
        sources.push(source);
    }
    targets.reverse();
    (sources, targets, expected)
}
