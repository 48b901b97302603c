//! Why a source object matched or did not: every step of the profile with the values it computed,
//! the candidates it found and its verdict. Readable text for the CLI, JSON for the API.

use std::fmt;

use serde::Serialize;

use super::engine::{key, Finding, Matcher, Via, KEPT_CANDIDATES};
use super::{Attributes, MatchProfile};

/// How many other claimants of a target an explanation names.
const NAMED_CLAIMANTS: usize = 10;

/// The verdict of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// This step paired the source with its one candidate.
    Matched,
    /// The source has a value, but no target of its kind has the same.
    NoCandidate,
    /// The source has no value here (see `no_value`).
    NoValue,
    /// Several targets fit, so none was chosen.
    SeveralCandidates,
    /// The one candidate is claimed by other sources too, so none of them gets it.
    TakenByAnother {
        /// The first few other sources claiming it.
        sources: Vec<String>,
        /// How many other sources claim it.
        count: usize,
    },
    /// An earlier step decided already.
    Skipped {
        /// The step that decided.
        decided_by: Via,
    },
    /// The rule is for the other kind of object (users or groups).
    OtherKind,
    /// sIDHistory matching is turned off in the profile.
    Off,
}

/// One step: sIDHistory or a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `sIDHistory` or `rules[i]`.
    pub step: Via,
    /// What is read from the source.
    pub source_expr: String,
    /// The source's key, as compared (case folded when the rule ignores case).
    pub value: Option<String>,
    /// Why there is no value.
    pub no_value: Option<String>,
    /// What is read from each target.
    pub target_expr: String,
    /// Whether keys are compared ignoring case.
    pub ignore_case: bool,
    /// The display names of the first candidates.
    pub candidates: Vec<String>,
    /// How many candidates there are.
    pub candidate_count: usize,
    /// What this step concluded.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Why one source object matched or did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The source's display name.
    pub source: String,
    /// `user` or `group`.
    pub kind: &'static str,
    /// The profile's name.
    pub profile: String,
    /// The outcome, as [`super::match_all`] gives it.
    pub outcome: Finding,
    /// The display name of the target it matched.
    pub target: Option<String>,
    /// Why a match makes no translation row, when it does not: the source or the target has no
    /// SID, so a device has nothing to translate, and a match run counts the source unmatched.
    pub not_translated: Option<String>,
    /// sIDHistory, then every rule in order.
    pub steps: Vec<Step>,
}

/// Explains the outcome of `sources[index]` (matching every source, since whether a target is
/// taken by another source depends on them all).
///
/// # Panics
/// When `index` is out of range.
pub fn explain<S: Attributes, T: Attributes>(
    profile: &MatchProfile,
    sources: &[S],
    index: usize,
    targets: &[T],
) -> Explanation {
    let matcher = Matcher::new(profile, targets);
    let outcomes = matcher.match_all(sources);
    matcher.explain(sources, &outcomes, index)
}

fn names<T: Attributes>(targets: &[T], found: &[u32]) -> Vec<String> {
    found
        .iter()
        .take(KEPT_CANDIDATES)
        .map(|&i| targets[i as usize].display().to_string())
        .collect()
}

