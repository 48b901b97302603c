//! `rehome directory …` and `rehome match …` run as a person would, on a fresh data directory with
//! directories read from JSON documents.

use std::path::Path;
use std::process::{Command, Output};

use rehome::demo::directories::{generate, DomainFile};
use server::store::testing::TestDir;

fn rehome(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehome"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("REHOME_DATABASE")
        .env_remove("REHOME_DATA_DIR")
        .output()
        .expect("run rehome")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &TestDir, name: &str, file: &DomainFile) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec(file).expect("json")).expect("write");
    path.display().to_string()
}

#[test]
fn directories_are_added_imported_listed_matched_and_explained_from_the_command_line() {
    let dir = TestDir::new();
    let data = dir.path().join("data");
    let source = generate("contoso.test", 1, 6, 0);
    let target = generate("fabrikam.test", 2, 5, 0);
    let (src, dst) = (
        write(&dir, "contoso.json", &source),
        write(&dir, "fabrikam.json", &target),
    );

    let out = rehome(
        &data,
        &[
            "directory",
            "add",
            "--name",
            "CONTOSO",
            "--kind",
            "ad",
            "--domain",
            "contoso.test",
            "--file",
            &src,
        ],
    );
    assert!(ok(&out).contains("Added CONTOSO"));
    ok(&rehome(
        &data,
        &[
            "directory",
            "add",
            "--name",
            "FABRIKAM",
            "--kind",
            "entra",
            "--domain",
            "fabrikam.test",
            "--file",
            &dst,
        ],
    ));

    let listed = ok(&rehome(&data, &["directory", "list"]));
    assert!(
        listed.contains("CONTOSO") && listed.contains("never"),
        "{listed}"
    );

    let imported = ok(&rehome(
        &data,
        &["directory", "import", "CONTOSO", "--full"],
    ));
    assert!(
        imported.contains(&format!("{} objects", source.objects.len())),
        "{imported}"
    );
    ok(&rehome(&data, &["directory", "import", "fabrikam"]));
    let listed = ok(&rehome(&data, &["directory", "list"]));
    let line = listed
        .lines()
        .find(|l| l.starts_with("CONTOSO"))
        .expect("a CONTOSO line");
    assert!(
        line.contains("ad") && line.contains("contoso.test"),
        "{line}"
    );
    assert!(line.contains(&source.objects.len().to_string()), "{line}");
    assert!(!line.contains("never"), "{line}");

    let matched = ok(&rehome(
        &data,
        &[
            "match",
            "run",
            "CONTOSO",
            "FABRIKAM",
            "--attribute",
            "sAMAccountName",
        ],
    ));
    assert!(matched.contains("Matched CONTOSO to FABRIKAM"), "{matched}");

    let sams: Vec<String> = target
        .users()
        .filter_map(|u| u.sam_account_name.clone())
        .collect();
    let paired = source
        .users()
        .find(|u| {
            u.sam_account_name
                .as_ref()
                .is_some_and(|s| sams.contains(s))
        })
        .expect("a user in both");
    let alone = source
        .users()
        .find(|u| {
            u.sam_account_name
                .as_ref()
                .is_some_and(|s| !sams.contains(s))
        })
        .expect("a user only in the source");
    let who = paired.sam_account_name.clone().expect("sam");
    let text = ok(&rehome(
        &data,
        &["match", "explain", "CONTOSO", "FABRIKAM", &who],
    ));
    assert!(
        text.contains(&paired.name) && text.contains("matched to"),
        "{text}"
    );
    let who = alone.sam_account_name.clone().expect("sam");
    let text = ok(&rehome(
        &data,
        &["match", "explain", "CONTOSO", "FABRIKAM", &who],
    ));
    assert!(
        text.contains(&alone.name) && text.contains("not matched"),
        "{text}"
    );
}

