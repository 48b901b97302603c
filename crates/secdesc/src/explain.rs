//! A descriptor in words: who has what, for people reading a plan or a device report.

use std::fmt::Write;

use crate::ace::{flags, Ace, AceType};
use crate::acl::Acl;
use crate::alias::well_known_name;
use crate::descriptor::control;
use crate::sddl::write::write_rights;
use crate::{Domains, SecurityDescriptor, Sid};

/// Plain-language lines describing `sd`: owner, group, then one line per ACE.
pub fn explain(sd: &SecurityDescriptor, domains: &Domains) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(owner) = &sd.owner {
        lines.push(format!("owner: {}", who(owner, domains)));
    }
    if let Some(group) = &sd.group {
        lines.push(format!("group: {}", who(group, domains)));
    }
    if sd.has(control::DACL_PRESENT) {
        let notes = acl_notes(
            sd.control,
            control::DACL_PROTECTED,
            control::DACL_AUTO_INHERITED,
        );
        match &sd.dacl {
            None => lines.push("DACL: none (NULL DACL): everyone has full access".to_string()),
            Some(acl) if acl.aces.is_empty() => lines.push(format!(
                "DACL{}: empty: nobody but the owner has access",
                notes
            )),
            Some(acl) => {
                lines.push(format!("DACL{}:", notes));
                aces(&mut lines, acl, domains);
            }
        }
    } else {
        lines.push("DACL: not present".to_string());
    }
    if sd.has(control::SACL_PRESENT) {
        let notes = acl_notes(
            sd.control,
            control::SACL_PROTECTED,
            control::SACL_AUTO_INHERITED,
        );
        lines.push(format!("SACL{}:", notes));
        if let Some(acl) = &sd.sacl {
            aces(&mut lines, acl, domains);
        }
    }
    lines
}

fn acl_notes(bits: u16, protected: u16, inherited: u16) -> String {
    let mut notes = Vec::new();
    if bits & protected != 0 {
        notes.push("protected from inheritance");
    }
    if bits & inherited != 0 {
        notes.push("auto-inherited");
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    }
}

fn aces(lines: &mut Vec<String>, acl: &Acl, domains: &Domains) {
    for ace in &acl.aces {
        lines.push(format!("  {}", ace_line(ace, domains)));
    }
}

/// A trustee: its well-known name if it has one, and its SID.
fn who(sid: &Sid, domains: &Domains) -> String {
    match well_known_name(sid, domains) {
        Some(name) => format!("{} ({})", name, sid),
        None => sid.to_string(),
    }
}

fn ace_line(ace: &Ace, domains: &Domains) -> String {
    let verb = match ace.ace_type {
        t if t.is_deny() => "denied",
        AceType::SystemAudit
        | AceType::SystemAuditObject
        | AceType::SystemAuditCallback
        | AceType::SystemAuditCallbackObject => "audited for",
        AceType::SystemAlarm
        | AceType::SystemAlarmObject
        | AceType::SystemAlarmCallback
        | AceType::SystemAlarmCallbackObject => "alarmed for",
        AceType::SystemMandatoryLabel => "labelled",
        AceType::SystemResourceAttribute => "resource attribute",
        AceType::SystemScopedPolicyId => "scoped policy",
        AceType::SystemProcessTrustLabel => "trust label",
        AceType::SystemAccessFilter => "access filter",
        _ => "allowed",
    };
    let mut line = format!("{}: {} {}", who(&ace.sid, domains), verb, rights(ace));
    if ace.flags & (flags::SUCCESSFUL_ACCESS | flags::FAILED_ACCESS) != 0 {
        let what = match ace.flags & (flags::SUCCESSFUL_ACCESS | flags::FAILED_ACCESS) {
            flags::SUCCESSFUL_ACCESS => "on success",
            flags::FAILED_ACCESS => "on failure",
            _ => "on success and failure",
        };
        let _ = write!(line, " {}", what);
    }
    if let Some(g) = &ace.object_type {
        let _ = write!(line, ", object {}", g);
    }
    if let Some(g) = &ace.inherited_object_type {
        let _ = write!(line, ", inherited by {}", g);
    }
    let _ = write!(line, "; applies to {}", scope(ace.flags));
    if ace.ace_type.is_callback() && !ace.data.is_empty() {
        line.push_str("; only when a condition holds");
    }
    if ace.is_inherited() {
        line.push_str(" (inherited)");
    }
    line
}

