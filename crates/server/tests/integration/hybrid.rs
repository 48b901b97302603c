//! Hybrid identities in the store: every SID of an object kept through import, matching on
//! anchors, and the answer a device gets for any of a source object's SIDs, per join.

use base64::Engine;
use model::directory::{DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::ObjectGuid;
use model::translation::JoinChange;
use secdesc::Sid;
use server::directory::device_translation::for_device;
use server::directory::graph::entra_sid;

use server::auth::Role;

use crate::console_areas::{page, session};
use crate::directory::{directory, import};
use crate::support::TestApp;

fn sid(text: &str) -> Sid {
    text.parse().expect("test SID")
}

fn ad_user(name: &str, own: &str, history: &[&str]) -> DirectoryObject {
    let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, name);
    o.sid = Some(sid(own));
    o.sid_history = history.iter().map(|h| sid(h)).collect();
    o.sam_account_name = Some(name.to_lowercase());
    o
}

fn synced(source: &DirectoryObject) -> DirectoryObject {
    let guid = ObjectGuid::new();
    let mut o = DirectoryObject::new(guid, ObjectKind::User, &source.name);
    o.sid = Some(entra_sid(guid));
    o.on_premises_sid = source.sid.clone();
    o.immutable_id =
        Some(base64::engine::general_purpose::STANDARD.encode(source.guid.0.to_bytes_le()));
    o.upn = Some(format!(
        "{}@contoso.onmicrosoft.com",
        source.name.to_lowercase()
    ));
    o
}

const ADA: &str = "S-1-5-21-1-2-3-1104";
const ADA_OLD: &str = "S-1-5-21-9-9-9-4001";

#[tokio::test]
async fn any_sid_of_a_source_finds_its_row_and_the_join_picks_the_target_sid() {
    let t = TestApp::new().await;
    let ad = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let entra = directory(
        &t,
        "CONTOSO-ENTRA",
        "contoso.onmicrosoft.com",
        DirectoryKind::EntraId,
    )
    .await;
    let ada = ad_user("Ada", ADA, &[ADA_OLD]);
    let cloud_ada = synced(&ada);
    import(&t, ad, "contoso.test", vec![ada.clone()]).await;
    import(
        &t,
        entra,
        "contoso.onmicrosoft.com",
        vec![cloud_ada.clone()],
    )
    .await;

    // Both SIDs and the anchor survive the store, and the report shows them.
    let report = server::directory::report::object_report(&t.app, entra, cloud_ada.guid)
        .await
        .expect("report");
    assert_eq!(report.object.sid, cloud_ada.sid);
    assert_eq!(report.object.on_premises_sid, Some(sid(ADA)));
    assert_eq!(report.object.immutable_id, cloud_ada.immutable_id);

    let summary = server::directory::match_pair(
        &t.app,
        ad,
        entra,
        Some(server::directory::profile::hybrid_anchors()),
    )
    .await
    .expect("match");
    assert_eq!(summary.matched, 1, "{:?}", summary);
    let cloud_sid = cloud_ada.sid.clone().expect("cloud SID");

    // The device may hold Ada's SID or her sIDHistory SID; an Entra join gives the cloud SID.
    let found = [sid(ADA), sid(ADA_OLD), sid("S-1-5-21-1-2-3-4242")];
    let answer = for_device(&t.app, ad, entra, JoinChange::Entra, &found)
        .await
        .expect("answer");
    assert_eq!(answer.translations.len(), 2, "{:?}", answer);
    for tr in &answer.translations {
        assert_eq!(tr.target, cloud_sid);
        let reason = tr.reason.as_deref().unwrap_or_default();
        assert!(reason.starts_with("Entra join"), "{}", reason);
    }
    // An AD join (hybrid) keeps the on-premises SID of the synchronised target.
    let answer = for_device(&t.app, ad, entra, JoinChange::ActiveDirectory, &found[..1])
        .await
        .expect("answer");
    assert_eq!(answer.translations[0].target, sid(ADA));
    // The row is searchable by the source's history SID, and the CSV names every SID.
    let rows = t
        .app
        .store
        .translations(Some(ADA_OLD))
        .await
        .expect("search");
    assert_eq!(rows.len(), 1);
    let csv = server::api::translations::translations_to_csv(&rows).expect("csv");
    assert!(csv.contains(ADA_OLD) && csv.contains(ADA), "{}", csv);

    // A rematch after Ada loses her sIDHistory drops the old SID from the device lookup.
    let mut ada_now = ada.clone();
    ada_now.sid_history.clear();
    import(&t, ad, "contoso.test", vec![ada_now]).await;
    server::directory::match_pair(&t.app, ad, entra, None)
        .await
        .expect("match again");
    let answer = for_device(&t.app, ad, entra, JoinChange::Entra, &found)
        .await
        .expect("answer");
    assert_eq!(answer.translations.len(), 1);
    assert_eq!(answer.translations[0].source, sid(ADA));
}