impl<T: Attributes> Matcher<'_, T> {
    /// Explains `outcomes[index]`, which [`Matcher::match_all`] gave for `sources`.
    ///
    /// # Panics
    /// When `index` is out of range of `sources` or `outcomes`.
    pub fn explain<S: Attributes>(
        &self,
        sources: &[S],
        outcomes: &[Finding],
        index: usize,
    ) -> Explanation {
        let source = &sources[index];
        let outcome = &outcomes[index];
        let group = source.is_group();
        let decided = match outcome {
            Finding::Matched { via, .. } | Finding::Ambiguous { via, .. } => Some(*via),
            Finding::Unmatched | Finding::NoValue => None,
        };
        let verdict_at = |step: Via, found: usize| -> Verdict {
            match decided {
                Some(d) if step == d => match outcome {
                    Finding::Ambiguous {
                        shared: true,
                        candidates,
                        ..
                    } => self.claimants(sources, outcomes, index, candidates[0]),
                    Finding::Ambiguous { .. } => Verdict::SeveralCandidates,
                    _ => Verdict::Matched,
                },
                Some(d) if order(step) > order(d) => Verdict::Skipped { decided_by: d },
                _ if found == 0 => Verdict::NoCandidate,
                _ => Verdict::SeveralCandidates,
            }
        };
        let mut steps = Vec::with_capacity(self.profile.rules.len() + 1);
        let sid = source.sid().filter(|_| self.profile.sid_history);
        let found = match &sid {
            Some(sid) => self.by_sid_history(group, sid),
            None => &[],
        };
        steps.push(Step {
            step: Via::SidHistory,
            source_expr: "objectSid".to_string(),
            value: sid.as_ref().map(ToString::to_string),
            no_value: (self.profile.sid_history && sid.is_none())
                .then(|| "the source has no SID".to_string()),
            target_expr: "sIDHistory".to_string(),
            ignore_case: false,
            candidates: names(self.targets, found),
            candidate_count: found.len(),
            verdict: match sid {
                _ if !self.profile.sid_history => Verdict::Off,
                None => Verdict::NoValue,
                Some(_) => verdict_at(Via::SidHistory, found.len()),
            },
        });
        for (i, rule) in self.profile.rules.iter().enumerate() {
            let covered = rule.applies_to.covers(group);
            let value = key(&rule.source, source, rule.ignore_case).filter(|_| covered);
            let found = match &value {
                Some(k) if covered => self.by_key(i, group, k),
                _ => &[],
            };
            let no_value = (covered && value.is_none()).then(|| {
                match rule.source.missing_attributes(source).as_slice() {
                    [] => "the expression gives an empty value".to_string(),
                    [one] => format!("attribute {} is empty", one.as_str()),
                    many => format!(
                        "attributes {} are empty",
                        many.iter()
                            .map(|a| a.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            });
            let verdict = if !covered {
                Verdict::OtherKind
            } else if value.is_none() {
                Verdict::NoValue
            } else {
                verdict_at(Via::Rule(i), found.len())
            };
            steps.push(Step {
                step: Via::Rule(i),
                source_expr: rule.source.to_string(),
                value: value.map(|v| v.into_owned()),
                no_value,
                target_expr: rule.target.to_string(),
                ignore_case: rule.ignore_case,
                candidates: names(self.targets, found),
                candidate_count: found.len(),
                verdict,
            });
        }
        Explanation {
            source: source.display().to_string(),
            kind: if group { "group" } else { "user" },
            profile: self.profile.name.clone(),
            outcome: outcome.clone(),
            target: match outcome {
                Finding::Matched { target, .. } => {
                    Some(self.targets[*target].display().to_string())
                }
                _ => None,
            },
            // As a match run decides (`matching.rs`): a row needs both SIDs.
            not_translated: match outcome {
                Finding::Matched { target, .. } => {
                    match (source.sid(), self.targets[*target].sid()) {
                        (Some(_), Some(_)) => None,
                        (None, _) => Some(
                            "the source has no SID, so there is nothing to translate on a device"
                                .to_string(),
                        ),
                        (Some(_), None) => {
                            Some("the target has no SID to translate to".to_string())
                        }
                    }
                }
                _ => None,
            },
            steps,
        }
    }

    /// The verdict naming the other sources that claim `target`.
    fn claimants<S: Attributes>(
        &self,
        sources: &[S],
        outcomes: &[Finding],
        index: usize,
        target: usize,
    ) -> Verdict {
        let others: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .filter(|&(j, o)| {
                j != index
                    && matches!(o, Finding::Ambiguous { shared: true, candidates, .. }
                        if candidates.first() == Some(&target))
            })
            .map(|(j, _)| j)
            .collect();
        Verdict::TakenByAnother {
            sources: others
                .iter()
                .take(NAMED_CLAIMANTS)
                .map(|&j| sources[j].display().to_string())
                .collect(),
            count: others.len(),
        }
    }
}

fn order(via: Via) -> usize {
    match via {
        Via::SidHistory => 0,
        Via::Rule(i) => i + 1,
    }
}

fn list(f: &mut fmt::Formatter<'_>, names: &[String], count: usize) -> fmt::Result {
    f.write_str(&names.join(", "))?;
    if count > names.len() {
        write!(f, " and {} more", count - names.len())?;
    }
    Ok(())
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Matched => f.write_str("matched"),
            Verdict::NoCandidate => f.write_str("no candidate"),
            Verdict::NoValue => f.write_str("no value"),
            Verdict::SeveralCandidates => f.write_str("several candidates, none chosen"),
            Verdict::TakenByAnother { sources, count } => {
                f.write_str("the candidate is also claimed by ")?;
                list(f, sources, *count)?;
                f.write_str(", so neither gets it")
            }
            Verdict::Skipped { decided_by } => write!(f, "skipped: {decided_by} decided"),
            Verdict::OtherKind => f.write_str("not applied: the rule is for the other kind"),
            Verdict::Off => f.write_str("off in this profile"),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) under profile {}: ",
            self.source, self.kind, self.profile
        )?;
        match &self.outcome {
            Finding::Matched { via, .. } => {
                write!(
                    f,
                    "matched to {} by {via}",
                    self.target.as_deref().unwrap_or("?")
                )?;
                if let Some(why) = &self.not_translated {
                    write!(
                        f,
                        ", but not translated: {why}; a match run leaves it unmatched"
                    )?;
                }
            }
            Finding::Unmatched => f.write_str("not matched: no target fits")?,
            Finding::NoValue => f.write_str("not matched: no rule has a value for it")?,
            Finding::Ambiguous {
                via, shared: true, ..
            } => write!(
                f,
                "not matched: its one candidate under {via} is claimed by another source too"
            )?,
            Finding::Ambiguous {
                via,
                candidate_count,
                ..
            } => write!(f, "not matched: {candidate_count} candidates under {via}")?,
        }
        writeln!(f)?;
        for step in &self.steps {
            write!(
                f,
                "  {}: {} -> {}",
                step.step, step.source_expr, step.target_expr
            )?;
            if step.ignore_case {
                f.write_str(" (ignoring case)")?;
            }
            writeln!(f)?;
            match (&step.value, &step.no_value) {
                (Some(v), _) => writeln!(f, "    value: {v:?}")?,
                (None, Some(why)) => writeln!(f, "    no value: {why}")?,
                (None, None) => {}
            }
            if step.value.is_some() && !matches!(step.verdict, Verdict::OtherKind | Verdict::Off) {
                if step.candidate_count == 0 {
                    writeln!(f, "    candidates: none")?;
                } else {
                    write!(f, "    candidates ({}): ", step.candidate_count)?;
                    list(f, &step.candidates, step.candidate_count)?;
                    writeln!(f)?;
                }
            }
            writeln!(f, "    verdict: {}", step.verdict)?;
        }
        Ok(())
    }
}
