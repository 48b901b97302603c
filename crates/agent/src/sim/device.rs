//! The inside of a simulated device: saving its state, where each securable object's descriptor
//! is kept, and the translations the workstation's primitives share.

use super::*;

impl SimWorkstation {
    pub(super) fn save(&mut self) -> Result<()> {
        self.log.flush()?;
        let bytes = serde_json::to_vec_pretty(&self.state).map_err(|e| Error::Corrupt {
            path: self.dir.join(STATE_FILE),
            reason: e.to_string(),
        })?;
        fsutil::write_atomic(&self.dir.join(STATE_FILE), &bytes, false)
    }

    /// Saves the state after an operation, so a crash leaves it before or after, never half way.
    pub(super) fn commit(&mut self, _operation: &str, effect: Effect) -> Result<Effect> {
        self.save()?;
        Ok(effect)
    }

    /// Where the registry key `key` is kept: lower case, and a user's hive (`HKU\\<SID>\\…`)
    /// under their profile folder, so it follows the profile when ProfileList moves it to
    /// another SID, as NTUSER.DAT does on a real device.
    pub(super) fn reg_key(&self, key: &str) -> String {
        let lower = key.to_lowercase();
        if let Some(rest) = lower.strip_prefix("hku\\") {
            let (sid, tail) = rest.split_once('\\').unwrap_or((rest, ""));
            if let Ok(sid) = sid.parse::<Sid>() {
                if let Some(profile) = self.state.profile_list.get(&sid) {
                    return state::hive_key(&profile.profile_image_path, tail);
                }
            }
        }
        lower
    }

    /// The key an object of `area` has in the descriptor log: its path for the file system,
    /// `slug|name` for the other areas (`|` is never in a Windows path).
    pub(super) fn object_key(area: Area, object: &str) -> Result<String> {
        match area {
            Area::FileSystem => Ok(object.to_string()),
            Area::Registry
            | Area::FileShares
            | Area::Printers
            | Area::Services
            | Area::Sql
            | Area::Iis
            | Area::Dcom
            | Area::WmiNamespaces
            | Area::ScheduledTasks => Ok(format!("{}|{}", area.slug(), object)),
            Area::WindowsProfiles | Area::LocalGroups | Area::UserRights => {
                Err(Error::Unsupported {
                    action: format!("descriptors of {}", area.slug()),
                    reason: "this area holds no security descriptors; it has its own operations"
                        .to_string(),
                })
            }
        }
    }

    /// The descriptor held under `key` (a file path or `slug|name`).
    pub(super) fn descriptor_at(&self, key: &str) -> Option<&Vec<u8>> {
        if key.contains('|') {
            self.state.area_objects.get(key)
        } else {
            self.state.files.get(key)
        }
    }

