//! The securable objects of the areas other than the registry, and their descriptors: files and
//! folders (`GetNamedSecurityInfoW` / `SetNamedSecurityInfoW`), services
//! (`QueryServiceObjectSecurity` / `SetServiceObjectSecurity`) and shares (`NetShareGetInfo` /
//! `NetShareSetInfo` level 1501), DCOM's machine-wide and per-AppID descriptors (registry values,
//! [`dcom`]), WMI namespaces from `root` down (`__SystemSecurity.GetSD` / `SetSD`,
//! [`wmi_security`]), printers (`GetPrinterW` / `SetPrinterW` level 3) and scheduled tasks (the
//! Task Scheduler cache's `SD` values, [`tasks`]). An area the Windows agent has no objects for
//! fails naming it.

use std::path::Path;

use agent::{Error, Result, SecurityParts};
use model::runbook::Area;

use super::sys::Sys;
use super::{dcom, files, printers, registry, services, shares, tasks, unsupported, wmi_security};

/// Every object of `area`, in a stable order.
pub fn objects(area: Area) -> Result<Vec<String>> {
    match area {
        Area::FileSystem => {
            let mut out = Vec::new();
            for volume in files::fixed_volumes()? {
                files::walk(Path::new(&volume), &mut out)?;
            }
            Ok(out)
        }
        Area::Services => services::names(),
        Area::FileShares => shares::names(),
        Area::Dcom => dcom::objects(),
        Area::WmiNamespaces => wmi_security::namespaces(wmi_security::ROOT),
        Area::Printers => printers::names(),
        Area::ScheduledTasks => tasks::objects(),
        other => Err(unsupported(&format!(
            "securable objects of {}",
            other.slug()
        ))),
    }
}

/// The descriptor of `object` of `area`, self-relative.
pub fn read(sys: &dyn Sys, area: Area, object: &str) -> Result<Vec<u8>> {
    match area {
        Area::FileSystem => {
            // The SACL needs SeSecurityPrivilege; without it, the rest.
            let found = match sys.file_security(object, true) {
                Err(e) if registry::is_privilege_error(&e) => sys.file_security(object, false)?,
                other => other?,
            };
            found.ok_or_else(|| Error::NotFound(object.to_string()))
        }
        Area::Services => services::descriptor(object),
        Area::FileShares => shares::descriptor(object),
        Area::Dcom => dcom::descriptor(object),
        Area::WmiNamespaces => wmi_security::descriptor(object),
        Area::Printers => printers::descriptor(object),
        Area::ScheduledTasks => tasks::descriptor(object),
        other => Err(unsupported(&format!("descriptors of {}", other.slug()))),
    }
}

/// Writes the `parts` of `descriptor` (`info` as the calls take them) to `object` of `area`,
/// and reads them back.
pub fn write(
    sys: &dyn Sys,
    area: Area,
    object: &str,
    descriptor: &[u8],
    info: u32,
    parts: SecurityParts,
) -> Result<()> {
    match area {
        Area::FileSystem => files::set_descriptor(sys, object, descriptor, info, parts),
        Area::Services => services::set_descriptor(object, descriptor, info, parts),
        Area::FileShares => shares::set_descriptor(object, descriptor, parts),
        Area::Dcom => dcom::set_descriptor(object, descriptor, parts),
        Area::WmiNamespaces => wmi_security::set_descriptor(object, descriptor, parts),
        Area::Printers => printers::set_descriptor(object, descriptor, parts),
        Area::ScheduledTasks => tasks::set_descriptor(object, descriptor, parts),
        other => Err(unsupported(&format!("descriptors of {}", other.slug()))),
    }
}
