//! User Experience tab: what the signed-in user reads, per culture, and the QR code under it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::keep;
use crate::html;
use crate::rules::{check_culture, check_placeholders, check_qr_url, Dialog};
use crate::{Error, Result, Validator};

/// Text that may carry the limited HTML of [`html::sanitize`]. It is sanitized when it is made
/// and when it is read from JSON, so the stored form is always the sanitized one and no script
/// can reach a device or the console whichever way the text arrived.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SafeHtml(String);

impl SafeHtml {
    /// Sanitizes `text`.
    pub fn new(text: &str) -> SafeHtml {
        SafeHtml(html::sanitize(text))
    }

    /// The sanitized text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SafeHtml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for SafeHtml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<SafeHtml, D::Error> {
        let text = String::deserialize(d)?;
        Ok(SafeHtml::new(&text))
    }
}

/// The texts of one dialog in one culture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogText {
    /// Window title, plain text.
    pub title: String,
    /// Main message, limited HTML.
    pub message: SafeHtml,
    /// Button and other labels, plain text, keyed as [`labels_of`] lists for the dialog.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The labels each dialog has besides its title and message.
pub fn labels_of(dialog: Dialog) -> &'static [&'static str] {
    match dialog {
        Dialog::CacheCredentials => &["username", "password", "ok_button", "cancel_button"],
        Dialog::MigrationAvailable => &[
            "snooze_label",
            "snooze_button",
            "snooze_5_minutes",
            "snooze_15_minutes",
            "snooze_30_minutes",
            "snooze_1_hour",
            "snooze_4_hours",
            "snooze_1_day",
            "snooze_1_week",
            "start_button",
        ],
        Dialog::MigrationStarting => &["yes_button", "no_button"],
        Dialog::MigrationInProgress => &[],
        Dialog::MigrationComplete | Dialog::ServiceUnavailable => &["ok_button"],
    }
}

/// The placeholders a dialog's title and message may use: the target domain where the user is
/// asked to sign in, the enforced start where a start is offered, the minutes left in the
/// countdown.
pub fn placeholders_of(dialog: Dialog) -> &'static [&'static str] {
    match dialog {
        Dialog::CacheCredentials => &["TargetDomain"],
        Dialog::MigrationAvailable => &["StartDate"],
        Dialog::MigrationStarting => &["0"],
        _ => &[],
    }
}

/// Field name of a dialog in paths and JSON.
pub fn dialog_key(dialog: Dialog) -> &'static str {
    match dialog {
        Dialog::CacheCredentials => "cache_credentials",
        Dialog::MigrationAvailable => "migration_available",
        Dialog::MigrationStarting => "migration_starting",
        Dialog::MigrationInProgress => "migration_in_progress",
        Dialog::MigrationComplete => "migration_complete",
        Dialog::ServiceUnavailable => "service_unavailable",
    }
}

/// Every dialog's texts in one culture; a dialog left out of the JSON keeps rehome's wording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dialogs {
    /// Asks for target credentials ahead of an offline domain join.
    pub cache_credentials: DialogText,
    /// A migration may be started or snoozed.
    pub migration_available: DialogText,
    /// The countdown before an enforced start.
    pub migration_starting: DialogText,
    /// Shown on top while the migration runs.
    pub migration_in_progress: DialogText,
    /// Shown once to each user after the migration.
    pub migration_complete: DialogText,
    /// The server cannot be reached.
    pub service_unavailable: DialogText,
}

impl Dialogs {
    /// The texts of `dialog`.
    pub fn get(&self, dialog: Dialog) -> &DialogText {
        match dialog {
            Dialog::CacheCredentials => &self.cache_credentials,
            Dialog::MigrationAvailable => &self.migration_available,
            Dialog::MigrationStarting => &self.migration_starting,
            Dialog::MigrationInProgress => &self.migration_in_progress,
            Dialog::MigrationComplete => &self.migration_complete,
            Dialog::ServiceUnavailable => &self.service_unavailable,
        }
    }
}

