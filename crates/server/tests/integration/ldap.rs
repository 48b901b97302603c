//! LDAP import against two real Samba AD domain controllers started by `scripts/samba-dcs up`,
//! which exports the `REHOME_TEST_LDAP_*` variables read here. Without them these tests fail and
//! say how to start the DCs; `REHOME_TEST_LDAP=skip` skips them deliberately.
//!
//! The tests that change the directory each work in an OU of their own, so they run in parallel
//! with the ones that count the populated objects.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use ldap3::{LdapConnAsync, Mod, Scope, SearchEntry};
use model::directory::{Directory, DirectoryKind, MatchAttribute, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use server::directory::ldap::{LdapConfig, LdapCursor, LdapKind, LdapObject, LdapSource};

use crate::support::TestApp;

/// One DC as the script describes it.
struct Dc {
    url: String,
    ldaps_url: String,
    domain: String,
    base_dn: String,
    ou: String,
    bind_dn: String,
    password: String,
}

/// The object counts the script populated each domain with.
struct Counts {
    users: usize,
    groups: usize,
    computers: usize,
    contacts: usize,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `eval \"$(scripts/samba-dcs up)\"` again")
    })
}

/// The DCs, or `None` when the tests are skipped on purpose.
fn dcs() -> Option<(Dc, Dc, Counts)> {
    match std::env::var("REHOME_TEST_LDAP").as_deref() {
        Ok("skip") => {
            eprintln!("REHOME_TEST_LDAP=skip: the LDAP tests against Samba did not run");
            return None;
        }
        Ok(_) => {}
        Err(_) => panic!(
            "the LDAP tests need the Samba domain controllers: run `eval \"$(scripts/samba-dcs up)\"` \
             first (as root), or set REHOME_TEST_LDAP=skip to skip them"
        ),
    }
    let dc = |role: &str| Dc {
        url: var(&format!("REHOME_TEST_LDAP_{role}_URL")),
        ldaps_url: var(&format!("REHOME_TEST_LDAP_{role}_LDAPS_URL")),
        domain: var(&format!("REHOME_TEST_LDAP_{role}_DOMAIN")),
        base_dn: var(&format!("REHOME_TEST_LDAP_{role}_BASE_DN")),
        ou: var(&format!("REHOME_TEST_LDAP_{role}_OU")),
        bind_dn: var(&format!("REHOME_TEST_LDAP_{role}_BIND_DN")),
        password: var("REHOME_TEST_LDAP_PASSWORD"),
    };
    let count = |name: &str| var(name).parse::<usize>().expect("a count");
    let counts = Counts {
        users: count("REHOME_TEST_LDAP_USERS"),
        groups: count("REHOME_TEST_LDAP_GROUPS"),
        computers: count("REHOME_TEST_LDAP_COMPUTERS"),
        contacts: count("REHOME_TEST_LDAP_CONTACTS"),
    };
    Some((dc("SOURCE"), dc("TARGET"), counts))
}

fn config(dc: &Dc, base_dns: &[&str]) -> LdapConfig {
    let mut c = LdapConfig::new(&dc.url, &dc.bind_dn, &dc.password);
    c.base_dns = base_dns.iter().map(|b| b.to_string()).collect();
    c
}

fn source(config: LdapConfig) -> LdapSource {
    LdapSource::new(config).expect("valid LDAP configuration")
}

fn by_kind(objects: &[LdapObject], kind: LdapKind) -> usize {
    objects.iter().filter(|o| o.kind == kind).count()
}

/// How many of the users 0..n the script put in department `k` (users go round-robin over four).
fn in_department(n: usize, k: usize) -> usize {
    (0..n).filter(|i| i % 4 == k).count()
}

