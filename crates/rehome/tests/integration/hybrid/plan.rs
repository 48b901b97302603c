//! The server's plan of a registered device (`GET /api/v1/agents/{id}/plan`) names, for each
//! profile the device harvested, the target SID its runbook's join will use and why, and why a
//! profile gets none. Each device also holds the profile of a source-domain user nobody matched, so
//! its pre-flight stops the run before anything changes: the runbook stays the one it runs next.

use serde_json::Value;

use super::*;

/// A profile of the source domain whose user is in no directory: it has no translation.
const STRANGER: &str = "S-1-5-21-100-200-300-1199";
/// A local account of the device: no translation either, and none expected.
const LOCAL: &str = "S-1-5-21-11-22-33-1001";

impl Stage {
    /// Runs the agent on `spec` (with the stranger's and the local account's profiles added),
    /// checks that its pre-flight stopped the run with nothing changed, and answers the device's
    /// plan as `GET /api/v1/agents/{id}/plan` does.
    async fn plan_of_stopped_device(&self, mut spec: SimSpec) -> Value {
        spec.users.push(SimUser {
            sid: sid(STRANGER),
            name: "stranger".to_string(),
        });
        spec.users.push(SimUser {
            sid: sid(LOCAL),
            name: "kiosk".to_string(),
        });
        let dir = self.dir.path().join(&spec.computer_name);
        SimWorkstation::create(&dir, &spec).expect("create the workstation");
        let before = SimWorkstation::load(&dir)
            .expect("the workstation")
            .profile_list;
        let mut config = AgentConfig::new(&self.url, &self.psk, &dir);
        config.exit_when_idle = true;
        let exit = blocking(move || agent::run(&config))
            .await
            .expect("the agent runs");
        assert!(
            matches!(
                exit,
                Exit::Idle {
                    status: AgentStatus::Error,
                    ..
                }
            ),
            "{:?}",
            exit
        );
        let after = SimWorkstation::load(&dir).expect("the workstation");
        assert_eq!(after.profile_list, before, "the pre-flight changed nothing");

        let token = self.viewer_token().await;
        let agent = self.app.store.agents().await.expect("agents")[0].id;
        let body = self
            .get(&token, &format!("/api/v1/agents/{agent}/plan"))
            .await;
        serde_json::from_slice(&body).expect("json")
    }
}

/// The plan's entry for the profile at `path`, among `list`.
fn entry<'a>(plan: &'a Value, list: &str, key: &str, path: &str) -> &'a Value {
    plan[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {} in {}", list, plan))
        .iter()
        .find(|e| e[key] == path)
        .unwrap_or_else(|| panic!("{} not in {}: {:#}", path, list, plan))
}

/// The two profiles without a translation: the stranger's stops the run (its domain is
/// translated), the local account's is left as it is.
fn assert_untranslated(plan: &Value) {
    let stranger = entry(plan, "untranslated_profiles", "path", "C:\\Users\\stranger");
    assert_eq!(stranger["sid"], STRANGER);
    assert_eq!(stranger["stops_run"], true, "{:#}", stranger);
    assert!(
        stranger["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no source object")),
        "{:#}",
        stranger
    );
    let local = entry(plan, "untranslated_profiles", "path", "C:\\Users\\kiosk");
    assert_eq!(local["sid"], LOCAL);
    assert_eq!(local["stops_run"], false, "{:#}", local);
    assert!(
        local["reason"]
            .as_str()
            .is_some_and(|r| r.contains("local account")),
        "{:#}",
        local
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_of_a_hybrid_device_joining_entra_names_the_cloud_sid_and_why() {
    let stage = Stage::start().await;
    let alice = ad_user("Alice", "S-1-5-21-100-200-300-1104");
    let admins = ad_group("Workstation Admins", "S-1-5-21-100-200-300-3001");
    let source = Side {
        name: "CONTOSO-AD",
        kind: DirectoryKind::ActiveDirectory,
        domain: "contoso.test",
        objects: vec![alice.clone(), admins.clone(), computer(COMPUTER)],
    };
    let c_alice = cloud(ObjectKind::User, "Alice", Some(&alice), "alice");
    let c_admins = cloud(
        ObjectKind::Group,
        "Workstation Admins",
        Some(&admins),
        "admins",
    );
    let target = Side {
        name: "CONTOSO-ENTRA",
        kind: DirectoryKind::EntraId,
        domain: "contoso.onmicrosoft.com",
        objects: vec![c_alice.clone(), c_admins],
    };
    stage
        .assign(
            &source,
            &target,
            profile::hybrid_anchors(),
            (RemoveFrom::ActiveDirectory, DomainJoin::Entra),
        )
        .await;
    let a1 = alice.sid.clone().unwrap();
    let g1 = admins.sid.clone().unwrap();
    let spec = workstation(ad_joined("contoso.test"), &[(&alice, &a1)], &g1);
    let plan = stage.plan_of_stopped_device(spec).await;

    let change = entry(&plan, "sid_changes", "profile", "C:\\Users\\alice");
    assert_eq!(change["source"], a1.to_string());
    // The S-1-12-1 SID Alice signs in with after the Entra join, not the on-premises SID her
    // synchronised cloud object also carries.
    let cloud_sid = c_alice.sid.clone().unwrap().to_string();
    assert!(cloud_sid.starts_with("S-1-12-1-"));
    assert_eq!(change["target"], cloud_sid, "{:#}", change);
    assert_eq!(
        change["reason"],
        format!(
            "Entra join: the target's Entra SID, not its on-premises SID {}",
            a1
        )
    );
    assert_untranslated(&plan);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_of_a_device_joining_another_ad_domain_names_the_ad_sid_and_why() {
    let stage = Stage::start().await;
    let alice = ad_user("Alice", "S-1-5-21-100-200-300-1104");
    let admins = ad_group("Workstation Admins", "S-1-5-21-100-200-300-3001");
    let source = Side {
        name: "CONTOSO",
        kind: DirectoryKind::ActiveDirectory,
        domain: "contoso.test",
        objects: vec![alice.clone(), admins.clone(), computer(COMPUTER)],
    };
    let t_alice = ad_user("Alice", "S-1-5-21-400-500-600-1201");
    let t_admins = ad_group("Workstation Admins", "S-1-5-21-400-500-600-3101");
    let target = Side {
        name: "FABRIKAM",
        kind: DirectoryKind::ActiveDirectory,
        domain: "fabrikam.test",
        objects: vec![t_alice.clone(), t_admins],
    };
    stage
        .assign(
            &source,
            &target,
            MatchProfile::default(),
            (RemoveFrom::ActiveDirectory, DomainJoin::ActiveDirectory),
        )
        .await;
    let a1 = alice.sid.clone().unwrap();
    let g1 = admins.sid.clone().unwrap();
    let spec = workstation(ad_joined("contoso.test"), &[(&alice, &a1)], &g1);
    let plan = stage.plan_of_stopped_device(spec).await;

    let change = entry(&plan, "sid_changes", "profile", "C:\\Users\\alice");
    assert_eq!(change["source"], a1.to_string());
    assert_eq!(change["target"], t_alice.sid.clone().unwrap().to_string());
    assert_eq!(change["target_name"], "Alice");
    assert_eq!(
        change["reason"],
        "Active Directory join: the target's AD SID"
    );
    assert_untranslated(&plan);
}
