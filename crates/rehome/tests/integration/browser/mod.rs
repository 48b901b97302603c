//! The console in a real browser: Debian's chromium, headless, driven through chromedriver by
//! [`webdriver::Browser`], against a server seeded like the demo and agents on simulated
//! workstations. Runs when `REHOME_TEST_CHROMEDRIVER` names chromedriver (the test command sets
//! it); skipped otherwise. Screenshots of every main page go to `target/screenshots/`.

mod webdriver;

use std::path::PathBuf;
use std::time::Instant;

use model::status::AgentStatus;
use rehome::demo::{fleet, setup};
use server::auth::Role;

use crate::support::{blocking, Harness};
use webdriver::Browser;

/// chromedriver and chromium, when the browser tests are asked for.
fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let driver = std::env::var_os("REHOME_TEST_CHROMEDRIVER")?;
    let chromium =
        std::env::var_os("REHOME_TEST_CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into());
    Some((PathBuf::from(driver), PathBuf::from(chromium)))
}

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

/// A small directory document: two users and two computers of `browser.test`.
fn browser_directory() -> String {
    let object = |guid: &str, kind: &str, name: &str, rid: u32| {
        format!(
            r#"{{"guid": "{guid}", "kind": "{kind}", "name": "{name}", "sid": "S-1-5-21-7-8-9-{rid}", "sam_account_name": "{name}"}}"#
        )
    };
    format!(
        r#"{{"domain": "browser.test", "domain_sid": "S-1-5-21-7-8-9", "objects": [{}, {}, {}, {}]}}"#,
        object(
            "0b7c1a52-8f0e-4d0c-9a43-5d1b2c3d4e01",
            "User",
            "bea.browser",
            1101
        ),
        object(
            "0b7c1a52-8f0e-4d0c-9a43-5d1b2c3d4e02",
            "User",
            "ben.browser",
            1102
        ),
        object(BWS1, "Computer", "BWS-01", 2101),
        object(BWS2, "Computer", "BWS-02", 2102),
    )
}

const BWS1: &str = "0b7c1a52-8f0e-4d0c-9a43-5d1b2c3d4e11";
const BWS2: &str = "0b7c1a52-8f0e-4d0c-9a43-5d1b2c3d4e12";

