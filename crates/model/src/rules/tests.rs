use super::*;

fn field_of(e: Error) -> String {
    match e {
        Error::Invalid(fields) => fields[0].field.clone(),
        other => panic!("unexpected {:?}", other),
    }
}

#[test]
fn qr_urls_get_one_anchor_per_dialog_and_blank_means_none() {
    assert!(check_qr_url("qr", "https://migration.fabrikam.com/information").is_ok());
    assert_eq!(
        qr_url_for(
            "https://migration.fabrikam.com/information",
            Dialog::MigrationComplete
        )
        .as_deref(),
        Some("https://migration.fabrikam.com/information#MigrationComplete")
    );
    assert_eq!(qr_url_for("  ", Dialog::MigrationComplete), None);
    assert!(check_qr_url("qr", "").is_ok());
    assert!(check_qr_url("qr", "ftp://x").is_err());
    assert!(check_qr_url("qr", "https://x/#a").is_err());
    assert!(check_qr_url("qr", "https://").is_err());
    assert_eq!(
        field_of(check_qr_url("user_experience.qr_code_url", "x").unwrap_err()),
        "user_experience.qr_code_url"
    );
}

#[test]
fn placeholders_are_checked_against_the_dialog() {
    assert!(check_placeholders(
        "t",
        "Moving to {TargetDomain} on {StartDate}",
        &["TargetDomain", "StartDate"]
    )
    .is_ok());
    assert!(check_placeholders("t", "in {0} minutes", &["0"]).is_ok());
    assert!(check_placeholders("t", "{Target}", &["TargetDomain"]).is_err());
    assert!(check_placeholders("t", "{TargetDomain", &["TargetDomain"]).is_err());
}

#[test]
fn culture_codes() {
    for ok in ["fr-FR", "en", "de-DE", "sr-Latn-RS", "es-419", "zh-Hans"] {
        assert!(check_culture("c", ok).is_ok(), "{}", ok);
    }
    for bad in ["", "FR-fr", "french", "fr_FR", "fr-FRA", "fr-FR-x"] {
        assert!(check_culture("c", bad).is_err(), "{}", bad);
    }
}

#[test]
fn onedrive_folder_names() {
    assert!(check_onedrive_folder("f", "OneDrive - Fabrikam").is_ok());
    assert!(check_onedrive_folder("f", "OneDrive - PSP Contoso").is_ok());
    let dash = check_onedrive_folder("f", "OneDrive \u{2013} Fabrikam").unwrap_err();
    assert!(dash.to_string().contains("plain hyphen"));
    for bad in [
        "OneDrive -  Fabrikam",
        "OneDrive - Fabrikam ",
        "OneDrive - ",
        "OneDrive- Fabrikam",
        "Onedrive - Fabrikam",
        "OneDrive - A/B",
        "OneDrive - Inc.",
    ] {
        assert!(check_onedrive_folder("f", bad).is_err(), "{}", bad);
    }
}

#[test]
fn tenant_ids_one_per_line() {
    let ids = parse_tenant_ids(
        "t",
        "73d664e4-0886-4a73-b745-c694da45ddb4\n\n 73D664E4-0886-4A73-B745-C694DA45DDB4 \n",
    )
    .unwrap();
    assert_eq!(ids.len(), 1);
    let e = parse_tenant_ids("t", "73d664e4-0886-4a73-b745-c694da45ddb4\nnope").unwrap_err();
    assert!(e.to_string().contains("line 2"));
}

#[test]
fn unc_paths_refuse_drive_letters() {
    let paths = parse_unc_paths("p", "\\\\fs01\\home\n\\\\fs02\\dept\\finance\\\n").unwrap();
    assert_eq!(paths, vec!["\\\\fs01\\home", "\\\\fs02\\dept\\finance"]);
    let e = parse_unc_paths("p", "\\\\fs01\\home\nH:\\users").unwrap_err();
    assert!(e.to_string().contains("line 2") && e.to_string().contains("drive letter"));
    assert!(parse_unc_paths("p", "\\\\fs01").is_err());
    assert!(parse_unc_paths("p", "\\\\fs01\\share\\..\\x").is_err());
    assert!(parse_unc_paths("p", "/mnt/share").is_err());
}

#[test]
fn computer_ou_must_be_an_ou() {
    assert!(check_computer_ou("ou", "").is_ok());
    assert!(check_computer_ou("ou", "OU=Computers,OU=SALES,OU=EMEA,DC=charlie,DC=local").is_ok());
    let e = check_computer_ou("ou", "CN=Computers,DC=fabrikam,DC=local").unwrap_err();
    assert!(e.to_string().contains("container"));
    assert!(check_computer_ou("ou", "OU=Workstations").is_err());
    assert!(check_computer_ou("ou", "Workstations").is_err());
}

#[test]
fn password_policy() {
    let policy = PasswordPolicy::default();
    assert!(policy.check("p", "fallback", "Correct-Horse-42").is_ok());
    assert!(policy.check("p", "fallback", "short1A!").is_err());
    assert!(policy
        .check("p", "fallback", "alllowercaseletters")
        .is_err());
    let e = policy
        .check("p", "fallback", "My-fallback-Pass1")
        .unwrap_err();
    assert!(!e.to_string().contains("My-fallback-Pass1"));
    let relaxed = PasswordPolicy {
        min_length: 8,
        min_categories: 2,
    };
    assert!(relaxed.check("p", "x", "abcdefg1").is_ok());
}

#[test]
fn day_ranges() {
    assert!(check_days("d", 0, 0, 365).is_ok());
    assert!(check_days("d", 365, 0, 365).is_ok());
    assert!(check_days("d", 366, 0, 365).is_err());
    assert!(check_days("d", -1, 0, 365).is_err());
}