    /// Every descriptor, as the log holds them.
    pub(super) fn all_descriptors(&self) -> store::Descriptors {
        let mut all = self.state.files.clone();
        all.extend(
            self.state
                .area_objects
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        all
    }

    /// Refuses `operation` when the faults say this device lacks it.
    pub(super) fn require(&self, operation: &str) -> Result<()> {
        if self.faults.lacks.iter().any(|l| l == operation) {
            return Err(Error::Unsupported {
                action: operation.to_string(),
                reason: "this simulated workstation was built without it".to_string(),
            });
        }
        Ok(())
    }

    /// Runs `change` on the state and saves when it changed something.
    pub(super) fn mutate(
        &mut self,
        operation: &str,
        change: impl FnOnce(&mut SimState) -> bool,
    ) -> Result<bool> {
        self.require(operation)?;
        let changed = change(&mut self.state);
        if changed {
            self.save()?;
        }
        Ok(changed)
    }

    pub(super) fn translate_profiles(
        &mut self,
        map: &SidMap,
        options: &TranslateOptions,
    ) -> Result<Effect> {
        let moves: Vec<(Sid, Sid)> = self
            .state
            .profile_list
            .keys()
            .filter_map(|sid| {
                map.get(sid)
                    .filter(|t| *t != sid)
                    .map(|t| (sid.clone(), t.clone()))
            })
            .collect();
        let mut changes = 0;
        for (source, target) in &moves {
            if self.state.profile_list.contains_key(target) {
                return Err(Error::Device(format!(
                    "{} already has a profile on this device; move it aside before {}'s profile can become theirs",
                    target, source
                )));
            }
            // A profile has exactly one owner, so it moves to the target SID in both modes; in Add
            // mode the source keeps access to the folder through its kept ACEs.
            if let Some(entry) = self.state.profile_list.remove(source) {
                changes += 1 + translate_file(
                    &mut self.state.files,
                    &mut self.log,
                    &entry.profile_image_path,
                    map,
                    options,
                )?;
                self.state.profile_list.insert(target.clone(), entry);
            }
        }
        Ok(if changes == 0 {
            Effect::unchanged("no profile to move")
        } else {
            Effect::changed(
                changes,
                format!("moved {} profile(s) to their target SID", moves.len()),
            )
        })
    }

    pub(super) fn translate_files(
        &mut self,
        map: &SidMap,
        options: &TranslateOptions,
    ) -> Result<Effect> {
        permissions::update_area(self, Area::FileSystem, map, options, &IgnoreList::default())
    }

    pub(super) fn translate_groups(&mut self, map: &SidMap, mode: TranslateMode) -> Result<Effect> {
        let mut changes = 0;
        for members in self.state.local_groups.values_mut() {
            let mut out: Vec<Sid> = Vec::with_capacity(members.len());
            for member in members.iter() {
                match (map.get(member).filter(|t| *t != member), mode) {
                    (Some(target), TranslateMode::Replace) => {
                        changes += 1;
                        push_unique(&mut out, target.clone());
                    }
                    (Some(target), TranslateMode::Add) => {
                        push_unique(&mut out, member.clone());
                        if !members.contains(target) {
                            changes += 1;
                        }
                        push_unique(&mut out, target.clone());
                    }
                    (None, _) => push_unique(&mut out, member.clone()),
                }
            }
            *members = out;
        }
        Ok(if changes == 0 {
            Effect::unchanged("no local group member to translate")
        } else {
            Effect::changed(
                changes,
                format!("translated {} local group member(s)", changes),
            )
        })
    }
}

pub(super) fn push_unique(members: &mut Vec<Sid>, sid: Sid) {
    if !members.contains(&sid) {
        members.push(sid);
    }
}

/// Translates the descriptor of `path` (if there is one), logging it when it changed; returns how
/// many changes it made.
pub(super) fn translate_file(
    files: &mut BTreeMap<String, Vec<u8>>,
    log: &mut DescriptorLog,
    path: &str,
    map: &SidMap,
    options: &TranslateOptions,
) -> Result<usize> {
    let bytes = match files.get_mut(path) {
        Some(bytes) => bytes,
        None => return Ok(0),
    };
    let mut sd = SecurityDescriptor::from_bytes(bytes).map_err(|e| {
        Error::Device(format!(
            "the security descriptor of {} cannot be read: {}",
            path, e
        ))
    })?;
    let changes = translate(&mut sd, map, options)?;
    if !changes.is_empty() {
        *bytes = sd.to_bytes();
        log.append(path, Some(bytes))?;
    }
    Ok(changes.len())
}

pub(super) fn descriptor_sids(path: &str, bytes: &[u8], out: &mut BTreeSet<Sid>) -> Result<()> {
    let sd = SecurityDescriptor::from_bytes(bytes).map_err(|e| {
        Error::Device(format!(
            "the security descriptor of {} cannot be read: {}",
            path, e
        ))
    })?;
    out.extend(sd.sids().cloned());
    Ok(())
}

impl SimWorkstation {
    pub(super) fn sim_join_entra(&mut self, tenant: &str) -> Result<Effect> {
        let effect = match self.state.join_state.clone() {
            JoinState::Entra { tenant: current } if current.eq_ignore_ascii_case(tenant) => {
                Effect::unchanged(format!("already joined to {}", tenant))
            }
            JoinState::Entra { tenant: current } => {
                return Err(Error::Device(format!(
                    "the device is joined to the Entra tenant {}; leave it before joining {}",
                    current, tenant
                )))
            }
            JoinState::ActiveDirectory { domain } => {
                return Err(Error::Device(format!(
                    "the device is joined to the domain {}; leave it before joining the Entra tenant {}",
                    domain, tenant
                )))
            }
            JoinState::Workgroup => {
                self.state.join_state = JoinState::Entra {
                    tenant: tenant.to_string(),
                };
                Effect::changed(1, format!("joined the Entra tenant {}", tenant))
            }
        };
        Ok(effect)
    }
}

impl SimWorkstation {
    /// Makes the device join Entra only with a provisioning package (as Windows does), and
    /// saves.
    pub fn join_entra_by_package(&mut self, by_package: bool) -> Result<()> {
        self.state.entra_join_by_package = by_package;
        self.save()
    }

    /// Makes the Entra tenant `tenant` accept only the provisioning package whose bytes hash to
    /// `sha256`, and saves.
    pub fn accept_provisioning_package(&mut self, tenant: &str, sha256: &str) -> Result<()> {
        self.state
            .entra_packages
            .insert(tenant.to_lowercase(), sha256.to_lowercase());
        self.save()
    }

    pub(super) fn sim_join_entra_with_package(
        &mut self,
        tenant: &str,
        package: &ProvisioningPackage,
    ) -> Result<Effect> {
        self.require("join_entra_with_package")?;
        package.bytes().map_err(Error::Device)?;
        let used = package.sha256.to_lowercase();
        let refused = matches!(
            self.state.entra_packages.get(&tenant.to_lowercase()),
            Some(accepted) if *accepted != used
        );
        if refused
            && !matches!(&self.state.join_state, JoinState::Entra { tenant: t } if t.eq_ignore_ascii_case(tenant))
        {
            return Err(Error::Device(format!(
                "the provisioning package {} did not join the device to the Entra tenant {}; nothing was changed",
                package.name, tenant
            )));
        }
        let effect = self.sim_join_entra(tenant)?;
        if effect.changes > 0 {
            self.state.entra_join_package = Some(used);
        }
        self.commit("device-state/join-entra", effect)
    }
}