/// Whether the page offers a form that would post, other than logging out.
async fn posting_forms(b: &Browser) -> u64 {
    b.count("form[method=post]:not([action='/logout'])").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_engineer_works_through_the_console_in_chromium() {
    let Some((chromedriver, chromium)) = browser_paths() else {
        eprintln!(
            "skipped: set REHOME_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run the browser test"
        );
        return;
    };
    let started = Instant::now();
    let machines_wanted = 3;
    let h = Harness::start(12, machines_wanted).await;
    let password = server::auth::bootstrap_admin(&h.app)
        .await
        .expect("bootstrap")
        .expect("a first administrator");
    let shots = screenshots();
    let b = Browser::start(&chromedriver, &chromium, &h.url).await;

    // Log in and change the first password.
    b.open("/").await;
    assert_eq!(b.path().await, "/login");
    b.fill("#name", "admin").await;
    b.fill("#password", &password).await;
    b.screenshot(&shots, "01-login").await;
    b.click("button[type=submit]").await;
    assert_eq!(b.path().await, "/password");
    b.fill("#current", &password).await;
    b.fill("#new", "console-engineer-9").await;
    b.fill("#confirm", "console-engineer-9").await;
    b.click("form.card button[type=submit]").await;
    assert_eq!(b.path().await, "/");
    let nav = b.text("nav.areas").await;
    for heading in ["SYNC", "MIGRATION", "GLOBAL SETTINGS"] {
        assert!(nav.to_uppercase().contains(heading), "{nav}");
    }

    // Add a directory and import it from a JSON document.
    b.open("/directories").await;
    b.fill("#name", "BROWSER").await;
    b.set("#kind", "ActiveDirectory").await;
    b.fill("#domain", "browser.test").await;
    b.click("form.editor button[type=submit]").await;
    assert!(b.path().await.starts_with("/directories/"));
    b.set("#document", "{\"domain\": \"other.test\", \"objects\": []}")
        .await;
    b.click("form.editor button[type=submit]").await;
    let refused = b.page_text().await;
    assert!(
        refused.contains("other.test"),
        "a document of another domain is refused: {refused}"
    );
    assert!(refused.contains("Not imported yet"), "{refused}");
    b.set("#document", &browser_directory()).await;
    b.click("form.editor button[type=submit]").await;
    let imported = b.text("p.notice").await;
    assert!(imported.contains("Imported 4 objects"), "{imported}");
    b.screenshot(&shots, "02-directory").await;

    // Its connection: a secret that is kept, never shown, and errors beside their field.
    b.fill("#connection-url", "ldaps://dc1.browser.test").await;
    b.fill(
        "#connection-bind_dn",
        "CN=rehome,CN=Users,DC=browser,DC=test",
    )
    .await;
    b.fill("#connection-page_size", "lots").await;
    b.fill("#connection-password", "Browser-Bind-1").await;
    b.click("#connection button[type=submit]").await;
    assert!(b
        .text("#connection")
        .await
        .contains("a whole number is expected"));
    b.fill("#connection-page_size", "500").await;
    b.fill("#connection-password", "Browser-Bind-1").await;
    b.click("#connection button[type=submit]").await;
    let saved = b.page_text().await;
    assert!(
        saved.contains("a secret is stored") && !saved.contains("Browser-Bind-1"),
        "{saved}"
    );
    b.script(
        "document.querySelector('#connection').scrollIntoView(); return true;",
        serde_json::json!([]),
    )
    .await;
    b.screenshot(&shots, "02b-directory-connection").await;
    let directories = h.app.store.directories().await.expect("directories");
    let id_of = |name: &str| {
        directories
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.id.to_string())
            .expect("a directory")
    };
    let (contoso, fabrikam, browser_dir) = (id_of("CONTOSO"), id_of("FABRIKAM"), id_of("BROWSER"));

    // Match with a profile: What If first, then save and match.
    b.open(&format!("/profiles?source={contoso}&target={fabrikam}"))
        .await;
    b.click("button[value=what-if]").await;
    assert!(b.text("div.notice").await.contains("Nothing was changed"));
    b.set("#profile", "upn-nothing").await;
    b.click("button[value=save]").await;
    assert!(b.text("span.field-error").await.contains("preset"));
    b.set("#profile", "sAMAccountName").await;
    b.click("button[value=match]").await;
    let matched = b.text("div.notice").await;
    assert!(
        matched.contains(&format!("Matched: {}", h.world.matched)),
        "{matched}"
    );
    let someone = h.world.source.users().next().expect("a user").name.clone();
    b.fill("input[name=user]", &someone).await;
    b.click("form.filters:last-of-type button").await;
    assert!(b.page_text().await.contains("matched"));
    b.screenshot(&shots, "03-match-profile").await;

    // A PSK, shown once, is what the agents install with.
    b.open("/psks").await;
    b.click("form.editor button[type=submit]").await;
    let psk = b.text("#new-psk").await;
    assert_eq!(psk.len(), 64, "{psk}");
    b.screenshot(&shots, "04-psks").await;
    b.open("/psks").await;
    assert_eq!(b.count("#new-psk").await, 0, "a PSK is shown once");

    // An agent certificate.
    b.open("/certificates").await;
    b.fill("#name", "Browser certificate").await;
    b.fill("#months_valid", "6").await;
    b.click("form.editor button[type=submit]").await;
    assert!(b.text("table").await.contains("Browser certificate"));
    b.screenshot(&shots, "05-certificates").await;

    // A runbook from the browser's directory, every tab saved.
    b.open("/runbooks").await;
    b.fill("#name", "Browser runbook").await;
    b.toggle(&format!("input[name=source][value='{browser_dir}']"))
        .await;
    b.set("#target_directory", &fabrikam).await;
    b.click("form.editor button[type=submit]").await;
    let runbook_page = b.path().await;
    assert!(runbook_page.starts_with("/runbooks/"), "{runbook_page}");
    for (tab, title) in [
        ("startup", "Startup"),
        ("user_experience", "User Experience"),
        ("device_state", "Device State"),
        ("permissions", "Permission Updates"),
        ("apps", "App Reconfiguration"),
        ("completion", "Completion"),
    ] {
        b.open(&format!("{runbook_page}?tab={tab}")).await;
        assert!(b
            .text("nav.tabs a[aria-current=page]")
            .await
            .contains(title));
        // The visible Save, the form's last paragraph (its first button is the hidden one that
        // Enter presses).
        b.click("form.editor > p:last-child button[type=submit]")
            .await;
        let after = b.path().await;
        if after != format!("{runbook_page}?tab={tab}") {
            eprintln!("the page after saving {tab}: {}", b.text("main").await);
        }
        assert_eq!(after, format!("{runbook_page}?tab={tab}"), "{tab} saved");
        b.screenshot(&shots, &format!("06-runbook-{tab}")).await;
    }
    b.open(&format!("{runbook_page}?tab=permissions&json=1"))
        .await;
    b.set("#settings", "{\"mode\": \"Sideways\"}").await;
    b.click("form.editor button[type=submit]").await;
    assert!(b.text("span.field-error").await.contains("Sideways"));
    // A setting changed through its own field.
    b.open(&format!("{runbook_page}?tab=permissions")).await;
    b.set("select[name='permissions.mode']", "AddOnly").await;
    b.click("form.editor > p:last-child button[type=submit]")
        .await;
    b.open(&format!("{runbook_page}?tab=permissions")).await;
    let mode = b
        .script(
            "return document.querySelector(\"select[name='permissions.mode']\").value;",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(mode.as_str(), Some("AddOnly"));

    // An optional section: added, refused while empty (the errors beside its fields, nothing
    // saved), saved once filled in, and removed again.
    let apps = format!("{runbook_page}?tab=apps");
    let add_aip = "button[value='add:apps.information_protection']";
    let save = "form.editor > p:last-child button[type=submit]";
    b.open(&apps).await;
    b.click(add_aip).await;
    assert_eq!(
        b.count("[id='apps.information_protection.target_host']")
            .await,
        1
    );
    b.click(save).await;
    assert!(
        b.count("fieldset span.field-error").await > 0,
        "an empty section is refused beside its fields"
    );
    b.screenshot(&shots, "06b-runbook-section-refused").await;
    b.open(&apps).await;
    assert_eq!(b.count(add_aip).await, 1, "nothing was saved");
    b.click(add_aip).await;
    b.fill(
        "[id='apps.information_protection.source_hosts']",
        "rms.browser.test",
    )
    .await;
    b.fill(
        "[id='apps.information_protection.target_host']",
        "rms.fabrikam.test",
    )
    .await;
    b.click(save).await;
    b.open(&apps).await;
    let host = b
        .script(
            "return document.querySelector(\"[id='apps.information_protection.target_host']\").value;",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(host.as_str(), Some("rms.fabrikam.test"));
    b.click("button[value='remove:apps.information_protection']")
        .await;
    b.click(save).await;
    b.open(&apps).await;
    assert_eq!(b.count(add_aip).await, 1, "the section was removed");

    // Cultures: an empty row and a copy without a code are refused beside their fields and
    // nothing is saved; a copy to de-DE is.
    let ux = format!("{runbook_page}?tab=user_experience");
    b.open(&ux).await;
    let rows = b.count("fieldset.row").await;
    b.click("button[value='add:user_experience.cultures']")
        .await;
    assert_eq!(b.count("fieldset.row").await, rows + 1);
    b.click(save).await;
    assert!(
        b.count("fieldset span.field-error").await > 0,
        "an empty row is refused"
    );
    b.open(&ux).await;
    assert_eq!(b.count("fieldset.row").await, rows, "nothing was saved");
    b.click("button[value='copy:user_experience.cultures.0']")
        .await;
    assert_eq!(
        b.count("[id='user_experience.cultures.0.copy_to'] ~ span.field-error")
            .await,
        1,
        "Copy To without a culture is refused beside its field"
    );
    b.fill("[id='user_experience.cultures.0.copy_to']", "de-DE")
        .await;
    b.click("button[value='copy:user_experience.cultures.0']")
        .await;
    b.click(save).await;
    b.open(&ux).await;
    assert!(b.text("form.editor").await.contains("de-DE"));
    b.script(
        "document.querySelector('fieldset.row:last-of-type').scrollIntoView(); return true;",
        serde_json::json!([]),
    )
    .await;
    b.screenshot(&shots, "06c-runbook-cultures").await;

    // A batch: only compatible runbooks offered, a CSV with a bad line refused whole, then a good one.
    b.open("/batches").await;
    b.fill("#name", "Browser wave").await;
    b.set("#source_directory", &browser_dir).await;
    b.set("#target_directory", &fabrikam).await;
    b.click("form.editor button[type=submit]").await;
    let batch_page = b.path().await;
    assert!(batch_page.starts_with("/batches/"));
    b.toggle("details.dialog summary").await;
    let offered = b.text("#runbook").await;
    assert!(
        offered.contains("Browser runbook") && !offered.contains(&h.world.runbook_name),
        "{offered}"
    );
    b.set("#enforced_after", "2030-01-07T09:00").await;
    b.click("details.dialog button[type=submit]").await;
    assert!(b.text("table").await.contains("Browser runbook"));
    b.set(
        "#csv",
        &format!("name,objectGuid\nBWS-01,{BWS1}\nBWS-03,not-a-guid\n"),
    )
    .await;
    b.click("form[action$='/import'] button").await;
    let errors = b.text("#csv-errors").await;
    assert!(errors.contains("line 3"), "{errors}");
    assert!(b.page_text().await.contains("0 listed"), "nothing applied");
    b.script(
        "document.querySelector('#csv-errors').scrollIntoView(); return true;",
        serde_json::json!([]),
    )
    .await;
    b.screenshot(&shots, "07-batch-csv-error").await;
    b.set(
        "#csv",
        &format!("name,objectGuid\nBWS-01,{BWS1}\nBWS-02,{BWS2}\n"),
    )
    .await;
    b.click("form[action$='/import'] button").await;
    assert!(b.text("p.notice").await.contains("2 computers listed"));
    b.screenshot(&shots, "08-batch").await;

    // A simulated migration, watched on the dashboard until Completed.
    let machines = fleet::create(&h.dir.path().join("fleet"), &h.world, machines_wanted)
        .expect("create workstations");
    let handles = fleet::start_agents(&h.url, &psk, &machines);
    b.open("/").await;
    let errors = blocking(move || fleet::join(handles)).await;
    assert!(errors.is_empty(), "agents failed: {errors:?}");
    let counts = setup::status_counts(&h.app).await.expect("counts");
    assert_eq!(counts.get(AgentStatus::Completed), machines_wanted as u64);
    // The charts refresh themselves; this asks for the same fragment they fetch.
    let (status, fragment) = b.fetch("/").await;
    assert_eq!(status, 200);
    assert!(fragment.contains("Completed: 3 of"), "{fragment}");
    b.open("/").await;
    assert_eq!(
        b.count("figure.donut:first-child a[aria-label^='Completed: 3 of']")
            .await,
        1,
        "the Completed slice"
    );
    b.screenshot(&shots, "09-dashboard").await;
    // Completed is the last slice, from 40 % round to the top: its left side, 9 o'clock on the
    // ring (radius 68 px of the 180 px chart).
    b.click_at("figure.donut:first-child svg", -68, 0).await;
    assert!(
        b.path().await.contains("status=Completed"),
        "{}",
        b.path().await
    );
    assert_eq!(b.count("tbody tr").await, machines_wanted as u64);
    b.screenshot(&shots, "10-runbook-status").await;

    // Agent logs across the fleet, filtered, and the CSV of exactly those rows.
    let first = machines[0].name.clone();
    b.open("/logs").await;
    b.set("select[name=level]", "Info").await;
    b.fill(
        "input[name=computer]",
        &format!("{}*", &first[..first.len() - 1]),
    )
    .await;
    b.click("form.filters button").await;
    let shown = b.count("tbody tr").await;
    assert!(shown > 0);
    let href = b
        .script(
            "return document.querySelector('a[download]').getAttribute('href');",
            serde_json::json!([]),
        )
        .await;
    let (status, csv) = b.fetch(href.as_str().unwrap_or_default()).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().skip(1).collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l.contains(",Info,")), "{csv}");
    b.screenshot(&shots, "11-agent-logs").await;

    // The fleet's reports, and where the agent comes from.
    b.open("/reports/agent-details?status=Completed").await;
    assert_eq!(b.count("tbody tr").await, machines_wanted as u64);
    b.screenshot(&shots, "11b-agent-details").await;
    b.open("/reports/profiles").await;
    assert!(b.count("tbody tr").await > 0, "harvested profiles");
    b.screenshot(&shots, "11c-user-profiles").await;
    b.open("/download").await;
    assert_eq!(
        b.count("figure.qr svg").await,
        1,
        "the server URL's QR code"
    );
    assert!(b.page_text().await.contains("msiexec /i"));
    b.screenshot(&shots, "11d-download-agent").await;

    // The Single Object Report of a migrated user, then of what it became.
    let (_, user) = machines[0].users[0].clone();
    b.open(&format!("/objects?q={user}&directory={contoso}"))
        .await;
    b.click("tbody tr a").await;
    assert!(b.page_text().await.contains("CONTOSO"));
    // After the migration the device reports the profile under the target SID: the target's
    // report shows it.
    let object_page = b.path().await;
    b.click("#open-target").await;
    assert!(b.page_text().await.contains("FABRIKAM"));
    b.click("nav.tabs a[href$='tab=profiles']").await;
    assert!(b.text("table").await.contains(&first));
    b.screenshot(&shots, "12-object-report").await;

    // An Entra directory's provisioning package: uploaded from a file, its hash shown, deleted,
    // and uploaded again for the viewer to see.
    let entra = server::directory::create(
        &h.app,
        model::directory::Directory {
            id: model::ids::DirectoryId::new(),
            name: "ENTRA".into(),
            kind: model::directory::DirectoryKind::EntraId,
            domain: "browser.onmicrosoft.com".into(),
            domain_id: None,
        },
    )
    .await
    .expect("an Entra directory")
    .id;
    let package = b"PK\x03\x04 the browser test's provisioning package";
    let package_file =
        std::env::temp_dir().join(format!("rehome-browser-{}.ppkg", std::process::id()));
    std::fs::write(&package_file, package).expect("write the package");
    let package_page = format!("/directories/{entra}/provisioning-package");
    b.open("/bulk-tokens").await;
    b.click(&format!("a[href='{package_page}']")).await;
    assert!(b.page_text().await.contains("No provisioning package"));
    for round in 0..2 {
        b.choose_file("input[name=package]", &package_file).await;
        b.click("form[enctype='multipart/form-data'] button[type=submit]")
            .await;
        assert_eq!(b.path().await, package_page);
        assert_eq!(
            b.text("code.hash").await,
            model::protocol::sha256_hex(package)
        );
        if round == 1 {
            break;
        }
        b.screenshot(&shots, "12b-provisioning-package").await;
        b.script(
            "window.confirm = () => true; return true;",
            serde_json::json!([]),
        )
        .await;
        b.click(&format!("form[action='{package_page}/delete'] button"))
            .await;
        assert!(b.page_text().await.contains("No provisioning package"));
    }
    let _ = std::fs::remove_file(&package_file);

    // A viewer of both areas sees every page and no form that would post.
    let (viewer, viewer_password) = h_user(&h, &[Role::SyncViewer, Role::AgentViewer]).await;
    b.click("header form button").await;
    b.fill("#name", &viewer).await;
    b.fill("#password", &viewer_password).await;
    b.click("button[type=submit]").await;
    let agent = h
        .app
        .store
        .agent_report(&Default::default(), 0, 1)
        .await
        .expect("agents")
        .into_iter()
        .next()
        .expect("an agent")
        .id;
    let mut pages = vec![
        "/".to_string(),
        "/directories".to_string(),
        format!("/directories/{browser_dir}"),
        "/schedule".to_string(),
        format!("/profiles?source={contoso}&target={fabrikam}"),
        "/sync-messages".to_string(),
        "/translations".to_string(),
        "/objects".to_string(),
        object_page.clone(),
        "/download".to_string(),
        "/psks".to_string(),
        "/certificates".to_string(),
        "/bulk-tokens".to_string(),
        package_page.clone(),
        "/runbooks".to_string(),
        runbook_page.clone(),
        format!("{runbook_page}/preview"),
        "/batches".to_string(),
        batch_page.clone(),
        "/devices".to_string(),
        "/reports/profiles".to_string(),
        "/agents".to_string(),
        format!("/agents/{agent}"),
        format!("/agents/{agent}/logs"),
        format!("/agents/{agent}/plan"),
        "/reports/agent-details".to_string(),
        "/logs".to_string(),
        "/communications".to_string(),
        "/licences".to_string(),
    ];
    for tab in [
        "startup",
        "user_experience",
        "device_state",
        "permissions",
        "apps",
        "completion",
    ] {
        pages.push(format!("{runbook_page}?tab={tab}"));
    }
    for tab in ["attributes", "batches", "profiles", "errors"] {
        pages.push(format!("{object_page}?tab={tab}"));
    }
    for page in pages {
        b.open(&page).await;
        assert_eq!(
            posting_forms(&b).await,
            0,
            "{page} offers a viewer a form that posts"
        );
    }
    b.open("/runbooks").await;
    assert!(b.text("table").await.contains("View"));
    b.screenshot(&shots, "13-viewer-runbooks").await;

    // Each of the seven roles sees only what it may: an area outside its roles is refused, and
    // only the roles that edit an area are offered its forms that create.
    //   (role, directories, agents, users, may add a directory, may add a runbook)
    for (role, sync, agents, users, add_directory, add_runbook) in [
        (Role::TenantAdmin, 200, 200, 200, true, true),
        (Role::SyncAdmin, 200, 403, 403, true, false),
        (Role::SyncOperator, 200, 403, 403, false, false),
        (Role::SyncViewer, 200, 403, 403, false, false),
        (Role::AgentAdmin, 403, 200, 403, false, true),
        (Role::AgentOperator, 403, 200, 403, false, false),
        (Role::AgentViewer, 403, 200, 403, false, false),
    ] {
        let name = format!("role-{}", role.as_str().to_lowercase());
        let password = "role-password-7".to_string();
        server::auth::create_user(&h.app, &name, &password, &[role], false)
            .await
            .expect("create a user");
        b.click("header form button").await;
        b.fill("#name", &name).await;
        b.fill("#password", &password).await;
        b.click("button[type=submit]").await;
        let (status, directories) = b.fetch("/directories").await;
        assert_eq!(status, sync, "{role:?} on /directories");
        let (status, runbooks) = b.fetch("/runbooks").await;
        assert_eq!(status, agents, "{role:?} on /runbooks");
        assert_eq!(b.fetch("/agents").await.0, agents, "{role:?} on /agents");
        assert_eq!(b.fetch("/users").await.0, users, "{role:?} on /users");
        assert_eq!(
            directories.contains("method=\"post\" action=\"/directories\""),
            add_directory,
            "{role:?}: the form that adds a directory"
        );
        assert_eq!(
            runbooks.contains("method=\"post\" action=\"/runbooks\""),
            add_runbook,
            "{role:?}: the form that adds a runbook"
        );
        if matches!(role, Role::SyncViewer | Role::AgentViewer) {
            for page in [&directories, &runbooks] {
                let posting = page.matches("method=\"post\"").count()
                    - page.matches("action=\"/logout\"").count();
                assert_eq!(posting, 0, "{role:?} is offered a form that posts");
            }
        }
    }
    b.quit().await;
    eprintln!("browser test: {} ms", started.elapsed().as_millis());
}

async fn h_user(h: &Harness, roles: &[Role]) -> (String, String) {
    let name = "viewer-one".to_string();
    let password = "viewer-password-7".to_string();
    server::auth::create_user(&h.app, &name, &password, roles, false)
        .await
        .expect("create a viewer");
    (name, password)
}
