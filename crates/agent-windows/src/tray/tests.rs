use chrono::{FixedOffset, TimeZone, Utc};
use model::rules::Dialog;
use model::runbook::{Culture, SafeHtml, UserExperienceSettings};
use model::schedule::Snooze;

use super::content::*;

fn french() -> Culture {
    let mut fr = Culture::new("fr-FR");
    let available = &mut fr.dialogs.migration_available;
    available.title = "Migration disponible".into();
    available.message = SafeHtml::new(
        "<p>Une migration est disponible.</p><p>Elle sera lancée le <b>{StartDate}</b>. Aide : <a href=\"https://aide.contoso.fr/?a=1&b=2\">le service informatique</a>.</p>",
    );
    available
        .labels
        .insert("snooze_1_hour".into(), "1 heure".into());
    available
        .labels
        .insert("start_button".into(), "Démarrer".into());
    fr.dialogs.migration_starting.message =
        SafeHtml::new("La migration commence dans {0} minutes.<br>Démarrer maintenant ?");
    fr
}

fn settings() -> UserExperienceSettings {
    let mut s = UserExperienceSettings::default();
    s.cultures.push(french());
    s.qr_code_url = "https://aide.contoso.fr/migration".into();
    s
}

#[test]
fn the_device_culture_picks_the_texts_then_its_language_then_the_default() {
    let s = settings();
    assert_eq!(
        pick_culture(&s, "fr-FR").map(|c| c.code.as_str()),
        Some("fr-FR")
    );
    assert_eq!(
        pick_culture(&s, "FR-ca").map(|c| c.code.as_str()),
        Some("fr-FR")
    );
    assert_eq!(
        pick_culture(&s, "de-DE").map(|c| c.code.as_str()),
        Some("en-US")
    );
}

#[test]
fn migration_available_reads_in_french_with_its_date_link_snoozes_and_qr() {
    let enforced = Utc.with_ymd_and_hms(2026, 3, 9, 6, 0, 0).unwrap();
    let values = Values {
        start_date: Some((enforced, FixedOffset::east_opt(3600).unwrap())),
        ..Values::default()
    };
    let c = content(&settings(), "fr-FR", Dialog::MigrationAvailable, &values);
    assert_eq!(c.title, "Migration disponible");
    assert_eq!(
        c.message,
        "Une migration est disponible.\n\nElle sera lancée le 2026-03-09 07:00. Aide : le service informatique."
    );
    assert_eq!(
        c.links,
        vec![Link {
            text: "le service informatique".into(),
            href: "https://aide.contoso.fr/?a=1&b=2".into()
        }]
    );
    assert_eq!(c.buttons[0], (Choice::StartNow, "Démarrer".to_string()));
    // Labels the culture leaves out keep rehome's wording.
    assert_eq!(c.buttons[1], (Choice::Snooze, "Remind me".to_string()));
    let (label, choices) = c.snooze.expect("snooze choices");
    assert_eq!(label, "Remind me in");
    assert_eq!(choices.len(), 7);
    assert_eq!(choices[3], (Snooze::OneHour, "1 heure".to_string()));
    assert_eq!(
        c.qr_url.as_deref(),
        Some("https://aide.contoso.fr/migration#MigrationAvailable")
    );
    assert!(!c.on_top);
}

#[test]
fn the_countdown_says_the_minutes_left_and_stays_on_top() {
    let values = Values {
        minutes_left: Some(45),
        ..Values::default()
    };
    let c = content(&settings(), "fr-FR", Dialog::MigrationStarting, &values);
    assert_eq!(
        c.message,
        "La migration commence dans 45 minutes.\nDémarrer maintenant ?"
    );
    assert!(c.on_top);
    assert_eq!(c.buttons.len(), 2);
    let progress = content(
        &settings(),
        "en-US",
        Dialog::MigrationInProgress,
        &Values::default(),
    );
    assert!(progress.buttons.is_empty() && progress.on_top);
}

#[test]
fn lists_and_entities_become_plain_text() {
    let (text, links) = html_to_text(
        "Before you go:<ul><li>save &amp; close</li><li>stay &lt;on&gt;</li></ul><ol><li>one</li><li>two</li></ol>End",
    );
    assert_eq!(
        text,
        "Before you go:\n\n\u{2022} save & close\n\u{2022} stay <on>\n\n1. one\n2. two\n\nEnd"
    );
    assert!(links.is_empty());
}

#[test]
fn cache_credentials_fills_the_target_domain() {
    let values = Values {
        target_domain: Some("fabrikam.test".into()),
        ..Values::default()
    };
    let c = content(&settings(), "en-US", Dialog::CacheCredentials, &values);
    assert!(c.message.contains("fabrikam.test"), "{}", c.message);
    assert_eq!(
        c.credentials,
        Some(("User name".to_string(), "Password".to_string()))
    );
}
