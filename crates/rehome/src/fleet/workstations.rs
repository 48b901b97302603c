//! The fleet's simulated workstations: one folder each, named like a computer of the source
//! directory, joined to its domain with a few of its users' profiles.

use std::path::{Path, PathBuf};

use agent::sim::{SimSpec, SimUser, SimWorkstation};
use anyhow::{bail, Context, Result};

use super::driver::Member;
use crate::demo::directories::DomainFile;

/// A simulated workstation.
pub struct Machine {
    /// Its folder.
    pub dir: PathBuf,
    /// Its computer name.
    pub name: String,
    /// The source SIDs of its users, with their sAMAccountNames.
    pub users: Vec<(secdesc::Sid, String)>,
}

impl Machine {
    /// The workstation as a member of a fleet run.
    pub fn member(&self) -> Member {
        Member {
            name: self.name.clone(),
            dir: self.dir.clone(),
        }
    }
}

/// Workstations for the first `count` computers of `source`, the i-th with one to three profiles
/// of its users and a directory group in its local Administrators. A folder that exists already is
/// kept as it is (its agent resumes with its identity and journal).
pub fn create(root: &Path, source: &DomainFile, count: usize) -> Result<Vec<Machine>> {
    let users: Vec<_> = source.users().collect();
    if users.is_empty() {
        bail!("the source directory {} has no users", source.domain);
    }
    let computers = source.computers().count();
    if computers < count {
        bail!(
            "the source directory {} has {} computers, fewer than the {} agents asked for",
            source.domain,
            computers,
            count
        );
    }
    let mut machines = Vec::with_capacity(count);
    for (i, computer) in source.computers().take(count).enumerate() {
        let dir = root.join(&computer.name);
        let per_machine = 1 + i % 3;
        let sim_users: Vec<SimUser> = (0..per_machine)
            .map(|k| users[(i * 3 + k) % users.len()])
            .filter_map(|u| {
                let sid = u.sid.clone()?;
                let name = u.sam_account_name.clone().unwrap_or_else(|| u.name.clone());
                Some(SimUser { sid, name })
            })
            .collect();
        if !dir.exists() {
            let mut spec = SimSpec::active_directory(
                &computer.name,
                &format!("SN{:08}", i + 1),
                &source.domain,
                sim_users.clone(),
            );
            // A directory group in the local Administrators group, so local groups have
            // something to translate.
            spec.admin_groups
                .extend(source.groups().filter_map(|g| g.sid.clone()).take(1));
            SimWorkstation::create(&dir, &spec)
                .with_context(|| format!("create workstation {}", computer.name))?;
        }
        machines.push(Machine {
            dir,
            name: computer.name.clone(),
            users: sim_users.into_iter().map(|u| (u.sid, u.name)).collect(),
        });
    }
    Ok(machines)
}