#[tokio::test]
async fn a_sid_two_source_directories_translate_differently_follows_the_batch_source() {
    let t = TestApp::new().await;
    let ad = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let entra = directory(
        &t,
        "CONTOSO-ENTRA",
        "contoso.onmicrosoft.com",
        DirectoryKind::EntraId,
    )
    .await;
    let target = directory(
        &t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let ada = ad_user("Ada", ADA, &[]);
    let mut cloud_ada = synced(&ada);
    cloud_ada.sam_account_name = Some("ada".into());
    import(&t, ad, "contoso.test", vec![ada.clone()]).await;
    import(&t, entra, "contoso.onmicrosoft.com", vec![cloud_ada]).await;
    // Two target users a sAMAccountName rule can reach: the AD source pairs with one, the tenant
    // (whose Ada carries the same AD SID) with the other.
    let mut one = ad_user("Ada", "S-1-5-21-7-7-7-1", &[]);
    one.sam_account_name = Some("ada".into());
    let mut other = ad_user("Ada Cloud", "S-1-5-21-7-7-7-2", &[]);
    other.sam_account_name = Some("ada.cloud".into());
    import(&t, target, "fabrikam.test", vec![one, other]).await;
    server::directory::match_pair(&t.app, ad, target, None)
        .await
        .expect("match the AD");
    let by_upn = server::directory::profile::ProfileInput {
        name: "cloud".into(),
        rules: vec![server::directory::profile::RuleInput {
            applies_to: Default::default(),
            source: "concat(localpart(userPrincipalName), \".cloud\")".into(),
            target: "sAMAccountName".into(),
            ignore_case: true,
        }],
        sid_history: false,
    }
    .into_profile()
    .expect("profile");
    server::directory::match_pair(&t.app, entra, target, Some(by_upn))
        .await
        .expect("match the tenant");
    let found = [sid(ADA)];
    let from_ad = for_device(&t.app, ad, target, JoinChange::ActiveDirectory, &found)
        .await
        .expect("answer");
    assert_eq!(from_ad.translations.len(), 1);
    assert_eq!(from_ad.translations[0].target, sid("S-1-5-21-7-7-7-1"));
    let from_tenant = for_device(&t.app, entra, target, JoinChange::ActiveDirectory, &found)
        .await
        .expect("answer");
    assert_eq!(from_tenant.translations[0].target, sid("S-1-5-21-7-7-7-2"));
    // A batch from a third directory cannot tell which is meant: no guess.
    let neither = for_device(&t.app, target, target, JoinChange::ActiveDirectory, &found)
        .await
        .expect("answer");
    assert!(neither.translations.is_empty());
    assert_eq!(neither.untranslated.len(), 1);
    assert!(
        neither.untranslated[0].reason.contains("different targets"),
        "{}",
        neither.untranslated[0].reason
    );
}

#[tokio::test]
async fn a_tenant_read_from_a_document_without_sids_gets_the_sids_entra_derives() {
    let t = TestApp::new().await;
    let entra = directory(
        &t,
        "FABRIKAM-ENTRA",
        "fabrikam.onmicrosoft.com",
        DirectoryKind::EntraId,
    )
    .await;
    let ad = directory(
        &t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let user = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, "Grace");
    let group = DirectoryObject::new(ObjectGuid::new(), ObjectKind::Group, "Sales");
    let mut given = DirectoryObject::new(ObjectGuid::new(), ObjectKind::Group, "Finance");
    given.sid = Some(sid("S-1-12-1-1-2-3-4"));
    let device = DirectoryObject::new(ObjectGuid::new(), ObjectKind::Computer, "PC-7");
    let objects = vec![user.clone(), group.clone(), given.clone(), device.clone()];
    import(&t, entra, "fabrikam.onmicrosoft.com", objects.clone()).await;
    // The same objects in an AD domain keep no SID: only Entra derives one from the id.
    import(&t, ad, "fabrikam.test", objects).await;

    let stored = |directory, guid| {
        let app = &t.app;
        async move {
            server::directory::report::object_report(app, directory, guid)
                .await
                .expect("report")
                .object
                .sid
        }
    };
    assert_eq!(stored(entra, user.guid).await, Some(entra_sid(user.guid)));
    assert_eq!(stored(entra, group.guid).await, Some(entra_sid(group.guid)));
    let derived = entra_sid(user.guid).to_string();
    assert!(derived.starts_with("S-1-12-1-"), "{}", derived);
    // A SID the document gives is kept, and a device gets none.
    assert_eq!(stored(entra, given.guid).await, given.sid);
    assert_eq!(stored(entra, device.guid).await, None);
    assert_eq!(stored(ad, user.guid).await, None);
    assert_eq!(stored(ad, group.guid).await, None);
}

#[tokio::test]
async fn a_target_deleted_by_an_import_translates_nothing_until_the_pair_is_matched_again() {
    let t = TestApp::new().await;
    let source = directory(&t, "OLD", "old.test", DirectoryKind::ActiveDirectory).await;
    let target = directory(&t, "NEW", "new.test", DirectoryKind::ActiveDirectory).await;
    let ada = ad_user("Ada", ADA, &[ADA_OLD]);
    let new_ada = ad_user("Ada", "S-1-5-21-7-7-7-1201", &[]);
    let bob = ad_user("Bob", "S-1-5-21-1-2-3-1105", &[]);
    let new_bob = ad_user("Bob", "S-1-5-21-7-7-7-1202", &[]);
    import(&t, source, "old.test", vec![ada.clone(), bob.clone()]).await;
    import(
        &t,
        target,
        "new.test",
        vec![new_ada.clone(), new_bob.clone()],
    )
    .await;
    let matched = server::directory::match_users(
        &t.app,
        source,
        target,
        model::directory::MatchAttribute::SamAccountName,
    )
    .await
    .expect("match");
    assert_eq!(matched.matched, 2, "{:?}", matched);
    let found = [sid(ADA), sid(ADA_OLD), sid("S-1-5-21-1-2-3-1105")];
    let answer = |t: &TestApp| {
        let app = t.app.clone();
        let found = found.clone();
        async move {
            for_device(&app, source, target, JoinChange::ActiveDirectory, &found)
                .await
                .expect("answer")
        }
    };
    assert_eq!(answer(&t).await.translations.len(), 3);

    // New Ada leaves the target; only the target is imported, and no match runs yet.
    import(&t, target, "new.test", vec![new_bob.clone()]).await;
    let now = answer(&t).await;
    assert_eq!(now.translations.len(), 1, "{:?}", now);
    assert_eq!(
        now.translations[0].target,
        new_bob.sid.clone().expect("sid")
    );
    let refused: std::collections::BTreeSet<Sid> =
        now.untranslated.iter().map(|u| u.sid.clone()).collect();
    assert_eq!(refused, [sid(ADA), sid(ADA_OLD)].into_iter().collect());
    for u in &now.untranslated {
        assert!(
            u.reason.contains("no longer in the target directory") && u.reason.contains("1201"),
            "{}",
            u.reason
        );
    }
    // The console's translation table says so on her row, with no link to the deleted object;
    // Bob's row is as it was.
    let (cookie, _) = session(&t, &[Role::SyncViewer]).await;
    let rows =
        |html: &str| -> Vec<String> { html.split("<tr>").skip(2).map(str::to_string).collect() };
    let html = page(&t, "/translations?search=ada", &cookie).await.text();
    let ada_row = rows(&html);
    assert_eq!(ada_row.len(), 1, "{html}");
    assert!(
        ada_row[0].contains("No longer in the target directory")
            && !ada_row[0].contains(&format!("/objects/{}/{}", target, new_ada.guid)),
        "{html}"
    );
    let html = page(&t, "/translations?search=bob", &cookie).await.text();
    let bob_row = rows(&html);
    assert_eq!(bob_row.len(), 1, "{html}");
    assert!(
        !bob_row[0].contains("No longer")
            && bob_row[0].contains(&format!("/objects/{}/{}", target, new_bob.guid)),
        "{html}"
    );

    // Restored with the same GUID, she translates again; after a match without her, the row
    // is gone and her SIDs are simply not in the table.
    import(
        &t,
        target,
        "new.test",
        vec![new_ada.clone(), new_bob.clone()],
    )
    .await;
    assert_eq!(answer(&t).await.translations.len(), 3);
    import(&t, target, "new.test", vec![new_bob]).await;
    server::directory::match_pair(&t.app, source, target, None)
        .await
        .expect("match again");
    let after = answer(&t).await;
    assert_eq!(after.translations.len(), 1, "{:?}", after);
    assert!(after.untranslated.is_empty(), "{:?}", after);
}