#[test]
fn bad_options_name_the_flag_and_secrets_come_only_from_the_environment() {
    let dir = TestDir::new();
    let data = dir.path().join("data");
    let fails = |args: &[&str]| {
        let out = rehome(&data, args);
        assert!(!out.status.success(), "{:?} should fail", args);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = fails(&[
        "directory",
        "add",
        "--name",
        "X",
        "--kind",
        "novell",
        "--domain",
        "x.test",
        "--file",
        "/nonexistent.json",
    ]);
    assert!(e.contains("--kind"), "{e}");
    let e = fails(&[
        "directory",
        "add",
        "--name",
        "X",
        "--kind",
        "ad",
        "--domain",
        "x.test",
        "--ldap-url",
        "ldaps://dc1.x.test",
        "--bind-dn",
        "CN=svc",
        "--password-env",
        "REHOME_TEST_UNSET_PASSWORD_VAR",
    ]);
    assert!(e.contains("--password-env"), "{e}");
    let e = fails(&[
        "directory",
        "add",
        "--name",
        "X",
        "--kind",
        "ad",
        "--domain",
        "x.test",
        "--tenant",
        "x.test",
        "--client-id",
        "app",
        "--secret-env",
        "HOME",
    ]);
    assert!(e.contains("--tenant"), "{e}");
    let e = fails(&[
        "directory",
        "add",
        "--name",
        "X",
        "--kind",
        "ad",
        "--domain",
        "x.test",
        "--ldap-url",
        "http://dc1",
        "--bind-dn",
        "CN=svc",
        "--password-env",
        "HOME",
    ]);
    assert!(e.contains("--ldap-url"), "{e}");
    // Nothing was added: there is no store, and a command that needs one says so and makes
    // none.
    for args in [
        &["match", "run", "A", "B"][..],
        &["directory", "list"],
        &["sync", "list"],
        &["admin", "unlock", "--user", "admin"],
    ] {
        let e = fails(args);
        assert!(
            e.contains("--data-dir") && e.contains("no store there"),
            "{e}"
        );
    }
    assert!(!data.join("rehome.db").exists());
    let source = generate("x.test", 1, 1, 0);
    let file = write(&dir, "x.json", &source);
    let add = [
        "directory",
        "add",
        "--name",
        "X",
        "--kind",
        "ad",
        "--domain",
        "x.test",
    ];
    ok(&rehome(&data, &[&add[..], &["--file", &file]].concat()));
    let e = fails(&["match", "run", "X", "B"]);
    assert!(e.contains("no directory is called"), "{e}");
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let dir = TestDir::new();
    let file = write(&dir, "x.json", &generate("x.test", 1, 1, 0));
    let add = [
        "directory",
        "add",
        "--name",
        "X",
        "--kind",
        "ad",
        "--domain",
        "x.test",
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_rehome"))
        .args(add)
        .args(["--file", &file, "--data-dir"])
        .arg(dir.path().join("data"))
        .env_remove("REHOME_DATABASE")
        .env_remove("REHOME_DATA_DIR")
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "debug")
        .output()
        .expect("run rehome");
    ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("DEBUG") || log.contains("INFO"),
        "no log lines: {log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log:?}"
    );
}

#[test]
fn a_provisioning_package_is_uploaded_shown_replaced_and_deleted_from_the_command_line() {
    let dir = TestDir::new();
    let data = dir.path().join("data");
    let target = generate("fabrikam.test", 2, 1, 0);
    let dst = write(&dir, "fabrikam.json", &target);
    let source = generate("contoso.test", 1, 1, 0);
    let src = write(&dir, "contoso.json", &source);
    for (name, kind, domain, file) in [
        ("FABRIKAM", "entra", "fabrikam.test", &dst),
        ("CONTOSO", "ad", "contoso.test", &src),
    ] {
        ok(&rehome(
            &data,
            &[
                "directory",
                "add",
                "--name",
                name,
                "--kind",
                kind,
                "--domain",
                domain,
                "--file",
                file,
            ],
        ));
    }
    let package = dir.path().join("join-fabrikam.ppkg");
    std::fs::write(&package, b"MSCF package with secret-bprt").expect("write");
    let package = package.display().to_string();
    let sha = model::protocol::sha256_hex(b"MSCF package with secret-bprt");

    let upload = |name: &str| {
        rehome(
            &data,
            &[
                "directory",
                "provisioning-package",
                "upload",
                name,
                "--file",
                &package,
            ],
        )
    };
    let stored = ok(&upload("fabrikam"));
    assert!(
        stored.starts_with("Stored") && stored.contains(&sha),
        "{stored}"
    );
    let shown = ok(&rehome(
        &data,
        &["directory", "provisioning-package", "show", "FABRIKAM"],
    ));
    assert!(
        shown.contains("join-fabrikam.ppkg") && shown.contains(&sha) && shown.contains("29 bytes"),
        "{shown}"
    );
    assert!(!shown.contains("secret-bprt"), "{shown}");
    assert!(ok(&upload("FABRIKAM")).starts_with("Replaced"));

    // An Active Directory target has no use for one, and says so.
    let refused = upload("CONTOSO");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("Entra"), "{err}");

    ok(&rehome(
        &data,
        &["directory", "provisioning-package", "delete", "FABRIKAM"],
    ));
    let gone = rehome(
        &data,
        &["directory", "provisioning-package", "show", "FABRIKAM"],
    );
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("provisioning package"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
}
