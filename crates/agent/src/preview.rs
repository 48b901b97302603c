//! What a runbook would do on a device, before anything runs: the exact steps of its plan and
//! every SID change its permission steps would make, read through the same primitives and the
//! same translation as the run itself, writing nothing.

use std::collections::BTreeMap;

use model::plan::{plan, Action, PermissionArea, Step, TargetFacts};
use model::protocol::SidTranslation;
use model::runbook::{Area, PermissionMode, Runbook};
use secdesc::translate::{SidMap, TranslateMode};
use secdesc::Sid;

use crate::permissions::{preview_area, translate_options, AreaTally, IgnoreList};
use crate::workstation::Workstation;
use crate::{Error, Result};

/// What [`preview`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Profiles whose ProfileList entry would move to a target SID.
    pub profiles: usize,
    /// The file-system pass, when the plan has one.
    pub files: Option<AreaTally>,
}

/// Plans `runbook` on `ws` joining `target`, and hands `line` each step and each change the
/// translations of `map` would make, in the order the run would make them.
pub fn preview<W: Workstation>(
    ws: &W,
    runbook: &Runbook,
    target: &TargetFacts,
    map: &SidMap,
    line: &mut dyn FnMut(String),
) -> Result<Preview> {
    preview_with_reasons(ws, runbook, target, map, &BTreeMap::new(), line)
}

/// [`preview`] over the server's translation answer: each translation is listed first with the
/// reason the server gave for its target SID (which of the target's SIDs the device will use
/// after the join), and each profile line repeats it.
pub fn preview_answer<W: Workstation>(
    ws: &W,
    runbook: &Runbook,
    target: &TargetFacts,
    translations: &[SidTranslation],
    line: &mut dyn FnMut(String),
) -> Result<Preview> {
    let map: SidMap = translations
        .iter()
        .map(|t| (t.source.clone(), t.target.clone()))
        .collect();
    let mut reasons = BTreeMap::new();
    for t in translations {
        let reason = t.reason.clone().unwrap_or_default();
        line(format!(
            "translate {} -> {} ({}): {}",
            t.source, t.target, t.target_name, reason
        ));
        reasons.insert(t.source.clone(), reason);
    }
    preview_with_reasons(ws, runbook, target, &map, &reasons, line)
}

fn preview_with_reasons<W: Workstation>(
    ws: &W,
    runbook: &Runbook,
    target: &TargetFacts,
    map: &SidMap,
    reasons: &BTreeMap<Sid, String>,
    line: &mut dyn FnMut(String),
) -> Result<Preview> {
    let facts = ws.facts()?;
    let steps = plan(runbook, &facts.device(), target).map_err(|refusal| {
        Error::Config(format!(
            "{} would not run on this device: {:?}",
            runbook.name, refusal
        ))
    })?;
    for step in &steps {
        line(format!(
            "step {:<36} {:<12} {}",
            step.id,
            format!("{:?}", step.phase),
            step.action.name()
        ));
    }
    let mut out = Preview {
        steps: steps.clone(),
        profiles: 0,
        files: None,
    };
    for step in &steps {
        let (area, mode, ignore) = match &step.action {
            Action::UpdatePermissions { area, mode, ignore } => (*area, *mode, ignore),
            Action::UpdateAreaPermissions { area, mode, .. } => {
                preview_descriptors(ws, *area, *mode, map, line)?;
                continue;
            }
            _ => continue,
        };
        let options = match translate_options(mode) {
            Some(options) => options,
            None => continue,
        };
        let mode = options.mode;
        match area {
            PermissionArea::WindowsProfiles => {
                for profile in ws.harvest_profiles()? {
                    if let Some(target) = map.get(&profile.sid).filter(|t| **t != profile.sid) {
                        out.profiles += 1;
                        let why = reasons
                            .get(&profile.sid)
                            .map(|r| format!(": {}", r))
                            .unwrap_or_default();
                        line(format!(
                            "ProfileList {} -> {} ({}){}",
                            profile.sid, target, profile.path, why
                        ));
                    }
                }
            }
            PermissionArea::FileSystem => {
                let ignore = IgnoreList::new(ws, ignore)?;
                let tally = preview_area(
                    ws,
                    Area::FileSystem,
                    map,
                    &options,
                    &ignore,
                    &mut |object, changes| {
                        for change in changes {
                            line(format!("{}: {}", object, change));
                        }
                    },
                )?;
                line(format!(
                    "file system: {} change(s) in {} of {} object(s), {} ignored",
                    tally.changes, tally.written, tally.objects, tally.ignored
                ));
                out.files = Some(tally);
            }
            PermissionArea::LocalGroups => {
                for (group, members) in ws.local_group_members()? {
                    for member in members {
                        if let Some(target) = map.get(&member).filter(|t| **t != member) {
                            line(format!(
                                "local group {}: {} {} {}",
                                group,
                                member,
                                if mode == TranslateMode::Add {
                                    "kept,"
                                } else {
                                    "replaced by"
                                },
                                target
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The descriptor changes of an area other than the file system (the registry, shares,
/// printers, services, DCOM, WMI namespaces, scheduled tasks), each object with its changes,
/// then a tally. An area this device cannot list is said, as the run would fail on it.
fn preview_descriptors<W: Workstation>(
    ws: &W,
    area: Area,
    mode: PermissionMode,
    map: &SidMap,
    line: &mut dyn FnMut(String),
) -> Result<()> {
    let options = match translate_options(mode) {
        Some(options) => options,
        None => return Ok(()),
    };
    if area == Area::UserRights {
        return Ok(());
    }
    let found = preview_area(
        ws,
        area,
        map,
        &options,
        &IgnoreList::default(),
        &mut |object, changes| {
            for change in changes {
                line(format!("{} {}: {}", area.slug(), object, change));
            }
        },
    );
    match found {
        Ok(tally) => line(format!(
            "{}: {} change(s) in {} of {} object(s)",
            area.slug(),
            tally.changes,
            tally.written,
            tally.objects
        )),
        Err(e @ Error::Unsupported { .. }) => {
            line(format!("{}: the run would fail here: {}", area.slug(), e))
        }
        Err(e) => return Err(e),
    }
    Ok(())
}
