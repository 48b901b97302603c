//! Each dialog opened for real and read back through the window manager's own calls
//! (FindWindowW, EnumChildWindows, GetWindowTextW), then saved as a screenshot. Needs a display:
//! scripts/test-windows runs these under Xvfb with `--ignored` and REHOME_SCREENSHOTS set.

use chrono::{FixedOffset, TimeZone, Utc};
use model::rules::Dialog;
use model::runbook::{dialog_key, Culture, DialogText, SafeHtml, UserExperienceSettings};
use windows_sys::Win32::Foundation::RECT;
use windows_sys::Win32::Graphics::Gdi::*;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    FindWindowW, GetDlgItem, GetWindowRect, SendMessageW, CB_GETCOUNT,
};

use super::*;
use crate::tray::content::{content, Values};

fn texts_of(culture: &mut Culture, dialog: Dialog) -> &mut DialogText {
    let d = &mut culture.dialogs;
    match dialog {
        Dialog::CacheCredentials => &mut d.cache_credentials,
        Dialog::MigrationAvailable => &mut d.migration_available,
        Dialog::MigrationStarting => &mut d.migration_starting,
        Dialog::MigrationInProgress => &mut d.migration_in_progress,
        Dialog::MigrationComplete => &mut d.migration_complete,
        Dialog::ServiceUnavailable => &mut d.service_unavailable,
    }
}

/// A runbook's User Experience tab in French, with a help page for the QR code.
fn french() -> UserExperienceSettings {
    let mut fr = Culture::new("fr-FR");
    let texts = [
        (Dialog::CacheCredentials, "Connectez-vous à votre nouveau compte",
         "Votre ordinateur rejoint <b>{TargetDomain}</b>. Connectez-vous une fois avec votre nouveau compte. Aide : <a href=\"mailto:support@contoso.fr\">le service informatique</a>."),
        (Dialog::MigrationAvailable, "Migration disponible",
         "<p>Une migration de votre ordinateur est disponible.</p><p>Enregistrez votre travail et lancez-la maintenant, ou choisissez un meilleur moment. Elle sera lancée d'office le {StartDate}.</p>"),
        (Dialog::MigrationStarting, "Démarrage de la migration",
         "<p>La migration de votre ordinateur commence dans {0} minutes. Enregistrez votre travail.</p><p>Voulez-vous la lancer maintenant ?</p>"),
        (Dialog::MigrationInProgress, "Migration en cours",
         "Migration en cours, veuillez patienter. Laissez votre ordinateur allumé."),
        (Dialog::MigrationComplete, "Migration terminée",
         "<ul><li>Votre ordinateur a rejoint son nouvel annuaire.</li><li>Connectez-vous avec votre nouveau compte.</li></ul>"),
        (Dialog::ServiceUnavailable, "Service de migration injoignable",
         "Le service de migration est injoignable pour le moment. Votre ordinateur réessaiera tout seul."),
    ];
    for (dialog, title, message) in texts {
        let text = texts_of(&mut fr, dialog);
        text.title = title.to_string();
        text.message = SafeHtml::new(message);
    }
    let labels = [
        ("username", "Nom d'utilisateur"),
        ("password", "Mot de passe"),
        ("ok_button", "OK"),
        ("cancel_button", "Plus tard"),
        ("snooze_label", "ou me le rappeler dans"),
        ("snooze_button", "Rappeler"),
        ("snooze_5_minutes", "5 minutes"),
        ("snooze_15_minutes", "15 minutes"),
        ("snooze_30_minutes", "30 minutes"),
        ("snooze_1_hour", "1 heure"),
        ("snooze_4_hours", "4 heures"),
        ("snooze_1_day", "1 jour"),
        ("snooze_1_week", "1 semaine"),
        ("start_button", "Démarrer"),
        ("yes_button", "Oui"),
        ("no_button", "Non"),
    ];
    for dialog in Dialog::ALL {
        let text = texts_of(&mut fr, dialog);
        for (key, label) in labels {
            if model::runbook::labels_of(dialog).contains(&key) {
                text.labels.insert(key.to_string(), label.to_string());
            }
        }
    }
    let mut settings = UserExperienceSettings::default();
    settings.cultures.push(fr);
    settings.qr_code_url = "https://aide.contoso.fr/migration".to_string();
    settings
}

