//! Checking a device after a run, offline, from what its journal recorded: the translations the
//! run used and the profiles as they were before it. The checks are those whose failure a user
//! notices: a source SID left where add-and-remove was asked, a profile folder or hive still owned
//! by the old account, ProfileList not pointing the new SID at the old folder, a new account
//! missing the access the old one had on NTUSER.DAT, UsrClass.dat and the profile folder (the
//! usual cause of temporary profiles), and anything else changed on those objects.

use std::collections::BTreeSet;
use std::fmt;

use model::ids::RunbookId;
use model::plan::{Action, PermissionArea};
use model::runbook::{Area, PermissionMode};
use secdesc::translate::{translate, SidMap, TranslateMode, TranslateOptions};
use secdesc::{SecurityDescriptor, Sid};

use crate::journal::{BaselineProfile, Journal};
use crate::permissions::IgnoreList;
use crate::workstation::Workstation;
use crate::{Error, Result};

/// How many offending objects a finding names.
const EXAMPLES: usize = 5;

/// The objects of a profile whose loss of access makes Windows fall back to a temporary profile:
/// the folder, NTUSER.DAT and UsrClass.dat.
pub fn profile_objects(path: &str) -> [String; 3] {
    [
        path.to_string(),
        format!("{}\\NTUSER.DAT", path),
        format!("{}\\AppData\\Local\\Microsoft\\Windows\\UsrClass.dat", path),
    ]
}

/// The profiles of the device and the descriptors of their key objects, as they are now.
pub fn baseline<W: Workstation>(ws: &W) -> Result<Vec<BaselineProfile>> {
    let mut out = Vec::new();
    for profile in ws.harvest_profiles()? {
        let mut descriptors = Vec::new();
        for object in profile_objects(&profile.path) {
            match ws.read_descriptor(Area::FileSystem, &object) {
                Ok(bytes) => {
                    let sd = SecurityDescriptor::from_bytes(&bytes)?;
                    descriptors.push((object, sd.to_sddl(None)));
                }
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.push(BaselineProfile {
            sid: profile.sid,
            path: profile.path,
            descriptors,
        });
    }
    Ok(out)
}

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was checked.
    pub check: &'static str,
    /// Whether it holds.
    pub holds: bool,
    /// What was found: counts, and the first offending objects.
    pub detail: String,
}

/// The result of verifying a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The runbook whose run was checked.
    pub runbook: RunbookId,
    /// Its name.
    pub name: String,
    /// One finding per check.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether every check holds.
    pub fn holds(&self) -> bool {
        self.findings.iter().all(|f| f.holds)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "verify {} ({})", self.name, self.runbook)?;
        for finding in &self.findings {
            writeln!(
                f,
                "  {} {}: {}",
                if finding.holds { "ok  " } else { "FAIL" },
                finding.check,
                finding.detail
            )?;
        }
        Ok(())
    }
}

/// Problems found by one check.
#[derive(Default)]
struct Problems {
    count: usize,
    examples: Vec<String>,
}

impl Problems {
    fn add(&mut self, what: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(what);
        }
    }

    fn finding(self, check: &'static str, checked: usize, what: &str) -> Finding {
        if self.count == 0 {
            Finding {
                check,
                holds: true,
                detail: format!("{} {} checked", checked, what),
            }
        } else {
            Finding {
                check,
                holds: false,
                detail: format!(
                    "{} of {} {}: {}{}",
                    self.count,
                    checked,
                    what,
                    self.examples.join("; "),
                    if self.count > self.examples.len() {
                        " …"
                    } else {
                        ""
                    }
                ),
            }
        }
    }
}

