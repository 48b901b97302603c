//! The demo's simulated workstations, agent threads for tests that drive a few of them, and the
//! check of what each workstation looks like after its migration.

use std::path::Path;
use std::thread::JoinHandle;

use agent::sim::SimWorkstation;
use anyhow::{Context, Result};
use model::plan::JoinState;

pub use crate::fleet::workstations::Machine;

use super::setup::World;

/// Creates `count` workstations of the demo's source directory (see
/// [`crate::fleet::workstations::create`]), a few of them not quite ready.
pub fn create(root: &Path, world: &World, count: usize) -> Result<Vec<Machine>> {
    let machines = crate::fleet::workstations::create(root, &world.source, count)?;
    for (i, machine) in machines.iter().enumerate() {
        let mut sim = SimWorkstation::open(&machine.dir)
            .with_context(|| format!("open workstation {}", machine.name))?;
        unready(&mut sim, i).with_context(|| format!("set up workstation {}", machine.name))?;
    }
    Ok(machines)
}

/// Makes a few workstations less than ready, so the batch's readiness page has something to show:
/// conditions that warn (on battery, a reboot pending, a Configuration Manager client), which the
/// migration goes through. A blocking one would hold its device back until someone waives it,
/// and the demo's agents run until their runbook has finished.
fn unready(sim: &mut SimWorkstation, i: usize) -> Result<()> {
    use agent::readiness::device::{Interference, InterferenceKind};
    match i % 7 {
        1 => sim.set_readiness(|r| r.on_battery = Some(23 + (i % 50) as u8))?,
        3 => sim.set_readiness(|r| {
            r.pending_reboot = Some("WindowsUpdate\\Auto Update\\RebootRequired".to_string())
        })?,
        5 => sim.set_readiness(|r| {
            r.interfering.push(Interference {
                kind: InterferenceKind::ConfigMgr,
                name: "CcmExec 5.00.9128".to_string(),
            })
        })?,
        _ => {}
    }
    Ok(())
}

/// One workstation in `HELD_EVERY` (from the ninth) is kept from migrating by a blocking
/// readiness check, so the batch's readiness page shows devices held back and why.
const HELD_EVERY: usize = 16;

/// Makes a few of `machines` fail a blocking readiness check, in turn too little free space on
/// the system volume and a Home edition, and returns their positions; the server holds their
/// runbooks back.
pub fn hold_back(machines: &[Machine]) -> Result<Vec<usize>> {
    let mut held = Vec::new();
    for (i, machine) in machines.iter().enumerate() {
        if i % HELD_EVERY != HELD_EVERY / 2 {
            continue;
        }
        let mut sim = SimWorkstation::open(&machine.dir)
            .with_context(|| format!("open workstation {}", machine.name))?;
        if held.len() % 2 == 0 {
            sim.set_readiness(|r| r.free_bytes = 512 * 1024 * 1024)?;
        } else {
            sim.set_os(model::plan::OsEdition::Workstation, "Windows 11 Home 23H2")?;
        }
        held.push(i);
    }
    Ok(held)
}

/// Starts one agent thread per workstation; each returns when its runbook has finished.
pub fn start_agents(
    url: &str,
    psk: &str,
    machines: &[Machine],
) -> Vec<JoinHandle<Result<(), String>>> {
    machines
        .iter()
        .map(|m| {
            let mut config = agent::AgentConfig::new(url, psk, &m.dir);
            config.exit_when_idle = true;
            let name = m.name.clone();
            std::thread::Builder::new()
                .name(format!("agent-{}", name))
                .stack_size(512 * 1024)
                .spawn(move || {
                    agent::run(&config)
                        .map(|_| ())
                        .map_err(|e| format!("{}: {}", name, e))
                })
                .unwrap_or_else(|e| {
                    let message = format!("cannot start a thread: {}", e);
                    std::thread::spawn(move || Err(message))
                })
        })
        .collect()
}

/// Waits for every agent thread and returns their errors.
pub fn join(handles: Vec<JoinHandle<Result<(), String>>>) -> Vec<String> {
    handles
        .into_iter()
        .filter_map(|h| match h.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("an agent thread panicked".to_string()),
        })
        .collect()
}

/// What checking the workstations after the run found.
pub struct Verification {
    /// One line per workstation that is not fully migrated.
    pub problems: Vec<String>,
}

/// Checks every workstation: joined to the target, and no source SID of a translated user left in
/// its profile list or file descriptors.
pub fn verify(machines: &[Machine], world: &World) -> Verification {
    let mut problems = Vec::new();
    for m in machines {
        let state = match SimWorkstation::load(&m.dir) {
            Ok(state) => state,
            Err(e) => {
                problems.push(format!("{}: cannot read its state: {}", m.name, e));
                continue;
            }
        };
        // The demo's runbook keeps the default Areas to Ignore: what they cover keeps its grants.
        let ignore = match SimWorkstation::open(&m.dir).and_then(|ws| {
            agent::permissions::IgnoreList::new(&ws, &model::runbook::default_ignore_patterns())
        }) {
            Ok(ignore) => ignore,
            Err(e) => {
                problems.push(format!("{}: cannot read its environment: {}", m.name, e));
                continue;
            }
        };
        // The agent's own offline verification, from what its journal recorded.
        match agent::journal::Journal::open(&m.dir.join(".rehome-agent").join("journal.log"))
            .and_then(|journal| {
                let ws = SimWorkstation::open(&m.dir)?;
                agent::verify::verify(&ws, &journal)
            }) {
            Ok(report) => {
                for finding in report.findings.iter().filter(|f| !f.holds) {
                    problems.push(format!("{}: {}: {}", m.name, finding.check, finding.detail));
                }
            }
            Err(e) => problems.push(format!("{}: cannot verify: {}", m.name, e)),
        }
        let joined = matches!(&state.join_state, JoinState::ActiveDirectory { domain } if domain.eq_ignore_ascii_case(&world.target_domain));
        if !joined {
            problems.push(format!(
                "{}: joined to {:?}, not {}",
                m.name, state.join_state, world.target_domain
            ));
        }
        for (source, sam) in &m.users {
            if state.profile_list.contains_key(source) {
                problems.push(format!(
                    "{}: the profile of {} still belongs to the source SID",
                    m.name, sam
                ));
            }
            let target = world
                .target
                .users()
                .find(|u| u.sam_account_name.as_deref() == Some(sam.as_str()))
                .and_then(|u| u.sid.as_ref());
            if !target.is_some_and(|t| state.profile_list.contains_key(t)) {
                problems.push(format!(
                    "{}: no profile belongs to the target account of {}",
                    m.name, sam
                ));
            }
            for (path, bytes) in &state.files {
                if ignore.ignores(path) {
                    continue;
                }
                match secdesc::SecurityDescriptor::from_bytes(bytes) {
                    Ok(sd) => {
                        // Inherited entries are left for inheritance to restore: only explicit
                        // ones must have moved to the target.
                        let explicit_source = sd
                            .dacl
                            .iter()
                            .flat_map(|acl| acl.aces.iter())
                            .any(|ace| !ace.is_inherited() && &ace.sid == source);
                        if explicit_source {
                            problems.push(format!(
                                "{}: {} still grants the source SID {}",
                                m.name, path, source
                            ));
                        }
                    }
                    Err(e) => problems.push(format!(
                        "{}: {} has an unreadable descriptor: {}",
                        m.name, path, e
                    )),
                }
            }
        }
    }
    Verification { problems }
}
