//! Scheduled tasks' descriptors, from the Task Scheduler's own cache: every task has a key under
//! `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tree\<folder>\<task>`
//! whose `SD` value is the self-relative descriptor that `IRegisteredTask::GetSecurityDescriptor`
//! answers and the Schedule service checks. It is read and written there rather than through
//! Task Scheduler COM because the registry is what that call reads and writes too, needs no
//! task to be re-registered (which would ask for the principal's password), and is the same
//! under Wine, whose `IRegisteredTask::GetSecurityDescriptor` is not implemented. The Schedule
//! service reads the cache when it starts, so a changed descriptor is in force at the
//! migration's restart. A task is named by its path: `\Microsoft\Windows\Defrag\ScheduledDefrag`.

use agent::{Error, RegValue, Result, SecurityParts};

use super::registry;
use crate::keys::KeyName;

/// The Task Scheduler's tree of tasks.
pub const TREE: &str =
    "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tree";
/// The value holding a task's descriptor.
pub const SD: &str = "SD";

fn key_of(task: &str) -> Result<KeyName> {
    let path = task.trim_start_matches('\\');
    if path.is_empty() {
        return Err(Error::NotFound(task.to_string()));
    }
    KeyName::parse(&format!("{}\\{}", TREE, path))
}

fn sd(key: &KeyName) -> Result<Option<Vec<u8>>> {
    Ok(match registry::open(key, registry::READ)? {
        Some(k) => match k.value(SD)? {
            Some(RegValue::Binary(b)) if !b.is_empty() => Some(b),
            _ => None,
        },
        None => None,
    })
}

fn walk(path: &str, out: &mut Vec<String>) -> Result<()> {
    let key = KeyName::parse(&format!("{}{}", TREE, path))?;
    let children = match registry::open(&key, registry::READ)? {
        Some(k) => k.subkeys()?,
        None => return Ok(()),
    };
    for child in children {
        let task = format!("{}\\{}", path, child);
        // A task has an `Id`; a folder has subkeys only (and a descriptor of its own).
        if sd(&key_of(&task)?)?.is_some() {
            out.push(task.clone());
        }
        walk(&task, out)?;
    }
    Ok(())
}

/// Every task and task folder with a descriptor, by path.
pub fn objects() -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk("", &mut out)?;
    Ok(out)
}

/// The descriptor of `task`.
pub fn descriptor(task: &str) -> Result<Vec<u8>> {
    sd(&key_of(task)?)?.ok_or_else(|| Error::NotFound(task.to_string()))
}

/// Writes the `parts` of `new` to `task`'s descriptor and reads them back.
pub fn set_descriptor(task: &str, new: &[u8], parts: SecurityParts) -> Result<()> {
    let merged = super::dcom::merge(&descriptor(task)?, new, parts)?;
    registry::create(&key_of(task)?, registry::WRITE)?.set_value(SD, &RegValue::Binary(merged))?;
    let back = descriptor(task)?;
    super::security::verify_written("RegSetValueExW", task, new, parts, &back)
}
