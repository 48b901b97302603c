//! The enveloped agent routes: check-in, translate, events, profiles. Each works on the
//! authenticated agent's own rows only.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::response::Response;
use model::ids::RunbookId;
use model::plan::TargetFacts;
use model::protocol::{
    kinds, Ack, CheckInRequest, CheckInResponse, CommandPackageRequest, CommandPackageResponse,
    DeviceAssignment, EventsAck, EventsUpload, ProfilesUpload, TranslateRequest, TranslateResponse,
};
use model::status::{AgentStatus, EventLevel};

use super::stages::Stage;
use super::uploads::AgentBody;
use super::{serve_envelope, Failure, Refusal, RemoteAddr};
use crate::store::agents::{Agent, AgentRun, RunUpdate};
use crate::{App, Result};
use model::assignment::{self, Applicable};

/// Most events one upload may carry; the agent sends more in several uploads.
pub const MAX_EVENTS_PER_UPLOAD: usize = 10_000;
/// Most SIDs one translate request may ask for.
pub const MAX_SIDS_PER_REQUEST: usize = 50_000;
/// Most profiles one device may report.
pub const MAX_PROFILES: usize = 10_000;

/// `POST /agent/check-in`.
pub(super) async fn check_in(
    State(app): State<App>,
    remote: RemoteAddr,
    AgentBody(body): AgentBody,
) -> Response {
    serve_envelope(
        &app,
        &remote,
        &body,
        kinds::CHECK_IN,
        |agent, req: CheckInRequest| {
            let app = app.clone();
            async move {
                let answer = check_in_for(&app, &agent, &req).await?;
                app.metrics.check_in();
                Ok(answer)
            }
        },
    )
    .await
}

/// Runbooks Completed on the device, as it says and as its events said.
fn completed(runs: &[AgentRun], reported: &[RunbookId]) -> HashSet<RunbookId> {
    let mut done: HashSet<RunbookId> = reported.iter().copied().collect();
    for run in runs {
        if run.status == AgentStatus::Completed {
            done.insert(run.runbook);
        }
    }
    done
}