fn text(title: &str, message: &str, labels: &[(&str, &str)]) -> DialogText {
    DialogText {
        title: title.to_string(),
        message: SafeHtml::new(message),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

impl Default for Dialogs {
    /// rehome's own English wording.
    fn default() -> Dialogs {
        Dialogs {
            cache_credentials: text(
                "Sign in to your new account",
                "Your computer is moving to <b>{TargetDomain}</b>. Sign in once with your new account so you can log on after the move.",
                &[
                    ("username", "User name"),
                    ("password", "Password"),
                    ("ok_button", "Sign in"),
                    ("cancel_button", "Not now"),
                ],
            ),
            migration_available: text(
                "Your computer is ready to move",
                "You can move your computer now. Save your work first. If you wait, the move starts by itself at {StartDate}.",
                &[
                    ("snooze_label", "Remind me in"),
                    ("snooze_button", "Remind me"),
                    ("snooze_5_minutes", "5 minutes"),
                    ("snooze_15_minutes", "15 minutes"),
                    ("snooze_30_minutes", "30 minutes"),
                    ("snooze_1_hour", "1 hour"),
                    ("snooze_4_hours", "4 hours"),
                    ("snooze_1_day", "1 day"),
                    ("snooze_1_week", "1 week"),
                    ("start_button", "Move now"),
                ],
            ),
            migration_starting: text(
                "Your computer will move soon",
                "The move starts in {0} minutes. Save your work. Start it now?",
                &[("yes_button", "Start now"), ("no_button", "Later")],
            ),
            migration_in_progress: text(
                "Moving your computer",
                "Your computer is being moved. Please leave it on and wait.",
                &[],
            ),
            migration_complete: text(
                "Your computer has moved",
                "Everything is in place. Welcome to your new account.",
                &[("ok_button", "OK")],
            ),
            service_unavailable: text(
                "Cannot reach the migration service",
                "The migration service is out of reach for now. Your computer will try again by itself.",
                &[("ok_button", "OK")],
            ),
        }
    }
}

/// One culture's texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Culture {
    /// Culture code such as `fr-FR`.
    pub code: String,
    /// Every dialog's texts.
    #[serde(default)]
    pub dialogs: Dialogs,
    /// Legal notice shown at sign-in while the migration runs (Startup's Set Legal Notice).
    #[serde(default)]
    pub legal_notice: SafeHtml,
}

impl Culture {
    /// rehome's default texts under `code`.
    pub fn new(code: &str) -> Culture {
        Culture {
            code: code.to_string(),
            dialogs: Dialogs::default(),
            legal_notice: SafeHtml::new(
                "This computer is being moved to a new directory. Please do not sign in until the move has finished.",
            ),
        }
    }
}

/// The culture every runbook starts with.
pub const DEFAULT_CULTURE: &str = "en-US";

/// User Experience tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserExperienceSettings {
    /// The culture shown when the device's own has no texts here; cannot be deleted.
    #[serde(default = "default_culture")]
    pub default_culture: String,
    /// Texts per culture.
    #[serde(default = "default_cultures")]
    pub cultures: Vec<Culture>,
    /// Help page shown as a QR code in each dialog, with the dialog's anchor; blank for none.
    #[serde(default)]
    pub qr_code_url: String,
}

fn default_culture() -> String {
    DEFAULT_CULTURE.to_string()
}

fn default_cultures() -> Vec<Culture> {
    vec![Culture::new(DEFAULT_CULTURE)]
}

impl Default for UserExperienceSettings {
    fn default() -> UserExperienceSettings {
        UserExperienceSettings {
            default_culture: default_culture(),
            cultures: default_cultures(),
            qr_code_url: String::new(),
        }
    }
}

