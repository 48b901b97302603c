//! Operations on a source and target pair: its match profile, matching it into the translation
//! table, what a run would change, and why one object matched or did not.

use model::ids::DirectoryId;
use tokio::sync::OwnedRwLockReadGuard;

use super::cache::{self, CachedObject, ObjectCache};
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
        .filter(|o| matching::translatable(o.kind))
        .collect()
}

/// A checked pair ready to match: the profile a run uses and both directories' current caches,
/// held for reading until it is dropped.
struct OpenPair {
    profile: MatchProfile,
    source: OwnedRwLockReadGuard<ObjectCache>,
    target: OwnedRwLockReadGuard<ObjectCache>,
}

impl OpenPair {
    /// Checks the pair, takes `given` (checked) or else the pair's stored profile, and reads the
    /// current caches of both directories, the source's first.
    async fn open(
        app: &App,
        source: DirectoryId,
        target: DirectoryId,
        given: Option<MatchProfile>,
    ) -> Result<OpenPair> {
        check_pair(app, source, target).await?;
        let profile = match given {
            Some(profile) => {
                profile.validate()?;
                profile
            }
            None => pair_profile(app, source, target).await?,
        };
        let source_slot = app.caches.current(&app.store, source).await?;
        let target_slot = app.caches.current(&app.store, target).await?;
        Ok(OpenPair {
            profile,
            source: source_slot.read_owned().await,
            target: target_slot.read_owned().await,
        })
    }

    /// The users and groups of both sides, and how the profile pairs them.
    fn run(&self) -> PairRun<'_> {
        let sources = translatable(&self.source);
        let targets = translatable(&self.target);
        let outcomes = matching::run_profile(&self.profile, &sources, &targets);
        PairRun {
            sources,
            targets,
            outcomes,
        }
    }
}

/// One run of a pair's profile over its users and groups.
struct PairRun<'a> {
    sources: Vec<&'a CachedObject>,
    targets: Vec<&'a CachedObject>,
    outcomes: Vec<matching::Pairing>,
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
    let started = std::time::Instant::now();
    let pair = OpenPair::open(app, source, target, profile).await?;
    let summary = matching::run_pair(
        &app.store,
        &app.pairs,
        (source, target),
        &pair.profile,
        &crate::store::to_json(&pair.profile)?,
        &pair.source,
        &pair.target,
        app.clock.now(),
    )
    .await?;
    app.metrics.match_run(source, target, started.elapsed());
    Ok(summary)
}

/// What matching `source` → `target` under `profile` (the stored one when `None`) would change in
/// the translation table, without changing it: try a profile before running it.
pub async fn what_if(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    profile: Option<MatchProfile>,
) -> Result<matching::WhatIf> {
    let pair = OpenPair::open(app, source, target, profile).await?;
    let run = pair.run();
    matching::what_if(
        &app.store,
        &app.pairs,
        source,
        target,
        &run.sources,
        &run.targets,
        &run.outcomes,
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
    let pair = OpenPair::open(app, source, target, None).await?;
    let sources = translatable(&pair.source);
    let targets = translatable(&pair.target);
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
    let matcher = profile::Matcher::new(&pair.profile, &targets);
    let outcomes = matcher.match_all(&sources);
    Ok(matcher.explain(&sources, &outcomes, index))
}

fn is_called(object: &CachedObject, who: &str) -> bool {
    let who = who.trim();
    object.guid.to_string().eq_ignore_ascii_case(who)
        || object
            .sid()
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
