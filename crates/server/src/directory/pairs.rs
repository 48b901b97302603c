//! Operations on a source and target pair: its match profile, matching it into the translation
//! table, what a run would change, and why one object matched or did not.

use model::ids::DirectoryId;

use super::cache::{self, CachedObject};
use super::matching::{self, MatchSummary};
use super::profile::{self, MatchProfile};
use crate::{App, Error, Result};

/// Matches by one attribute (ignoring case, sIDHistory first): [`match_pair`] with that profile.
pub async fn match_users(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    attribute: model::directory::MatchAttribute,
) -> Result<MatchSummary> {
    let attr = profile::Attribute::parse(attribute.as_str())
        .ok_or_else(|| Error::field("attribute", "not an attribute a profile can compare"))?;
    let profile = MatchProfile::by_attribute(attribute.as_str(), attr);
    match_pair(app, source, target, Some(profile)).await
}

async fn check_pair(app: &App, source: DirectoryId, target: DirectoryId) -> Result<()> {
    if source == target {
        return Err(Error::field(
            "target",
            "the target directory must differ from the source directory",
        ));
    }
    app.store
        .directory(source)
        .await?
        .ok_or_else(|| Error::field("source", "no such directory"))?;
    app.store
        .directory(target)
        .await?
        .ok_or_else(|| Error::field("target", "no such directory"))?;
    Ok(())
}

/// The profile a pair matches with: the one stored for it, else the default (sAMAccountName).
pub async fn pair_profile(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
) -> Result<MatchProfile> {
    match app.store.pair_profile(source, target).await? {
        Some(text) => crate::store::parse_json("match profile", &text),
        None => Ok(MatchProfile::default()),
    }
}

/// Stores the profile `source` → `target` matches with from now on, without running it.
pub async fn set_pair_profile(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    profile: &MatchProfile,
) -> Result<()> {
    check_pair(app, source, target).await?;
    profile.validate()?;
    app.store
        .set_pair_profile(
            source,
            target,
            &crate::store::to_json(profile)?,
            app.clock.now(),
        )
        .await
}

/// The users and groups of a cache: the only objects matching looks at.
pub fn translatable(view: &cache::ObjectCache) -> Vec<&CachedObject> {
    view.objects()
        .iter()
        .filter(|o| matching::translatable(o.kind))
        .collect()
}

/// The profile a run of the pair uses, after checking the pair: `given`, checked, else the
/// pair's stored one.
async fn profile_for(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    given: Option<MatchProfile>,
) -> Result<MatchProfile> {
    check_pair(app, source, target).await?;
    match given {
        Some(profile) => {
            profile.validate()?;
            Ok(profile)
        }
        None => pair_profile(app, source, target).await,
    }
}

/// The current caches of the pair's two directories.
async fn pair_slots(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
) -> Result<(cache::CacheSlot, cache::CacheSlot)> {
    Ok((
        app.caches.current(&app.store, source).await?,
        app.caches.current(&app.store, target).await?,
    ))
}

/// Matches the users and groups of `source` to those of `target` under `profile` (the pair's
/// stored one when `None`, which a given one replaces), one to one, and makes the translation
/// table between the two equal to the result, with a message on every source object left unpaired.
pub async fn match_pair(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    profile: Option<MatchProfile>,
) -> Result<MatchSummary> {
    let profile = profile_for(app, source, target, profile).await?;
    let (source_slot, target_slot) = pair_slots(app, source, target).await?;
    let source_view = source_slot.read().await;
    let target_view = target_slot.read().await;
    let sources = translatable(&source_view);
    let targets = translatable(&target_view);
    let outcomes = matching::run_profile(&profile, &sources, &targets);
    matching::persist(
        &app.store,
        &app.pairs,
        source,
        target,
        &sources,
        &targets,
        &outcomes,
        &crate::store::to_json(&profile)?,
        app.clock.now(),
    )
    .await
}

/// What matching `source` → `target` under `profile` (the stored one when `None`) would change in
/// the translation table, without changing it: try a profile before running it.
pub async fn what_if(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    profile: Option<MatchProfile>,
) -> Result<matching::WhatIf> {
    let profile = profile_for(app, source, target, profile).await?;
    let (source_slot, target_slot) = pair_slots(app, source, target).await?;
    let source_view = source_slot.read().await;
    let target_view = target_slot.read().await;
    let sources = translatable(&source_view);
    let targets = translatable(&target_view);
    let outcomes = matching::run_profile(&profile, &sources, &targets);
    matching::what_if(
        &app.store,
        &app.pairs,
        source,
        target,
        &sources,
        &targets,
        &outcomes,
        app.clock.now(),
    )
    .await
}

/// Why the source user or group `who` (GUID, SID, UPN, sAMAccountName or name, ignoring case)
/// matched or did not, rule by rule, under the pair's profile.
pub async fn explain_match(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    who: &str,
) -> Result<profile::Explanation> {
    let profile = profile_for(app, source, target, None).await?;
    let (source_slot, target_slot) = pair_slots(app, source, target).await?;
    let source_view = source_slot.read().await;
    let target_view = target_slot.read().await;
    let sources = translatable(&source_view);
    let targets = translatable(&target_view);
    let found: Vec<usize> = sources
        .iter()
        .enumerate()
        .filter(|(_, o)| is_called(o, who))
        .map(|(i, _)| i)
        .collect();
    let index = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(Error::field(
                "user",
                format!("no source user or group is called {:?}", who),
            ))
        }
        several => {
            let names: Vec<String> = several
                .iter()
                .take(5)
                .map(|&i| format!("{} ({})", sources[i].name(), sources[i].guid))
                .collect();
            return Err(Error::field(
                "user",
                format!(
                    "{} source objects are called {:?}: {}; give a GUID",
                    several.len(),
                    who,
                    names.join(", ")
                ),
            ));
        }
    };
    let matcher = profile::Matcher::new(&profile, &targets);
    let outcomes = matcher.match_all(&sources);
    Ok(matcher.explain(&sources, &outcomes, index))
}

fn is_called(object: &CachedObject, who: &str) -> bool {
    let who = who.trim();
    object.guid.to_string().eq_ignore_ascii_case(who)
        || object
            .sid
            .as_ref()
            .is_some_and(|s| s.to_string().eq_ignore_ascii_case(who))
        || [
            cache::Attr::Upn,
            cache::Attr::Sam,
            cache::Attr::Name,
            cache::Attr::Mail,
        ]
        .iter()
        .any(|a| object.get(*a).is_some_and(|v| v.eq_ignore_ascii_case(who)))
}