async fn check_in_for(app: &App, agent: &Agent, req: &CheckInRequest) -> Result<CheckInResponse> {
    let now = app.clock.now();
    let stages = &app.metrics.stages;
    let started = Instant::now();
    let config = app.agent_cache.config(app).await?;
    // From memory in the steady state (`store::device_states`).
    let view = app.store.device_view(agent.id, now).await?;
    let runs = &view.runs;
    stages.since(Stage::Assignment, started);
    let done = completed(runs, &req.completed);
    let next = assignment::next(
        agent.directory,
        &agent.computer_guid,
        &config.batches,
        &config.runbooks,
        &done,
    );
    let Some(Applicable {
        batch,
        assignment: a,
        runbook,
    }) = next
    else {
        return Ok(CheckInResponse {
            assignment_digest: None,
            assignment: None,
            server_time: now,
            blocked: None,
            readiness_due: false,
        });
    };
    let started = Instant::now();
    if let Some(blocked) =
        crate::licences::admit(app, &config, agent, batch, runbook.id, req.final_check).await?
    {
        return Ok(CheckInResponse {
            assignment_digest: None,
            assignment: None,
            server_time: now,
            blocked: Some(blocked),
            readiness_due: false,
        });
    }
    // A device whose checks block it does not start: the final check-in holds the runbook back.
    if req.final_check {
        if let Some(blocked) =
            crate::migration::readiness::gate(app, agent.id, batch.id, runbook).await?
        {
            return Ok(CheckInResponse {
                assignment_digest: None,
                assignment: None,
                server_time: now,
                blocked: Some(blocked),
                readiness_due: false,
            });
        }
    }
    let readiness_due =
        crate::migration::readiness::due(app, agent.id, batch.id, runbook.id).await?;
    let target = config
        .directories
        .get(&batch.target_directory)
        .ok_or(crate::Error::NotFound("target directory"))?;
    stages.since(Stage::Gates, started);
    let started = Instant::now();
    let status = assignment::waiting_status(a, now);
    let run = runs.iter().find(|r| r.runbook == runbook.id);
    match run {
        None => {
            if !app
                .store
                .create_run(agent.id, runbook.id, batch.id, status, now)
                .await?
            {
                app.store
                    .refresh_waiting_run(agent.id, runbook.id, batch.id, status, now)
                    .await?;
            }
        }
        // Only a run still waiting moves, and only when its status or batch changes; the store
        // checks the same again, in case the run moved since it was read.
        Some(r)
            if matches!(
                r.status,
                AgentStatus::NotAvailable | AgentStatus::NotStarted
            ) && (r.status != status || r.batch != Some(batch.id)) =>
        {
            app.store
                .refresh_waiting_run(agent.id, runbook.id, batch.id, status, now)
                .await?;
        }
        Some(_) => {}
    }
    stages.since(Stage::RunWrite, started);
    if req.final_check {
        app.store
            .record_final_check(agent.id, runbook.id, now)
            .await?;
    }
    // A run an operator retried goes again on a device whose journal honoured fewer retries.
    let retry = run.map_or(0, |r| r.retries);
    // Passwords and the bulk token only for the run that is about to start (see `secrets_due`).
    let (secrets, bulk_token, offline_join, provisioning_package) = if req.final_check {
        let stored = app.store.runbook_secrets(runbook.id).await?;
        // The name as the check-in just recorded it, not as cached.
        let computer_name = app
            .store
            .agent(agent.id)
            .await?
            .map_or_else(|| agent.computer_name.clone(), |a| a.computer_name);
        let offline_join = crate::migration::offline_join::for_device(
            app,
            runbook,
            &target.domain,
            &computer_name,
            &stored,
        )
        .await;
        (
            super::secrets_due::needed(runbook, stored),
            crate::enrollment::token_for_assignment(app, runbook, target.id).await?,
            offline_join,
            crate::enrollment::provisioning::package_for_assignment(app, runbook, target.id)
                .await?,
        )
    } else {
        (Default::default(), None, None, None)
    };
    let (bulk_token, bulk_token_expires_at) = match bulk_token {
        Some((token, expires)) => (Some(token), Some(expires)),
        None => (None, None),
    };
    let target = TargetFacts {
        domain: target.domain.clone(),
    };
    let (available_from, enforced_after) = (a.available(), a.enforced());
    // A regular check-in's assignment is the runbook (by its own digest), the batch, the target
    // and the schedule (it carries no passwords or tokens): a device that names this digest
    // holds the same assignment, and the runbook is neither copied nor sent again. The final
    // check-in's answer, which carries the passwords and tokens, is always sent in full.
    // (A runbook without its digest, which the one `Config` never gives, is sent in full.)
    let digest = match config.runbook_digests.get(&runbook.id) {
        Some(runbook_digest) if !req.final_check => {
            let mut print = runbook_digest.clone().into_bytes();
            let rest = (batch.id, &target, &available_from, &enforced_after, retry);
            serde_json::to_writer(&mut print, &rest)
                .map_err(|e| crate::Error::Internal(format!("an assignment's digest: {}", e)))?;
            Some(model::protocol::sha256_hex(&print))
        }
        _ => None,
    };
    let held = req.held_assignment.is_some() && req.held_assignment == digest;
    let assignment = (!held).then(|| {
        Arc::new(DeviceAssignment {
            batch: batch.id,
            runbook: runbook.clone(),
            secrets,
            target,
            bulk_token,
            bulk_token_expires_at,
            offline_join,
            provisioning_package,
            available_from,
            enforced_after,
            retry,
        })
    });
    Ok(CheckInResponse {
        assignment_digest: digest,
        assignment,
        server_time: now,
        blocked: None,
        readiness_due,
    })
}

/// `POST /agent/command-package`: a package of the runbook the device runs next, and no other.
pub(super) async fn command_package(
    State(app): State<App>,
    remote: RemoteAddr,
    AgentBody(body): AgentBody,
) -> Response {
    serve_runbook_file(
        &app,
        &remote,
        &body,
        kinds::COMMAND_PACKAGE,
        "no runbook assigned to this device runs that package",
        |app, runbook, sha256| async move {
            let named = crate::packages::packages_of(&runbook)
                .iter()
                .any(|(_, p)| p.sha256 == sha256);
            if named {
                app.store.package_bytes(&sha256).await
            } else {
                Ok(None)
            }
        },
    )
    .await
}