/// A label or title is plain text: markup would show as typed, so it is refused.
fn check_plain(v: &mut Validator, field: String, text: &str) {
    v.check(
        !text.contains(['<', '>']),
        field,
        "plain text only: leave out < and >",
    );
}

impl UserExperienceSettings {
    /// The culture with `code`, if any.
    pub fn culture(&self, code: &str) -> Option<&Culture> {
        self.cultures.iter().find(|c| c.code == code)
    }

    /// Copies culture `from` to a new culture `to`, for translating.
    pub fn copy_culture(&mut self, from: &str, to: &str) -> Result<()> {
        check_culture("user_experience.copy_to", to)?;
        if self.culture(to).is_some() {
            return Err(Error::field(
                "user_experience.copy_to",
                format!("{} already has texts: edit it instead", to),
            ));
        }
        let mut copy = self
            .culture(from)
            .cloned()
            .ok_or_else(|| Error::field("user_experience.culture", "no such culture to copy"))?;
        copy.code = to.to_string();
        self.cultures.push(copy);
        Ok(())
    }

    /// Deletes culture `code`; the default culture stays.
    pub fn delete_culture(&mut self, code: &str) -> Result<()> {
        if code == self.default_culture {
            return Err(Error::field(
                "user_experience.culture",
                "the default culture cannot be deleted",
            ));
        }
        let before = self.cultures.len();
        self.cultures.retain(|c| c.code != code);
        if self.cultures.len() == before {
            return Err(Error::field("user_experience.culture", "no such culture"));
        }
        Ok(())
    }

    pub(super) fn check(&self, v: &mut Validator, legal_notice_needed: bool) {
        keep(
            v,
            check_qr_url("user_experience.qr_code_url", &self.qr_code_url),
        );
        v.check(
            self.culture(&self.default_culture).is_some(),
            "user_experience.default_culture",
            "the default culture must be one of the cultures",
        );
        for (i, culture) in self.cultures.iter().enumerate() {
            let at = format!("user_experience.cultures[{}]", i);
            let code = format!("{}.code", at);
            if self.cultures[..i].iter().any(|c| c.code == culture.code) {
                v.fail(code, format!("{} is listed twice", culture.code));
            } else {
                keep(v, check_culture(&code, &culture.code));
            }
            for dialog in Dialog::ALL {
                let texts = culture.dialogs.get(dialog);
                let field = format!("{}.dialogs.{}", at, dialog_key(dialog));
                let allowed = placeholders_of(dialog);
                check_plain(v, format!("{}.title", field), &texts.title);
                keep(
                    v,
                    check_placeholders(&format!("{}.title", field), &texts.title, allowed),
                );
                keep(
                    v,
                    check_placeholders(
                        &format!("{}.message", field),
                        texts.message.as_str(),
                        allowed,
                    ),
                );
                let known = labels_of(dialog);
                for (key, label) in &texts.labels {
                    let label_field = format!("{}.labels.{}", field, key);
                    if known.contains(&key.as_str()) {
                        check_plain(v, label_field, label);
                    } else if known.is_empty() {
                        v.fail(label_field, format!("{} has no labels", dialog_key(dialog)));
                    } else {
                        v.fail(
                            label_field,
                            format!(
                                "{} has no label {:?}; it has {}",
                                dialog_key(dialog),
                                key,
                                known.join(", ")
                            ),
                        );
                    }
                }
            }
            let notice = format!("{}.legal_notice", at);
            keep(
                v,
                check_placeholders(&notice, culture.legal_notice.as_str(), &[]),
            );
            // Windows keeps the notice in a registry string, which ends at the first NUL.
            v.check(
                !culture.legal_notice.as_str().contains('\0'),
                notice.clone(),
                "remove the NUL character: Windows would cut the notice there",
            );
            v.check(
                !legal_notice_needed || !culture.legal_notice.as_str().trim().is_empty(),
                notice,
                "Startup sets a legal notice: write its text, or turn Set Legal Notice off",
            );
        }
    }
}