#[tokio::test]
async fn full_import_of_both_domains_stores_the_populated_objects_and_matches_them() {
    let Some((contoso, fabrikam, counts)) = dcs() else {
        return;
    };
    let t = TestApp::new().await;
    let mut ids = Vec::new();
    for (name, dc) in [("CONTOSO", &contoso), ("FABRIKAM", &fabrikam)] {
        let d = Directory {
            id: DirectoryId::new(),
            name: name.into(),
            kind: DirectoryKind::ActiveDirectory,
            domain: dc.domain.clone(),
            domain_id: None,
        };
        let id = server::directory::create(&t.app, d)
            .await
            .expect("create directory")
            .id;
        let src = source(config(dc, &[&dc.ou]));
        let summary = server::directory::import(&t.app, id, &src)
            .await
            .expect("import over LDAP");
        assert_eq!(
            (summary.users, summary.groups, summary.computers),
            (
                counts.users as u64,
                counts.groups as u64,
                counts.computers as u64
            ),
            "{name}"
        );
        assert_eq!(summary.contacts, counts.contacts as u64, "{name}");
        assert_eq!(summary.added, summary.total);
        let stored = t.app.store.objects(id, None).await.expect("stored objects");
        assert_eq!(
            stored.len(),
            counts.users + counts.groups + counts.computers + counts.contacts
        );
        // Every object keeps its DN, and accounts say whether they may sign in.
        assert!(stored.iter().all(|o| o
            .dn
            .as_deref()
            .is_some_and(|dn| dn.to_lowercase().ends_with(&dc.base_dn.to_lowercase()))));
        assert!(stored
            .iter()
            .filter(|o| o.kind == ObjectKind::User)
            .all(|o| o.enabled.is_some()));
        let dir = t
            .app
            .store
            .directory(id)
            .await
            .expect("read")
            .expect("exists");
        let domain_sid = dir.domain_id.expect("the import records the domain SID");
        assert!(domain_sid.starts_with("S-1-5-21-"), "{domain_sid}");
        assert!(stored
            .iter()
            .filter_map(|o| o.sid.as_ref())
            .all(|s| s.to_string().starts_with(&domain_sid)));
        let full = src.read_full().await.expect("read");
        assert_eq!(by_kind(&full.objects, LdapKind::Contact), counts.contacts);
        ids.push(id);
    }
    // Every 20th target user was renamed: matching by sAMAccountName leaves exactly those.
    let renamed = (0..counts.users).filter(|i| i % 20 == 19).count() as u64;
    let by_sam =
        server::directory::match_users(&t.app, ids[0], ids[1], MatchAttribute::SamAccountName)
            .await
            .expect("match");
    assert_eq!(
        by_sam.matched,
        (counts.users + counts.groups) as u64 - renamed
    );
    assert_eq!(by_sam.unmatched, renamed);
}