/// Saves what the screen shows of `hwnd` as a 24-bit BMP.
fn screenshot(hwnd: HWND, path: &std::path::Path) {
    unsafe {
        let mut r: RECT = std::mem::zeroed();
        GetWindowRect(hwnd, &mut r);
        let (w, h) = (r.right - r.left, r.bottom - r.top);
        let screen = GetDC(std::ptr::null_mut());
        let memory = CreateCompatibleDC(screen);
        let bitmap = CreateCompatibleBitmap(screen, w, h);
        let old = SelectObject(memory, bitmap as _);
        BitBlt(memory, 0, 0, w, h, screen, r.left, r.top, SRCCOPY);
        SelectObject(memory, old);
        let stride = ((w * 3 + 3) & !3) as usize;
        let mut pixels = vec![0u8; stride * h as usize];
        let mut info: BITMAPINFO = std::mem::zeroed();
        info.bmiHeader.biSize = std::mem::size_of::<BITMAPINFOHEADER>() as u32;
        info.bmiHeader.biWidth = w;
        info.bmiHeader.biHeight = h;
        info.bmiHeader.biPlanes = 1;
        info.bmiHeader.biBitCount = 24;
        GetDIBits(
            memory,
            bitmap,
            0,
            h as u32,
            pixels.as_mut_ptr() as _,
            &mut info,
            DIB_RGB_COLORS,
        );
        DeleteObject(bitmap as _);
        DeleteDC(memory);
        ReleaseDC(std::ptr::null_mut(), screen);
        let mut file = Vec::new();
        file.extend_from_slice(b"BM");
        file.extend_from_slice(&((54 + pixels.len()) as u32).to_le_bytes());
        file.extend_from_slice(&[0; 4]);
        file.extend_from_slice(&54u32.to_le_bytes());
        file.extend_from_slice(&40u32.to_le_bytes());
        file.extend_from_slice(&w.to_le_bytes());
        file.extend_from_slice(&h.to_le_bytes());
        file.extend_from_slice(&1u16.to_le_bytes());
        file.extend_from_slice(&24u16.to_le_bytes());
        file.extend_from_slice(&[0; 24]);
        file.extend_from_slice(&pixels);
        std::fs::write(path, file).expect("screenshot written");
    }
}

#[test]
#[ignore = "needs a display: scripts/test-windows runs it under Xvfb"]
fn each_dialog_opens_in_french_with_its_texts_and_is_screenshotted() {
    let dir = std::path::PathBuf::from(
        std::env::var("REHOME_SCREENSHOTS").expect("REHOME_SCREENSHOTS: where screenshots go"),
    );
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let settings = french();
    let enforced = Utc.with_ymd_and_hms(2026, 3, 9, 6, 0, 0).unwrap();
    let values = Values {
        target_domain: Some("fabrikam.test".to_string()),
        start_date: Some((enforced, FixedOffset::east_opt(3600).unwrap())),
        minutes_left: Some(60),
    };
    for dialog in Dialog::ALL {
        let c = content(&settings, "fr-FR", dialog, &values);
        let hwnd = open(&c).expect("the dialog opens");
        pump();
        let (class, title) = (wide(CLASS), wide(&c.title));
        let found = unsafe { FindWindowW(class.as_ptr(), title.as_ptr()) };
        assert_eq!(found, hwnd, "{} is found by its title", c.title);
        let texts = child_texts(hwnd);
        assert_eq!(texts[0], c.title);
        assert_eq!(texts[1], c.message);
        for (_, label) in &c.buttons {
            assert!(texts.contains(label), "{:?} lacks {:?}", texts, label);
        }
        match dialog {
            Dialog::MigrationAvailable => {
                assert!(
                    texts.iter().any(|t| t.contains("2026-03-09 07:00")),
                    "{:?}",
                    texts
                );
                assert!(texts.contains(&"ou me le rappeler dans".to_string()));
                // The list shows the hour picked by default and holds all seven lengths.
                assert!(texts.contains(&"1 heure".to_string()), "{:?}", texts);
                let combo = unsafe { GetDlgItem(hwnd, ID_SNOOZE) };
                assert_eq!(unsafe { SendMessageW(combo, CB_GETCOUNT, 0, 0) }, 7);
            }
            Dialog::MigrationStarting => {
                assert!(texts[1].contains("dans 60 minutes"), "{:?}", texts);
                // The countdown's minutes change in place.
                let later = content(
                    &settings,
                    "fr-FR",
                    dialog,
                    &Values {
                        minutes_left: Some(45),
                        ..values.clone()
                    },
                );
                set_message(hwnd, &later.message);
                assert!(child_texts(hwnd)[1].contains("dans 45 minutes"));
                set_message(hwnd, &c.message);
            }
            Dialog::CacheCredentials => {
                assert!(texts[1].contains("fabrikam.test"));
                assert!(texts.contains(&"Mot de passe".to_string()));
                assert!(texts
                    .iter()
                    .any(|t| t == "le service informatique: mailto:support@contoso.fr"));
            }
            Dialog::MigrationComplete => {
                assert!(
                    texts[1].starts_with("\u{2022} Votre ordinateur"),
                    "{:?}",
                    texts
                );
            }
            _ => {}
        }
        pump();
        screenshot(hwnd, &dir.join(format!("{}.bmp", dialog_key(dialog))));
        close(hwnd);
        pump();
        assert!(unsafe { FindWindowW(class.as_ptr(), title.as_ptr()) }.is_null());
    }
}
