//! The Entra join read back against the tenant: by id when the server knows one, else by the
//! domain of the account that joined, among the tenant's domains the server sent; a join to
//! another tenant ends the run in Error naming what was found.

use super::*;

const OTHER_TENANT: &str = "0b7e1d2c-1111-4222-8333-444455556666";

fn join_with(package: ProvisioningPackage, joins: EntraJoin) -> (Exit, RunbookId, Vec<String>) {
    let device = joined_device();
    device.device().package_joins = Some(joins);
    let (runbook, secrets) = entra_runbook();
    let id = runbook.id;
    let (exit, server) = run_full(&device, runbook, secrets, None, &[], Some(package));
    (exit, id, messages(&server))
}

#[test]
fn a_custom_domain_without_a_tenant_id_accepts_the_initial_domain_the_server_sent() {
    // The runbook's tenant is the custom domain new.contoso.test; the bulk token's account is
    // in the tenant's initial domain, which the server knows.
    let package = ProvisioningPackage {
        tenant_domains: vec![TARGET.into(), "newcontoso.onmicrosoft.com".into()],
        ..ProvisioningPackage::new("join-new.ppkg", b"ppkg bytes with a bulk token")
    };
    let joins = EntraJoin {
        tenant_id: TENANT_ID.into(),
        user_email: "package_0a1b@newcontoso.onmicrosoft.com".into(),
    };
    let (exit, id, events) = join_with(package, joins);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        },
        "{:#?}",
        events
    );
}

#[test]
fn a_join_to_another_tenant_ends_the_run_in_error_naming_what_was_found() {
    let package = ProvisioningPackage {
        tenant_id: Some(TENANT_ID.into()),
        ..ProvisioningPackage::new("join-new.ppkg", b"ppkg bytes with a bulk token")
    };
    // The account's domain is the runbook's tenant, but the id is another tenant's.
    let joins = EntraJoin {
        tenant_id: OTHER_TENANT.into(),
        user_email: format!("package_0a1b@{}", TARGET),
    };
    let (exit, id, events) = join_with(package, joins);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        },
        "{:#?}",
        events
    );
    assert!(
        events.iter().any(|m| m.contains(OTHER_TENANT)
            && m.contains(&format!("package_0a1b@{}", TARGET))
            && m.contains(&format!("must name the tenant id {}", TENANT_ID))),
        "{:#?}",
        events
    );
}