/// objectGUID and objectSid as Samba's own ldbsearch prints them, by sAMAccountName.
fn ldbsearch(dc: &Dc, filter: &str) -> HashMap<String, (String, String)> {
    let out = Command::new("ldbsearch")
        .args([
            "-H",
            &dc.url,
            "--simple-bind-dn",
            &dc.bind_dn,
            "--password",
            &dc.password,
            "-b",
            &dc.ou,
            filter,
        ])
        .args(["sAMAccountName", "objectGUID", "objectSid"])
        .output()
        .expect("run ldbsearch (from ldb-tools, which scripts/samba-dcs installs)");
    assert!(
        out.status.success(),
        "ldbsearch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found = HashMap::new();
    for record in String::from_utf8_lossy(&out.stdout).split("# record ") {
        let get = |key: &str| {
            record
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        if let (Some(sam), Some(guid), Some(sid)) = (
            get("sAMAccountName:"),
            get("objectGUID:"),
            get("objectSid:"),
        ) {
            found.insert(sam.to_lowercase(), (guid, sid));
        }
    }
    found
}

#[tokio::test]
async fn guids_sids_and_members_decode_as_samba_shows_them() {
    let Some((contoso, _, counts)) = dcs() else {
        return;
    };
    let snapshot = source(config(&contoso, &[&contoso.ou]))
        .read_full()
        .await
        .expect("read");
    let samba = ldbsearch(
        &contoso,
        "(|(sAMAccountName=user0000*)(sAMAccountName=group00*)(sAMAccountName=WS0000*))",
    );
    assert!(samba.len() >= 10, "ldbsearch found {} objects", samba.len());
    let ours: HashMap<String, &LdapObject> = snapshot
        .objects
        .iter()
        .filter_map(|o| Some((o.sam_account_name.as_ref()?.to_lowercase(), o)))
        .collect();
    for (sam, (guid, sid)) in &samba {
        let object = ours
            .get(sam)
            .unwrap_or_else(|| panic!("{sam} was not imported"));
        assert_eq!(&object.guid.to_string(), guid, "objectGUID of {sam}");
        assert_eq!(
            object.sid.as_ref().map(|s| s.to_string()).as_deref(),
            Some(sid.as_str()),
            "objectSid of {sam}"
        );
    }
    let domain_sid = snapshot
        .domain_sid
        .as_ref()
        .expect("domain SID")
        .to_string();
    assert!(samba.values().all(|(_, sid)| sid.starts_with(&domain_sid)));
    assert_eq!(snapshot.domain, contoso.domain);

    // Group 001 has 20 users, Group 000 and a computer: every member known by GUID and SID.
    let by_guid: HashMap<ObjectGuid, &LdapObject> =
        snapshot.objects.iter().map(|o| (o.guid, o)).collect();
    let group = ours.get("group001").expect("group001");
    assert_eq!(
        group.members.len(),
        20.min(counts.users) + 1 + usize::from(counts.computers > 0)
    );
    for member in &group.members {
        let guid = member.guid.expect("extended DNs carry the GUID");
        let object = by_guid
            .get(&guid)
            .unwrap_or_else(|| panic!("member {} not among the objects", member.dn));
        assert_eq!(object.dn, member.dn);
        assert_eq!(object.sid, member.sid);
    }
    let user = ours.get("user00001").expect("user00001");
    assert_eq!(
        user.upn.as_deref(),
        Some(format!("user00001@{}", contoso.domain).as_str())
    );
    assert_eq!(user.employee_id.as_deref(), Some("E00001"));
    assert_eq!(
        user.dn,
        format!("CN=User 00001,OU=Engineering,OU=Users,{}", contoso.ou)
    );
    assert!(user.usn_changed.is_some() && user.when_changed.is_some());
    let computer = ours.get("ws00000$").expect("WS00000$");
    assert_eq!(
        (computer.kind, computer.operating_system.as_deref()),
        (LdapKind::Computer, Some("Windows 11 Enterprise"))
    );
}

#[tokio::test]
async fn sid_history_decodes_as_samba_shows_it() {
    let Some((_, fabrikam, counts)) = dcs() else {
        return;
    };
    if counts.users == 0 {
        return;
    }
    let out = Command::new("ldbsearch")
        .args([
            "-H",
            &fabrikam.url,
            "--simple-bind-dn",
            &fabrikam.bind_dn,
            "--password",
            &fabrikam.password,
        ])
        .args([
            "-b",
            &fabrikam.ou,
            "(sAMAccountName=user00000)",
            "sIDHistory",
        ])
        .output()
        .expect("run ldbsearch");
    let text = String::from_utf8_lossy(&out.stdout);
    let samba: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("sIDHistory: "))
        .collect();
    assert_eq!(
        samba,
        ["S-1-5-21-1000-2000-3000-10000"],
        "as the script wrote it: {text}"
    );
    let mut config = config(&fabrikam, &[&fabrikam.ou]);
    config.filter = Some("(sAMAccountName=user00000)".into());
    let read = source(config).read_full().await.expect("read");
    let history: Vec<String> = read
        .objects
        .iter()
        .flat_map(|o| o.sid_history.iter().map(|s| s.to_string()))
        .collect();
    assert_eq!(history, samba);
}

#[tokio::test]
async fn small_pages_read_every_object_once() {
    let Some((contoso, _, counts)) = dcs() else {
        return;
    };
    let base = [contoso.ou.as_str()];
    let whole = source(config(&contoso, &base))
        .read_full()
        .await
        .expect("read");
    let mut small = config(&contoso, &base);
    small.page_size = 37;
    let paged = source(small)
        .read_full()
        .await
        .expect("read in pages of 37");
    let guids = |s: &[LdapObject]| s.iter().map(|o| o.guid).collect::<HashSet<_>>();
    assert_eq!(
        paged.objects.len(),
        counts.users + counts.groups + counts.computers + counts.contacts
    );
    assert_eq!(
        guids(&paged.objects).len(),
        paged.objects.len(),
        "no object twice"
    );
    assert_eq!(guids(&paged.objects), guids(&whole.objects));
}

#[tokio::test]
async fn scope_by_ous_and_a_filter() {
    let Some((contoso, _, counts)) = dcs() else {
        return;
    };
    let ou = |name: &str| format!("OU={name},OU=Users,{}", contoso.ou);
    let sales = source(config(&contoso, &[&ou("Sales")]))
        .read_full()
        .await
        .expect("read Sales");
    assert_eq!(sales.objects.len(), in_department(counts.users, 0));
    assert!(sales.objects.iter().all(|o| o.dn.ends_with(&ou("Sales"))));

    // Two OUs, one of them inside the other's scope: nothing twice.
    let both = source(config(
        &contoso,
        &[
            &ou("Sales"),
            &ou("Finance"),
            &contoso.ou.replace("OU=Rehome", "OU=Users,OU=Rehome"),
        ],
    ));
    let both = both.read_full().await.expect("read");
    assert_eq!(both.objects.len(), counts.users);

    let mut finance = config(&contoso, &[&contoso.ou]);
    finance.filter = Some("(department=Finance)".into());
    let finance = source(finance)
        .read_full()
        .await
        .expect("read with a filter");
    assert_eq!(finance.objects.len(), in_department(counts.users, 2));

    let mut bad = config(&contoso, &[]);
    bad.filter = Some("(department=Finance".into());
    let err = LdapSource::new(bad)
        .expect_err("an unbalanced filter is refused")
        .to_string();
    assert!(err.contains("filter"), "{err}");
    let missing = source(config(
        &contoso,
        &[&format!("OU=Nowhere,{}", contoso.base_dn)],
    ))
    .read_full()
    .await;
    let err = missing
        .expect_err("a base DN that does not exist")
        .to_string();
    assert!(
        err.contains("base_dns") && err.contains("OU=Nowhere"),
        "{err}"
    );
}

#[tokio::test]
async fn tls_binds_work_and_a_wrong_password_is_named_but_not_shown() {
    let Some((contoso, fabrikam, counts)) = dcs() else {
        return;
    };
    let contacts = |dc: &Dc| format!("OU=Contacts,{}", dc.ou);
    let mut ldaps = config(&contoso, &[&contacts(&contoso)]);
    ldaps.url = contoso.ldaps_url.clone();
    ldaps.accept_invalid_certs = true;
    let read = source(ldaps.clone())
        .read_full()
        .await
        .expect("LDAPS with the DC's self-signed certificate");
    assert_eq!(read.objects.len(), counts.contacts);
    ldaps.accept_invalid_certs = false;
    let err = source(ldaps)
        .read_full()
        .await
        .expect_err("a self-signed certificate is refused by default");
    let err = err.to_string();
    assert!(
        err.contains(&contoso.ldaps_url) && err.contains("accept invalid certificates"),
        "{err}"
    );

    let mut starttls = config(&fabrikam, &[&contacts(&fabrikam)]);
    starttls.starttls = true;
    starttls.accept_invalid_certs = true;
    let read = source(starttls).read_full().await.expect("StartTLS");
    assert_eq!(read.objects.len(), counts.contacts);

    let mut wrong = config(&contoso, &[]);
    wrong.password = "Not-The-Password-42".into();
    let err = source(wrong)
        .read_full()
        .await
        .expect_err("a wrong password is refused")
        .to_string();
    assert!(
        err.contains("bind") && err.contains(&contoso.bind_dn) && err.contains(&contoso.url),
        "{err}"
    );
    assert!(
        !err.contains("Not-The-Password-42"),
        "the error shows the password: {err}"
    );
    let debug = format!("{:?}", config(&contoso, &[]));
    assert!(
        !debug.contains(&contoso.password),
        "Debug shows the password: {debug}"
    );
}

/// A plain LDAP connection for changing the test's own objects.
async fn admin(dc: &Dc) -> ldap3::Ldap {
    let (conn, mut ldap) = LdapConnAsync::new(&dc.url).await.expect("connect");
    ldap3::drive!(conn);
    ldap.simple_bind(&dc.bind_dn, &dc.password)
        .await
        .expect("bind")
        .success()
        .expect("bind accepted");
    ldap
}

async fn add_user(ldap: &mut ldap3::Ldap, ou: &str, name: &str) {
    let dn = format!("CN={name},{ou}");
    let attrs = vec![
        ("objectClass", HashSet::from(["user"])),
        ("sAMAccountName", HashSet::from([name])),
        ("mail", HashSet::from(["first@example.test"])),
    ];
    ldap.add(&dn, attrs)
        .await
        .expect("add")
        .success()
        .unwrap_or_else(|e| panic!("add {dn}: {e}"));
}

/// A fresh OU of this test's own with users a and b; dropped objects stay as tombstones.
async fn scratch_ou(dc: &Dc, label: &str) -> (ldap3::Ldap, String, String) {
    let mut ldap = admin(dc).await;
    let tag = format!("{label}{}", &ObjectGuid::new().to_string()[..8]);
    let ou = format!("OU={tag},{}", dc.base_dn);
    ldap.add(
        &ou,
        vec![("objectClass", HashSet::from(["organizationalUnit"]))],
    )
    .await
    .expect("add OU")
    .success()
    .expect("OU added");
    add_user(&mut ldap, &ou, &format!("{tag}a")).await;
    add_user(&mut ldap, &ou, &format!("{tag}b")).await;
    (ldap, ou, tag)
}

/// Changes a's mail, adds c, deletes b; returns b's GUID.
async fn change_add_delete(
    ldap: &mut ldap3::Ldap,
    ou: &str,
    tag: &str,
    before: &[LdapObject],
) -> ObjectGuid {
    let b = before
        .iter()
        .find(|o| o.sam_account_name.as_deref() == Some(&format!("{tag}b")))
        .expect("b was read")
        .guid;
    let a_dn = format!("CN={tag}a,{ou}");
    ldap.modify(
        &a_dn,
        vec![Mod::Replace(
            "mail",
            HashSet::from(["changed@example.test"]),
        )],
    )
    .await
    .expect("modify")
    .success()
    .expect("modified");
    add_user(ldap, ou, &format!("{tag}c")).await;
    ldap.delete(&format!("CN={tag}b,{ou}"))
        .await
        .expect("delete")
        .success()
        .expect("deleted");
    b
}

fn names(objects: &[LdapObject]) -> Vec<String> {
    let mut n: Vec<String> = objects
        .iter()
        .filter_map(|o| o.sam_account_name.clone())
        .collect();
    n.sort();
    n
}

async fn remove_ou(ldap: &mut ldap3::Ldap, ou: &str) {
    let (entries, _) = ldap
        .search(ou, Scope::Subtree, "(objectClass=user)", vec!["1.1"])
        .await
        .expect("search")
        .success()
        .expect("list");
    for entry in entries {
        let _ = ldap.delete(&SearchEntry::construct(entry).dn).await;
    }
    let _ = ldap.delete(ou).await;
}

#[tokio::test]
async fn usn_cursor_returns_only_what_changed_and_the_deleted_guid() {
    let Some((contoso, _, _)) = dcs() else { return };
    let (mut ldap, ou, tag) = scratch_ou(&contoso, "Usn").await;
    let src = source(config(&contoso, &[&ou]));
    let first = src.read_full().await.expect("full read");
    assert_eq!(
        names(&first.objects),
        [format!("{tag}a"), format!("{tag}b")]
    );
    let b = change_add_delete(&mut ldap, &ou, &tag, &first.objects).await;

    let changes = src.changes_since(&first.cursor).await.expect("changes");
    assert_eq!(
        names(&changes.objects),
        [format!("{tag}a"), format!("{tag}c")]
    );
    let a = changes
        .objects
        .iter()
        .find(|o| o.sam_account_name.as_deref() == Some(&format!("{tag}a")))
        .expect("a");
    assert_eq!(a.mail.as_deref(), Some("changed@example.test"));
    assert_eq!(changes.deleted, [b]);
    assert_ne!(changes.cursor, first.cursor);

    let again = src.changes_since(&changes.cursor).await.expect("changes");
    assert!(
        again.objects.is_empty() && again.deleted.is_empty(),
        "{:?} {:?}",
        names(&again.objects),
        again.deleted
    );
    let json = serde_json::to_string(&again.cursor).expect("a cursor serializes");
    assert_eq!(
        serde_json::from_str::<LdapCursor>(&json).expect("and reads back"),
        again.cursor
    );
    let elsewhere = LdapCursor::Usn {
        server: "dc9.contoso.test".into(),
        next_usn: 1,
    };
    let err = src
        .changes_since(&elsewhere)
        .await
        .expect_err("a cursor of another DC")
        .to_string();
    assert!(err.contains("full import"), "{err}");
    remove_ou(&mut ldap, &ou).await;
}

#[tokio::test]
async fn dirsync_cookie_returns_only_what_changed_and_the_deleted_guid() {
    let Some((_, fabrikam, _)) = dcs() else {
        return;
    };
    let (mut ldap, ou, tag) = scratch_ou(&fabrikam, "Dirsync").await;
    let src = source(config(&fabrikam, &[&ou]));
    let first = src
        .changes_since(&LdapCursor::dirsync_start())
        .await
        .expect("DirSync from the start");
    assert_eq!(
        names(&first.objects),
        [format!("{tag}a"), format!("{tag}b")]
    );
    let b = change_add_delete(&mut ldap, &ou, &tag, &first.objects).await;

    let changes = src.changes_since(&first.cursor).await.expect("changes");
    assert_eq!(
        names(&changes.objects),
        [format!("{tag}a"), format!("{tag}c")]
    );
    assert_eq!(changes.deleted, [b]);
    let again = src.changes_since(&changes.cursor).await.expect("changes");
    assert!(
        again.objects.is_empty() && again.deleted.is_empty(),
        "{:?} {:?}",
        names(&again.objects),
        again.deleted
    );
    remove_ou(&mut ldap, &ou).await;
}