/// Answers a request for a file the device's next runbook names by hash (`kind`): the bytes
/// `bytes_of` finds for that runbook and hash, or a refusal saying `refusal`.
async fn serve_runbook_file<F, Fut>(
    app: &App,
    remote: &RemoteAddr,
    body: &axum::body::Bytes,
    kind: &str,
    refusal: &'static str,
    bytes_of: F,
) -> Response
where
    F: FnOnce(App, model::runbook::Runbook, String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Vec<u8>>>>,
{
    serve_envelope(
        app,
        remote,
        body,
        kind,
        |agent, req: CommandPackageRequest| {
            let app = app.clone();
            async move {
                let sha256 = req.sha256.to_ascii_lowercase();
                let bytes = match next_runbook(&app, &agent).await? {
                    Some(runbook) => bytes_of(app.clone(), runbook, sha256.clone()).await?,
                    None => None,
                };
                match bytes {
                    Some(bytes) => Ok(CommandPackageResponse::new(&sha256, &bytes)),
                    None => Err(Refusal::forbidden("not_assigned", refusal)
                        .computer(Some(agent.computer_name.clone()))
                        .into()),
                }
            }
        },
    )
    .await
}

/// The runbook the device runs next, if any.
async fn next_runbook(app: &App, agent: &Agent) -> Result<Option<model::runbook::Runbook>> {
    let config = app.agent_cache.config(app).await?;
    let done = completed(&app.store.runs_of_agent(agent.id).await?, &[]);
    Ok(assignment::next(
        agent.directory,
        &agent.computer_guid,
        &config.batches,
        &config.runbooks,
        &done,
    )
    .map(|a| a.runbook.clone()))
}

/// `POST /agent/lock-screen-image`: the custom lock-screen image of the runbook the device runs
/// next, and no other.
pub(super) async fn lock_screen_image(
    State(app): State<App>,
    remote: RemoteAddr,
    AgentBody(body): AgentBody,
) -> Response {
    serve_runbook_file(
        &app,
        &remote,
        &body,
        kinds::LOCK_SCREEN_IMAGE,
        "no runbook assigned to this device shows that lock-screen image",
        |app, runbook, sha256| async move {
            crate::lock_screen::image_of(&app, &runbook, &sha256).await
        },
    )
    .await
}

/// `POST /agent/translate`: translations of the SIDs asked for, into the target of the device's
/// current assignment, and nothing else of the table.
pub(super) async fn translate(
    State(app): State<App>,
    remote: RemoteAddr,
    AgentBody(body): AgentBody,
) -> Response {
    serve_envelope(
        &app,
        &remote,
        &body,
        kinds::TRANSLATE,
        |agent, req: TranslateRequest| {
            let app = app.clone();
            async move {
                if req.sids.len() > MAX_SIDS_PER_REQUEST {
                    return Err(Refusal::malformed(format!(
                        "at most {} SIDs per request",
                        MAX_SIDS_PER_REQUEST
                    ))
                    .computer(Some(agent.computer_name.clone()))
                    .into());
                }
                Ok(translate_for(&app, &agent, &req).await?)
            }
        },
    )
    .await
}

async fn translate_for(
    app: &App,
    agent: &Agent,
    req: &TranslateRequest,
) -> Result<TranslateResponse> {
    let config = app.agent_cache.config(app).await?;
    let done = completed(&app.store.runs_of_agent(agent.id).await?, &[]);
    // Without an assignment there is no target to translate to.
    let Some(current) = assignment::next(
        agent.directory,
        &agent.computer_guid,
        &config.batches,
        &config.runbooks,
        &done,
    ) else {
        return Ok(TranslateResponse {
            translations: Vec::new(),
        });
    };
    let mut sids = req.sids.clone();
    sids.sort_by_key(|s| s.to_string());
    sids.dedup();
    let answer = crate::directory::device_translation::for_assignment(
        app,
        current.batch,
        current.runbook,
        &sids,
    )
    .await?;
    for refused in &answer.untranslated {
        tracing::warn!(
            computer = %agent.computer_name,
            sid = %refused.sid,
            "no translation for a SID the device holds: {}",
            refused.reason
        );
    }
    Ok(TranslateResponse {
        translations: answer.translations,
    })
}

/// `POST /agent/events`: stores each (agent, seq) once and moves the agent's runs along.
pub(super) async fn events(
    State(app): State<App>,
    remote: RemoteAddr,
    AgentBody(body): AgentBody,
) -> Response {
    serve_envelope(
        &app,
        &remote,
        &body,
        kinds::EVENTS,
        |agent, req: EventsUpload| {
            let app = app.clone();
            async move {
                let name = Some(agent.computer_name.clone());
                if req.events.len() > MAX_EVENTS_PER_UPLOAD {
                    let message = format!("at most {} events per upload", MAX_EVENTS_PER_UPLOAD);
                    return Err(Failure::from(Refusal::malformed(message).computer(name)));
                }
                if req.events.iter().any(|e| i64::try_from(e.seq).is_err()) {
                    return Err(Refusal::malformed("an event sequence number is too large")
                        .computer(name)
                        .into());
                }
                Ok(events_for(&app, &agent, &req).await?)
            }
        },
    )
    .await
}

/// Folds the events of one upload into one change per runbook, in sequence order.
pub fn fold_runs(upload: &EventsUpload) -> BTreeMap<RunbookId, RunUpdate> {
    let mut events: Vec<_> = upload.events.iter().collect();
    events.sort_by_key(|e| e.seq);
    let mut updates: BTreeMap<RunbookId, RunUpdate> = BTreeMap::new();
    for e in events {
        let Some(runbook) = e.runbook else { continue };
        let carries = e.status.is_some()
            || e.phase.is_some()
            || e.step.is_some()
            || e.level == EventLevel::Error;
        if !carries {
            continue;
        }
        let u = updates.entry(runbook).or_default();
        u.status = e.status.or(u.status);
        u.phase = e.phase.or(u.phase);
        if e.step.is_some() {
            u.step = e.step.clone();
        }
        if e.level == EventLevel::Error {
            u.last_error = Some(e.message.clone());
        }
        u.seq = i64::try_from(e.seq).unwrap_or(i64::MAX);
    }
    updates
}

async fn events_for(app: &App, agent: &Agent, req: &EventsUpload) -> Result<EventsAck> {
    let now = app.clock.now();
    let started = Instant::now();
    let stored = app.store.insert_events(agent.id, &req.events, now).await?;
    app.metrics.stages.since(Stage::StoreEvents, started);
    app.metrics.events_stored(stored);
    for (runbook, update) in fold_runs(req) {
        app.store
            .apply_run_update(agent.id, runbook, &update, now)
            .await?;
    }
    let through = app.store.last_event_seq(agent.id).await?;
    Ok(EventsAck { through, stored })
}

/// `POST /agent/profiles`: replaces the device's harvested profiles.
pub(super) async fn profiles(
    State(app): State<App>,
    remote: RemoteAddr,
    AgentBody(body): AgentBody,
) -> Response {
    serve_envelope(
        &app,
        &remote,
        &body,
        kinds::PROFILES,
        |agent, req: ProfilesUpload| {
            let app = app.clone();
            async move {
                if req.profiles.len() > MAX_PROFILES {
                    let message = format!("at most {} profiles", MAX_PROFILES);
                    return Err(Failure::from(
                        Refusal::malformed(message).computer(Some(agent.computer_name.clone())),
                    ));
                }
                let now = app.clock.now();
                app.store
                    .replace_profiles(agent.id, &req.profiles, now)
                    .await?;
                Ok(Ack {
                    accepted: req.profiles.len() as u64,
                })
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use model::protocol::AgentEvent;
    use model::status::Phase;

    fn event(
        seq: u64,
        runbook: RunbookId,
        status: Option<AgentStatus>,
        level: EventLevel,
    ) -> AgentEvent {
        AgentEvent {
            seq,
            at: Utc
                .with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
                .single()
                .expect("valid instant"),
            level,
            runbook: Some(runbook),
            phase: Some(Phase::Startup),
            step: Some(format!("s{seq}")),
            status,
            message: format!("m{seq}"),
        }
    }

    #[test]
    fn events_fold_in_sequence_order_per_runbook() {
        let (a, b) = (RunbookId::new(), RunbookId::new());
        let upload = EventsUpload {
            events: vec![
                event(3, a, None, EventLevel::Error),
                event(1, a, Some(AgentStatus::InProgress), EventLevel::Info),
                event(2, b, Some(AgentStatus::Completed), EventLevel::Info),
                AgentEvent {
                    runbook: None,
                    ..event(4, a, Some(AgentStatus::Error), EventLevel::Info)
                },
            ],
        };
        let folded = fold_runs(&upload);
        let ua = &folded[&a];
        assert_eq!(
            (
                ua.status,
                ua.step.as_deref(),
                ua.last_error.as_deref(),
                ua.seq
            ),
            (Some(AgentStatus::InProgress), Some("s3"), Some("m3"), 3)
        );
        assert_eq!(folded[&b].status, Some(AgentStatus::Completed));
        assert_eq!(folded.len(), 2, "an event without a runbook changes no run");
    }
}
