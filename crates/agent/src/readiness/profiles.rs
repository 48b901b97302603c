//! The check of each user profile: one result per profile, its verdict the worst of what was
//! found, its reason every finding in words.

use chrono::{DateTime, Utc};
use model::readiness::{checks, CheckResult, Verdict};
use secdesc::Sid;

use super::device::{ProfileCondition, PROFILE_STATE_TEMPORARY};
use super::{sid_text, stale_after, unknown};
use crate::workstation::Workstation;

/// The profile check of every profile on `workstation`.
pub(super) fn check<W: Workstation>(workstation: &W, now: DateTime<Utc>) -> Vec<CheckResult> {
    let profiles = match workstation.profile_conditions() {
        Ok(profiles) => profiles,
        Err(e) => return vec![unknown(&checks::profile("*"), &e, now)],
    };
    // Who else runs as each user; a workstation that cannot tell leaves that part out and says so.
    let mut users: Vec<(String, Sid)> = Vec::new();
    let mut not_checked: Vec<String> = Vec::new();
    match workstation.user_processes() {
        Ok(list) => users.extend(list.into_iter().map(|(p, s)| (format!("process {}", p), s))),
        Err(e) => not_checked.push(e.to_string()),
    }
    match workstation.service_accounts() {
        Ok(list) => users.extend(list.into_iter().map(|(n, s)| (format!("service {}", n), s))),
        Err(e) => not_checked.push(e.to_string()),
    }
    match workstation.task_principals() {
        Ok(list) => users.extend(
            list.into_iter()
                .map(|(n, p)| (format!("scheduled task {}", n), p.account)),
        ),
        Err(e) => not_checked.push(e.to_string()),
    }
    profiles
        .iter()
        .map(|p| one(p, &users, &not_checked, now))
        .collect()
}

fn one(
    profile: &ProfileCondition,
    users: &[(String, Sid)],
    not_checked: &[String],
    now: DateTime<Utc>,
) -> CheckResult {
    let mut findings: Vec<(Verdict, String)> = Vec::new();
    let mut block = |why: String| findings.push((Verdict::Block, why));
    if profile.state & PROFILE_STATE_TEMPORARY != 0 {
        block("Windows signs the user in with a temporary profile (State 0x800): repair the profile so the user gets their own back".to_string());
    }
    if profile.bak_entry {
        block("a duplicate ProfileList entry (.bak) exists: remove the stale one so Windows loads the right profile".to_string());
    }
    if let Some(container) = &profile.container {
        block(format!(
            "the profile lives in a {} container: migrate the container, not the device's copy",
            container
        ));
    }
    if !profile.hive_readable {
        block(
            "the profile's registry hive cannot be read (corrupted): repair or remove the profile"
                .to_string(),
        );
    }
    let mut warn = |why: String| findings.push((Verdict::Warn, why));
    let lower = |s: &str| s.to_ascii_lowercase();
    let mandatory = lower(&profile.path).ends_with(".man")
        || profile
            .central_profile
            .as_deref()
            .map_or(false, |c| lower(c).ends_with(".man"));
    if mandatory {
        warn("a mandatory profile (.man): changes to it are not kept, so it is re-permissioned but not re-keyed".to_string());
    } else if let Some(central) = &profile.central_profile {
        warn(format!(
            "a roaming profile (CentralProfile {}): the server copy keeps the source's permissions",
            central
        ));
    }
    if profile.account.is_none() {
        warn("its SID names no account (orphaned): it gets no target user".to_string());
    }
    if let Some(used) = profile.last_used {
        if now - used > stale_after() {
            warn(format!(
                "not used since {}: it may belong to someone who left",
                used.format("%Y-%m-%d")
            ));
        }
    }
    // A process holds the hive and must end; services and tasks are re-pointed by the run.
    let holders = |processes: bool| -> Vec<&str> {
        users
            .iter()
            .filter(|(who, sid)| *sid == profile.sid && who.starts_with("process ") == processes)
            .map(|(who, _)| who.as_str())
            .collect()
    };
    let running = holders(true);
    if !running.is_empty() {
        findings.push((
            Verdict::Warn,
            format!(
                "in use by {}: the user must sign out (or it must end) before the migration starts",
                running.join(", ")
            ),
        ));
    }
    let configured = holders(false);
    if !configured.is_empty() {
        findings.push((
            Verdict::Pass,
            format!(
                "runs {}: the run re-points them to the target account",
                configured.join(", ")
            ),
        ));
    }
    if !not_checked.is_empty() {
        findings.push((
            Verdict::Unknown,
            format!("not checked who else uses it: {}", not_checked.join("; ")),
        ));
    }
    let verdict = [Verdict::Block, Verdict::Warn, Verdict::Unknown]
        .into_iter()
        .find(|v| findings.iter().any(|(f, _)| f == v))
        .unwrap_or(Verdict::Pass);
    let reason = if findings.is_empty() {
        "ready".to_string()
    } else {
        findings
            .into_iter()
            .map(|(_, why)| why)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let value = format!(
        "{} ({}), last used {}",
        profile.path,
        profile.account.as_deref().unwrap_or("no account"),
        profile
            .last_used
            .map_or("never".to_string(), |t| t.format("%Y-%m-%d").to_string())
    );
    CheckResult::new(
        checks::profile(&sid_text(&profile.sid)),
        verdict,
        reason,
        value,
        now,
    )
}