fn read<W: Workstation>(ws: &W, object: &str) -> Result<Option<SecurityDescriptor>> {
    match ws.read_descriptor(Area::FileSystem, object) {
        Ok(bytes) => Ok(Some(SecurityDescriptor::from_bytes(&bytes)?)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `sd` names one of `sources` as owner, group or in an explicit ACE.
fn names_source(sd: &SecurityDescriptor, sources: &BTreeSet<&Sid>) -> bool {
    let owner_or_group = [&sd.owner, &sd.group]
        .iter()
        .any(|s| s.as_ref().map_or(false, |s| sources.contains(s)));
    owner_or_group
        || sd
            .dacl
            .iter()
            .chain(sd.sacl.iter())
            .flat_map(|acl| acl.aces.iter())
            .any(|ace| !ace.is_inherited() && sources.contains(&ace.sid))
}

/// Verifies the device `ws` against the last run its `journal` recorded.
pub fn verify<W: Workstation>(ws: &W, journal: &Journal) -> Result<Report> {
    let (runbook, run) = journal
        .last_run()
        .ok_or_else(|| Error::Config("the journal records no run to verify".to_string()))?;
    let recorded = run.translations.as_ref().ok_or_else(|| {
        Error::Config(format!(
            "{} recorded no translations (it never reached a step that needs them): nothing to verify",
            run.name
        ))
    })?;
    let (mode, ignore) = run
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::UpdatePermissions {
                area: PermissionArea::FileSystem,
                mode,
                ignore,
            } => Some((*mode, ignore.clone())),
            _ => None,
        })
        .unwrap_or((PermissionMode::DontUpdate, Vec::new()));
    let map: SidMap = recorded.pairs.iter().cloned().collect();
    let sources: BTreeSet<&Sid> = recorded
        .pairs
        .iter()
        .filter(|(s, t)| s != t)
        .map(|(s, _)| s)
        .collect();
    let mut findings = Vec::new();

    if mode == PermissionMode::AddAndRemove {
        let ignore = IgnoreList::new(ws, &ignore)?;
        let mut problems = Problems::default();
        let mut checked = 0;
        for object in ws.securable_objects(Area::FileSystem)? {
            if ignore.ignores(&object) {
                continue;
            }
            checked += 1;
            let sd = match read(ws, &object)? {
                Some(sd) => sd,
                None => continue,
            };
            if names_source(&sd, &sources) {
                problems.add(object);
            }
        }
        for profile in ws.harvest_profiles()? {
            if sources.contains(&profile.sid) {
                problems.add(format!("ProfileList\\{}", profile.sid));
            }
        }
        // The other areas the run re-permissioned in add-and-remove mode.
        for step in &run.steps {
            let area = match &step.action {
                Action::UpdateAreaPermissions {
                    area,
                    mode: PermissionMode::AddAndRemove,
                    ..
                } => *area,
                _ => continue,
            };
            if area == Area::UserRights {
                for right in ws.user_rights()? {
                    for holder in ws.user_right_holders(&right)? {
                        checked += 1;
                        if sources.contains(&holder) {
                            problems.add(format!("{} held by {}", right, holder));
                        }
                    }
                }
                continue;
            }
            for object in ws.securable_objects(area)? {
                checked += 1;
                let sd = SecurityDescriptor::from_bytes(&ws.read_descriptor(area, &object)?)?;
                if names_source(&sd, &sources) {
                    problems.add(format!("{} {}", area.slug(), object));
                }
            }
        }
        findings.push(problems.finding(
            "no source SID left (add and remove)",
            checked,
            "objects (outside the Areas to Ignore) and grants",
        ));
    }

    let now = ws.harvest_profiles()?;
    let translated: Vec<(&BaselineProfile, &Sid)> = recorded
        .profiles
        .iter()
        .filter_map(|p| map.get(&p.sid).filter(|t| **t != p.sid).map(|t| (p, t)))
        .collect();

    let mut profile_list = Problems::default();
    for (before, target) in &translated {
        let points = now
            .iter()
            .any(|p| p.sid == **target && p.path.eq_ignore_ascii_case(&before.path));
        if !points {
            profile_list.add(format!("{} does not point at {}", target, before.path));
        }
    }
    findings.push(profile_list.finding(
        "ProfileList points the target SIDs at the old profile folders",
        translated.len(),
        "translated profiles",
    ));

    let options = TranslateOptions {
        mode: if mode == PermissionMode::AddOnly {
            TranslateMode::Add
        } else {
            TranslateMode::Replace
        },
        owner_and_group: true,
    };
    let (mut owners, mut access, mut unchanged) = (
        Problems::default(),
        Problems::default(),
        Problems::default(),
    );
    let mut objects = 0;
    for (before, target) in &translated {
        for (object, sddl) in &before.descriptors {
            objects += 1;
            let then = SecurityDescriptor::from_sddl(sddl, None)?;
            let current = match read(ws, object)? {
                Some(sd) => sd,
                None => {
                    owners.add(format!("{} is gone", object));
                    continue;
                }
            };
            if current.owner.as_ref() != Some(*target) {
                owners.add(format!(
                    "{} is owned by {}",
                    object,
                    current
                        .owner
                        .as_ref()
                        .map_or("nobody".to_string(), Sid::to_string)
                ));
            }
            // The target must hold every explicit entry the source held, with the same type,
            // flags and rights.
            for ace in then
                .dacl
                .iter()
                .flat_map(|acl| acl.aces.iter())
                .filter(|a| !a.is_inherited() && a.sid == before.sid)
            {
                let held = current
                    .dacl
                    .iter()
                    .flat_map(|acl| acl.aces.iter())
                    .any(|a| {
                        a.sid == **target
                            && a.ace_type == ace.ace_type
                            && a.flags == ace.flags
                            && a.mask == ace.mask
                    });
                if !held {
                    access.add(format!(
                        "{} lacks {:?} 0x{:x} for {}",
                        object, ace.ace_type, ace.mask, target
                    ));
                }
            }
            // Translating what was there must give what is there: nothing else changed.
            let mut expected = then.clone();
            translate(&mut expected, &map, &options)?;
            if expected != current {
                unchanged.add(format!(
                    "{} is {} where {} was expected",
                    object,
                    current.to_sddl(None),
                    expected.to_sddl(None)
                ));
            }
        }
    }
    findings.push(owners.finding(
        "profile folders and hives are owned by the target users",
        objects,
        "profile objects",
    ));
    findings.push(access.finding(
        "the target users hold what the source users held on their profile folder, NTUSER.DAT and UsrClass.dat",
        objects,
        "profile objects",
    ));
    findings.push(unchanged.finding(
        "nothing outside the translated SIDs changed on the recorded objects",
        objects,
        "profile objects",
    ));
    Ok(Report {
        runbook,
        name: run.name.clone(),
        findings,
    })
}
