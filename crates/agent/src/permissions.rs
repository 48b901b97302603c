//! Re-permissioning an area, portably: the workstation enumerates the area's securable objects
//! and reads and writes their descriptors as MS-DTYP binary; this module decides. It skips the
//! Areas to Ignore (environment variables expanded, wildcards matched as Windows matches them),
//! translates with [`secdesc::translate`] (inherited ACEs are left to inheritance), and writes back
//! only the parts of a descriptor that changed. A descriptor already translated has nothing left
//! to change, so a run interrupted half way through a tree simply runs again.

use model::runbook::{Area, PermissionMode};
use secdesc::translate::{translate, Change, Place, SidMap, TranslateMode, TranslateOptions};
use secdesc::{SecurityDescriptor, Sid};

use crate::workstation::{Effect, SecurityParts, Workstation};
use crate::{Error, Result};

/// Areas to Ignore, expanded and folded for matching.
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    patterns: Vec<Vec<char>>,
}

/// Folds a path as Windows compares names: case-insensitive by simple (one for one) upper-case
/// mapping, `/` read as `\`.
fn fold(path: &str) -> Vec<char> {
    path.chars()
        .map(|c| {
            if c == '/' {
                return '\\';
            }
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// `*` matches any run of characters (separators included, as `PathMatchSpec` does) and `?`
/// exactly one.
fn wildcard(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

impl IgnoreList {
    /// The runbook's patterns with `%NAME%` expanded from the workstation's environment. A
    /// variable the device does not define is an error: guessing could re-permission what the
    /// engineer meant to leave alone.
    pub fn new<W: Workstation>(ws: &W, patterns: &[String]) -> Result<IgnoreList> {
        let mut out = Vec::new();
        for pattern in patterns {
            let mut expanded = String::new();
            let mut rest = pattern.as_str();
            while let Some(start) = rest.find('%') {
                expanded.push_str(&rest[..start]);
                let after = &rest[start + 1..];
                let end = after.find('%').ok_or_else(|| {
                    Error::Device(format!(
                        "the Areas to Ignore pattern {:?} has a % that is not closed",
                        pattern
                    ))
                })?;
                let name = &after[..end];
                let value = ws.environment_variable(name)?.ok_or_else(|| {
                    Error::Device(format!(
                        "the Areas to Ignore pattern {:?} names %{}%, which this device does not define",
                        pattern, name
                    ))
                })?;
                expanded.push_str(&value);
                rest = &after[end + 1..];
            }
            expanded.push_str(rest);
            out.push(fold(expanded.trim()));
        }
        Ok(IgnoreList { patterns: out })
    }

    /// Whether `path` is left alone.
    pub fn ignores(&self, path: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let path = fold(path);
        self.patterns.iter().any(|p| wildcard(p, &path))
    }
}

/// What one pass over an area did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AreaTally {
    /// Objects enumerated.
    pub objects: usize,
    /// Objects skipped by the Areas to Ignore.
    pub ignored: usize,
    /// Descriptors written back.
    pub written: usize,
    /// Owners, groups and ACEs changed.
    pub changes: usize,
    /// Objects listed by the walk but gone by the time their descriptor was read or written
    /// (deleted by the user or an application during a long pass): skipped, not an error.
    pub vanished: usize,
}

/// The binary forms of the map's source SIDs, to skip descriptors that name none of them without
/// parsing them: in a self-relative descriptor every SID appears whole.
fn needles(map: &SidMap) -> Vec<Vec<u8>> {
    map.iter()
        .filter(|(s, t)| s != t)
        .map(|(s, _)| s.to_bytes())
        .collect()
}

fn names_a_source(bytes: &[u8], needles: &[Vec<u8>]) -> bool {
    needles.iter().any(|n| {
        // A SID starts with revision 1 and its sub-authority count: cheap first-byte filter.
        bytes
            .windows(n.len())
            .any(|w| w[0] == n[0] && w[1] == n[1] && w == n.as_slice())
    })
}

/// Translates the descriptor of one object; returns how many changes it wrote.
pub fn translate_object<W: Workstation>(
    ws: &mut W,
    area: Area,
    object: &str,
    map: &SidMap,
    options: &TranslateOptions,
) -> Result<usize> {
    let bytes = ws.read_descriptor(area, object)?;
    translate_read(ws, area, object, &bytes, map, options)
}

/// Translates `bytes`, the descriptor just read from `object`, and writes back what changed.
fn translate_read<W: Workstation>(
    ws: &mut W,
    area: Area,
    object: &str,
    bytes: &[u8],
    map: &SidMap,
    options: &TranslateOptions,
) -> Result<usize> {
    let mut sd = SecurityDescriptor::from_bytes(bytes).map_err(|e| {
        Error::Device(format!(
            "the security descriptor of {} cannot be read: {}",
            object, e
        ))
    })?;
    let changes = translate(&mut sd, map, options)?;
    if changes.is_empty() {
        return Ok(0);
    }
    let mut parts = SecurityParts::default();
    for change in &changes {
        match change.place {
            Place::Owner => parts.owner = true,
            Place::Group => parts.group = true,
            Place::Dacl(_) => parts.dacl = true,
            Place::Sacl(_) => parts.sacl = true,
        }
    }
    ws.write_descriptor(area, object, &sd.to_bytes(), parts)?;
    Ok(changes.len())
}

/// How often a long pass reports its progress, in objects.
pub const PROGRESS_EVERY: usize = 50_000;

/// Translates every object of `area` that the Areas to Ignore leave in.
pub fn translate_area<W: Workstation>(
    ws: &mut W,
    area: Area,
    map: &SidMap,
    options: &TranslateOptions,
    ignore: &IgnoreList,
) -> Result<AreaTally> {
    translate_area_with_progress(ws, area, map, options, ignore, &mut |_, _| {})
}

/// [`translate_area`], handing `progress` the tally and the number of objects every
/// [`PROGRESS_EVERY`] objects.
pub fn translate_area_with_progress<W: Workstation>(
    ws: &mut W,
    area: Area,
    map: &SidMap,
    options: &TranslateOptions,
    ignore: &IgnoreList,
    progress: &mut dyn FnMut(&AreaTally, usize),
) -> Result<AreaTally> {
    let needles = needles(map);
    let mut tally = AreaTally::default();
    let objects = ws.securable_objects(area)?;
    let total = objects.len();
    for object in objects {
        tally.objects += 1;
        if tally.objects % PROGRESS_EVERY == 0 {
            progress(&tally, total);
        }
        if ignore.ignores(&object) {
            tally.ignored += 1;
            continue;
        }
        if needles.is_empty() {
            continue;
        }
        let bytes = match ws.read_descriptor(area, &object) {
            Ok(bytes) => bytes,
            Err(Error::NotFound(_)) => {
                tally.vanished += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        if !names_a_source(&bytes, &needles) {
            continue;
        }
        match translate_read(ws, area, &object, &bytes, map, options) {
            Ok(0) => {}
            Ok(n) => {
                tally.written += 1;
                tally.changes += n;
            }
            Err(Error::NotFound(_)) => tally.vanished += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(tally)
}

/// What [`translate_area`] would change, without writing anything: `each` sees every object
/// that would change with its changes.
pub fn preview_area<W: Workstation>(
    ws: &W,
    area: Area,
    map: &SidMap,
    options: &TranslateOptions,
    ignore: &IgnoreList,
    each: &mut dyn FnMut(&str, &[Change]),
) -> Result<AreaTally> {
    let needles = needles(map);
    let mut tally = AreaTally::default();
    for object in ws.securable_objects(area)? {
        tally.objects += 1;
        if ignore.ignores(&object) {
            tally.ignored += 1;
            continue;
        }
        let bytes = match ws.read_descriptor(area, &object) {
            Ok(bytes) => bytes,
            Err(Error::NotFound(_)) => {
                tally.vanished += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        if !names_a_source(&bytes, &needles) {
            continue;
        }
        let mut sd = SecurityDescriptor::from_bytes(&bytes)?;
        let changes = translate(&mut sd, map, options)?;
        if !changes.is_empty() {
            tally.written += 1;
            tally.changes += changes.len();
            each(&object, &changes);
        }
    }
    Ok(tally)
}

/// Translates the holders of every user right (`LsaEnumerateAccountsWithUserRight`): the target
/// is granted what the source held; add-and-remove also revokes the source. The grants in `keep`
/// (right, SID) are the run's own (Prevent Login's denials) and are left to the step that
/// undoes them.
pub fn update_user_rights<W: Workstation>(
    ws: &mut W,
    map: &SidMap,
    mode: TranslateMode,
    keep: &[(String, Sid)],
) -> Result<Effect> {
    let mut changes = 0;
    let mut rights = 0;
    for right in ws.user_rights()? {
        let holders = ws.user_right_holders(&right)?;
        let mut changed = false;
        for source in &holders {
            if keep.iter().any(|(r, s)| *r == right && s == source) {
                continue;
            }
            let target = match map.get(source).filter(|t| *t != source) {
                Some(target) => target,
                None => continue,
            };
            if ws.grant_user_right(&right, target)? {
                changes += 1;
                changed = true;
            }
            if mode == TranslateMode::Replace && ws.revoke_user_right(&right, source)? {
                changes += 1;
                changed = true;
            }
        }
        rights += usize::from(changed);
    }
    Ok(if changes == 0 {
        Effect::unchanged("no user right is held by a translated SID")
    } else {
        Effect::changed(
            changes,
            format!(
                "{} change(s) to the holders of {} user right(s)",
                changes, rights
            ),
        )
    })
}

/// Translates the folders of other hosts' shares (Remote File Shares): each is connected as
/// `account`, its folder and every file under it translated, and disconnected again.
pub fn update_remote_shares<W: Workstation>(
    ws: &mut W,
    shares: &[String],
    account: &str,
    password: &str,
    map: &SidMap,
    options: &TranslateOptions,
) -> Result<Effect> {
    let mut tally = AreaTally::default();
    for share in shares {
        ws.connect_share(share, account, password)?;
        let result = translate_share(ws, share, map, options, &mut tally);
        // Disconnected whatever happened; the translation's own error is the one reported.
        let _ = ws.disconnect_share(share);
        result?;
    }
    Ok(if tally.changes == 0 {
        Effect::unchanged(format!(
            "no descriptor on {} share(s) names a translated SID ({} object(s) checked)",
            shares.len(),
            tally.objects
        ))
    } else {
        Effect::changed(
            tally.changes,
            format!(
                "{} change(s) in {} descriptor(s) of {} object(s) on {} share(s)",
                tally.changes,
                tally.written,
                tally.objects,
                shares.len()
            ),
        )
    })
}

fn translate_share<W: Workstation>(
    ws: &mut W,
    share: &str,
    map: &SidMap,
    options: &TranslateOptions,
    tally: &mut AreaTally,
) -> Result<()> {
    let mut objects = vec![share.trim_end_matches('\\').to_string()];
    objects.extend(ws.list_files(share)?);
    for object in objects {
        let bytes = match ws.read_descriptor(Area::FileSystem, &object) {
            Ok(bytes) => bytes,
            Err(Error::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        tally.objects += 1;
        let n = translate_read(ws, Area::FileSystem, &object, &bytes, map, options)?;
        if n > 0 {
            tally.written += 1;
            tally.changes += n;
        }
    }
    Ok(())
}

/// How descriptors are translated in `mode`; `None` when permissions are left as they are.
/// Owners move to the target too: a single SID cannot be "added beside", and the migrated user
/// should own their files. Add mode keeps the source's ACEs.
pub fn translate_options(mode: PermissionMode) -> Option<TranslateOptions> {
    let mode = match mode {
        PermissionMode::DontUpdate => return None,
        PermissionMode::AddOnly => TranslateMode::Add,
        PermissionMode::AddAndRemove => TranslateMode::Replace,
    };
    Some(TranslateOptions {
        mode,
        owner_and_group: true,
    })
}

/// [`translate_area`] as a step's effect.
pub fn update_area<W: Workstation>(
    ws: &mut W,
    area: Area,
    map: &SidMap,
    options: &TranslateOptions,
    ignore: &IgnoreList,
) -> Result<Effect> {
    update_area_with_progress(ws, area, map, options, ignore, &mut |_, _| {})
}

/// [`update_area`] with progress, as [`translate_area_with_progress`].
pub fn update_area_with_progress<W: Workstation>(
    ws: &mut W,
    area: Area,
    map: &SidMap,
    options: &TranslateOptions,
    ignore: &IgnoreList,
    progress: &mut dyn FnMut(&AreaTally, usize),
) -> Result<Effect> {
    let t = translate_area_with_progress(ws, area, map, options, ignore, progress)?;
    // Said only when it happened: a file deleted during the pass needs no translation.
    let vanished = if t.vanished == 0 {
        String::new()
    } else {
        format!(
            "; {} vanished during the pass and skipped (deleted since they were listed)",
            t.vanished
        )
    };
    Ok(if t.changes == 0 {
        Effect::unchanged(format!(
            "no descriptor names a translated SID ({} object(s) checked, {} ignored{})",
            t.objects, t.ignored, vanished
        ))
    } else {
        Effect::changed(
            t.changes,
            format!(
                "{} change(s) in {} descriptor(s) of {} object(s); {} ignored{}",
                t.changes, t.written, t.objects, t.ignored, vanished
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        wildcard(&fold(pattern), &fold(path))
    }

    #[test]
    fn wildcards_match_as_windows_matches_paths() {
        assert!(matches(
            "C:\\Windows\\*",
            "c:\\WINDOWS\\System32\\drivers\\etc\\hosts"
        ));
        assert!(matches("C:/Windows/*", "C:\\Windows\\notepad.exe"));
        assert!(!matches("C:\\Windows\\*", "C:\\Windows"));
        assert!(!matches("C:\\Windows\\*", "C:\\WindowsApps\\x"));
        assert!(matches(
            "*:\\System Volume Information\\*",
            "D:\\System Volume Information\\x"
        ));
        assert!(matches(
            "C:\\Users\\*\\AppData\\Local\\Temp\\*",
            "C:\\Users\\bob\\AppData\\Local\\Temp\\a.tmp"
        ));
        assert!(matches("C:\\Data\\report?.xlsx", "C:\\data\\REPORT1.xlsx"));
        assert!(!matches(
            "C:\\Data\\report?.xlsx",
            "C:\\data\\report12.xlsx"
        ));
        assert!(matches("*", ""));
        // Simple case mapping, one character for one, as NTFS's upcase table does.
        assert!(matches("C:\\Ärzte\\*", "c:\\ärzte\\x"));
        assert!(!matches("C:\\Straße\\*", "C:\\STRASSE\\x"));
    }
}