fn rights(ace: &Ace) -> String {
    let named = match ace.mask {
        0x001F_01FF => "full control",
        0x0013_01BF => "modify",
        0x0012_00A9 => "read and execute",
        0x0012_0089 => "read",
        0x0012_0116 => "write",
        0x0012_00A0 => "execute",
        0x000F_003F => "full control (registry)",
        0x0002_0019 => "read (registry)",
        0x1000_0000 => "generic all",
        0xA000_0000 => "generic read and execute",
        _ => "",
    };
    let mut codes = String::new();
    write_rights(
        &mut codes,
        ace.mask,
        ace.ace_type == AceType::SystemMandatoryLabel,
    );
    match (named, codes.is_empty()) {
        ("", true) => "no rights".to_string(),
        ("", false) => codes,
        (named, _) => format!("{} ({})", named, codes),
    }
}

/// Where an ACE applies, in the words of the Windows security dialog.
fn scope(bits: u8) -> &'static str {
    let oi = bits & flags::OBJECT_INHERIT != 0;
    let ci = bits & flags::CONTAINER_INHERIT != 0;
    let io = bits & flags::INHERIT_ONLY != 0;
    let np = bits & flags::NO_PROPAGATE_INHERIT != 0;
    match (oi, ci, io, np) {
        (false, false, _, _) => "this object only",
        (true, true, false, false) => "this folder, subfolders and files",
        (true, true, false, true) => "this folder and its direct subfolders and files",
        (true, true, true, false) => "subfolders and files only",
        (true, true, true, true) => "direct subfolders and files only",
        (false, true, false, false) => "this folder and subfolders",
        (false, true, false, true) => "this folder and its direct subfolders",
        (false, true, true, false) => "subfolders only",
        (false, true, true, true) => "direct subfolders only",
        (true, false, false, false) => "this folder and files",
        (true, false, false, true) => "this folder and its direct files",
        (true, false, true, false) => "files only",
        (true, false, true, true) => "direct files only",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_who_has_what_where() {
        let sd = SecurityDescriptor::from_sddl(
            "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICIIO;GA;;;CO)(D;;FW;;;S-1-5-21-1-2-3-1001)(A;OICIID;0x1200a9;;;BU)S:(ML;;NW;;;HI)",
            None,
        )
        .unwrap();
        let lines = explain(&sd, &Domains::default());
        assert_eq!(
            lines,
            [
                "owner: Administrators (S-1-5-32-544)",
                "group: Local System (S-1-5-18)",
                "DACL (protected from inheritance, auto-inherited):",
                "  Local System (S-1-5-18): allowed full control (FA); applies to this folder, subfolders and files",
                "  Creator Owner (S-1-3-0): allowed generic all (GA); applies to subfolders and files only",
                "  S-1-5-21-1-2-3-1001: denied write (FW); applies to this object only",
                "  Users (S-1-5-32-545): allowed read and execute (0x1200a9); applies to this folder, subfolders and files (inherited)",
                "SACL:",
                "  High Mandatory Level (S-1-16-12288): labelled NW; applies to this object only",
            ]
        );
    }

    #[test]
    fn null_and_empty_dacls_are_spelled_out() {
        let null = SecurityDescriptor::from_sddl("D:NO_ACCESS_CONTROL", None).unwrap();
        assert!(explain(&null, &Domains::default())[0].contains("everyone has full access"));
        let empty = SecurityDescriptor::from_sddl("D:", None).unwrap();
        assert!(explain(&empty, &Domains::default())[0].contains("nobody but the owner"));
    }
}
