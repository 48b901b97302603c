//! `rehome agent waive`: lets one blocking readiness check pass for one device, recorded with who
//! and why in the waiver and in the audit trail.

use anyhow::{Context, Result};

/// Waives `check` of `agent` for `runbook`, as `by`, because of `reason`.
pub async fn waive(
    app: &server::App,
    agent: &str,
    runbook: &str,
    check: &str,
    reason: &str,
    by: &str,
) -> Result<()> {
    let agent_id: model::ids::AgentId = agent
        .parse()
        .map_err(|_| anyhow::anyhow!("--agent {:?} is not an agent id", agent))?;
    let runbook_id: model::ids::RunbookId = runbook
        .parse()
        .map_err(|_| anyhow::anyhow!("--runbook {:?} is not a runbook id", runbook))?;
    if by.trim().is_empty() {
        anyhow::bail!("--by names who waives the check");
    }
    let actor = format!("{} (command line)", by.trim());
    let waiver =
        server::migration::readiness::waive(app, agent_id, runbook_id, check, reason, &actor)
            .await
            .context("waive the check")?;
    let mut entry = server::audit::entry(
        app,
        &actor,
        None,
        &format!("rehome agent waive --agent {agent_id} --runbook {runbook_id} --check {check}"),
    );
    entry.after = Some(serde_json::json!({
        "check": waiver.check,
        "reason": waiver.reason,
        "waived_by": waiver.waived_by,
    }));
    server::audit::record(app, entry).await;
    println!(
        "{} no longer holds back runbook {} on agent {}: waived by {} because {}",
        waiver.check, runbook_id, agent_id, waiver.waived_by, waiver.reason
    );
    Ok(())
}
