//! What a device's SIDs translate to: every SID of a translated source object (its own, its
//! on-premises one, its sIDHistory) finds the object's row, and the row gives the target SID the
//! target user or group will have on that device after the runbook's join
//! ([`model::translation::choose`]), with the reason, which the plan preview shows.

use std::collections::BTreeMap;

use model::batch::Batch;
use model::directory::TranslationEntry;
use model::ids::DirectoryId;
use model::protocol::SidTranslation;
use model::runbook::Runbook;
use model::translation::{choose, JoinChange};
use secdesc::Sid;

use crate::store::translations::DeviceRow;
use crate::{App, Result};

/// One SID the device sent that gets no translation although a row holds it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslated {
    /// The SID found on the device.
    pub sid: Sid,
    /// Why it gets none.
    pub reason: String,
}

/// The answer for one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceTranslations {
    /// One per SID that translates.
    pub translations: Vec<SidTranslation>,
    /// SIDs held by a row that still get no translation.
    pub untranslated: Vec<Untranslated>,
}

/// The translations of `sids`, found on a device that `batch` assigns `runbook`: into the batch's
/// target, for the runbook's join. The agent API answers a device with this, and the server's plan
/// of a device shows it, so both say the same.
pub async fn for_assignment(
    app: &App,
    batch: &Batch,
    runbook: &Runbook,
    sids: &[Sid],
) -> Result<DeviceTranslations> {
    for_device(
        app,
        batch.source_directory,
        batch.target_directory,
        runbook.device_state.domain_join.into(),
        sids,
    )
    .await
}

/// The translations into `target` of `sids`, found on a device of a batch from `source` whose
/// runbook makes `join`. When several source objects hold a SID (an AD directory and the tenant it
/// is synchronised to, both imported), the batch's source directory decides; if their answers still
/// differ, the SID gets none rather than a guess.
pub async fn for_device(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    join: JoinChange,
    sids: &[Sid],
) -> Result<DeviceTranslations> {
    let rows = app.store.translations_for_device(target, sids).await?;
    let mut by_sid: BTreeMap<Sid, Vec<DeviceRow>> = BTreeMap::new();
    for row in rows {
        by_sid.entry(row.found.clone()).or_default().push(row);
    }
    let mut out = DeviceTranslations::default();
    for (found, entries) in by_sid {
        match decide(source, join, &found, &entries) {
            Ok(translation) => out.translations.push(translation),
            Err(reason) => out.untranslated.push(Untranslated { sid: found, reason }),
        }
    }
    Ok(out)
}

fn decide(
    source: DirectoryId,
    join: JoinChange,
    found: &Sid,
    rows: &[DeviceRow],
) -> std::result::Result<SidTranslation, String> {
    let from_source: Vec<&DeviceRow> = rows
        .iter()
        .filter(|r| r.entry.source.directory == source)
        .collect();
    let candidates: Vec<&DeviceRow> = if from_source.is_empty() {
        rows.iter().collect()
    } else {
        from_source
    };
    let mut chosen: Vec<(&TranslationEntry, model::translation::Choice)> = Vec::new();
    let mut refusals = Vec::new();
    for DeviceRow {
        entry,
        target_stored,
        ..
    } in candidates
    {
        // An import deleted the target since the pair was last matched: its SID names nobody.
        if !target_stored {
            refusals.push(format!(
                "its target {} ({}) is no longer in the target directory; match the pair again",
                entry.target.name, entry.target.sid
            ));
            continue;
        }
        match choose(join, found, &entry.target) {
            Ok(choice) => {
                if !chosen.iter().any(|(_, c)| c.target == choice.target) {
                    chosen.push((entry, choice));
                }
            }
            Err(why) => refusals.push(why),
        }
    }
    match chosen.len() {
        1 => {
            let (entry, choice) = chosen.remove(0);
            Ok(SidTranslation {
                kind: entry.kind,
                source: found.clone(),
                target: choice.target,
                target_name: entry.target.name.clone(),
                target_upn: entry.target.upn.clone(),
                reason: Some(choice.reason),
            })
        }
        0 => Err(refusals.join("; ")),
        _ => Err(format!(
            "{} source objects hold this SID and translate it to different targets: {}",
            chosen.len(),
            chosen
                .iter()
                .map(|(e, c)| format!("{} → {}", e.source.name, c.target))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
