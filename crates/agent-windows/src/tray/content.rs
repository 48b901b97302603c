//! What a dialog says, from the runbook's User Experience tab: the culture nearest the device's,
//! the placeholders filled in, the sanitized HTML turned into plain text and links for Win32
//! controls, the buttons and snooze choices, and the QR code of the dialog's anchored URL.

use chrono::{DateTime, FixedOffset, Utc};
use model::rules::{qr_url_for, Dialog};
use model::runbook::{Culture, DialogText, UserExperienceSettings};
use model::schedule::Snooze;

/// What pressing a button of a dialog asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Start (Migration Available) or Yes (Migration Starting): migrate now.
    StartNow,
    /// Snooze for the length picked in the list.
    Snooze,
    /// No / Later on the countdown: hidden until the next reminder.
    Later,
    /// OK (Migration Complete, Service Unavailable).
    Ok,
    /// Sign in (Cache Credentials).
    SignIn,
    /// Not now (Cache Credentials).
    Cancel,
}

/// A link in a dialog's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The words linked.
    pub text: String,
    /// Where it goes.
    pub href: String,
}

/// A dialog ready to be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogContent {
    /// Which of the six.
    pub dialog: Dialog,
    /// The window title.
    pub title: String,
    /// The message as plain text: paragraphs apart, list items bulleted, links as their words.
    pub message: String,
    /// The links of the message, in order.
    pub links: Vec<Link>,
    /// The buttons, left to right.
    pub buttons: Vec<(Choice, String)>,
    /// Label of the snooze list, and its choices (Migration Available only).
    pub snooze: Option<(String, Vec<(Snooze, String)>)>,
    /// Labels of the user name and password fields (Cache Credentials only).
    pub credentials: Option<(String, String)>,
    /// The URL the QR code holds, with the dialog's anchor.
    pub qr_url: Option<String>,
    /// Stays above every other window and has no close box (the countdown, the run).
    pub on_top: bool,
}

/// The culture of `settings` for a device whose culture is `locale` (`fr-CA`): the same code,
/// else the same language, else the runbook's default culture.
pub fn pick_culture<'a>(settings: &'a UserExperienceSettings, locale: &str) -> Option<&'a Culture> {
    let language = |code: &str| code.split('-').next().unwrap_or("").to_ascii_lowercase();
    settings
        .cultures
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(locale))
        .or_else(|| {
            settings
                .cultures
                .iter()
                .find(|c| language(&c.code) == language(locale))
        })
        .or_else(|| settings.culture(&settings.default_culture))
        .or_else(|| settings.cultures.first())
}

/// The values of a dialog's placeholders.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// `{TargetDomain}`.
    pub target_domain: Option<String>,
    /// `{StartDate}`: Enforced After, shown in the device's local time.
    pub start_date: Option<(DateTime<Utc>, FixedOffset)>,
    /// `{0}`: minutes left on the countdown.
    pub minutes_left: Option<i64>,
}

fn fill(text: &str, values: &Values) -> String {
    let mut out = text.to_string();
    if let Some(domain) = &values.target_domain {
        out = out.replace("{TargetDomain}", domain);
    }
    if let Some((at, offset)) = values.start_date {
        let local = at
            .with_timezone(&offset)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        out = out.replace("{StartDate}", &local);
    }
    if let Some(minutes) = values.minutes_left {
        out = out.replace("{0}", &minutes.to_string());
    }
    out
}

fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// Turns sanitized HTML (only the tags of [`model::html::sanitize`]) into plain text for a
/// static control, and the links in it.
pub fn html_to_text(html: &str) -> (String, Vec<Link>) {
    let mut out = String::new();
    let mut links = Vec::new();
    let mut link: Option<(String, usize)> = None;
    let mut ordered: Vec<Option<u32>> = Vec::new();
    let mut rest = html;
    let paragraph = |out: &mut String| {
        let trimmed = out.trim_end_matches([' ', '\n']).len();
        out.truncate(trimmed);
        if !out.is_empty() {
            out.push_str("\n\n");
        }
    };
    while !rest.is_empty() {
        let (text, tag) = match rest.find('<') {
            Some(at) => {
                let end = rest[at..]
                    .find('>')
                    .map(|e| at + e + 1)
                    .unwrap_or(rest.len());
                (&rest[..at], Some(&rest[at..end]))
            }
            None => (rest, None),
        };
        let words = decode_entities(text);
        // Whitespace in HTML is one space, and none at the start of a line.
        let mut words = words.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.starts_with(char::is_whitespace) && !out.is_empty() && !out.ends_with(['\n', ' ']) {
            words.insert(0, ' ');
        }
        if text.ends_with(char::is_whitespace) && !words.trim().is_empty() {
            words.push(' ');
        }
        out.push_str(&words);
        let tag = match tag {
            Some(tag) => tag,
            None => break,
        };
        rest = &rest[text.len() + tag.len()..];
        let inner = tag
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim_end_matches('/');
        let closing = inner.starts_with('/');
        let name = inner
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("br", _) => {
                let trimmed = out.trim_end_matches(' ').len();
                out.truncate(trimmed);
                out.push('\n');
            }
            ("p", _) => paragraph(&mut out),
            ("ul", false) => {
                paragraph(&mut out);
                ordered.push(None);
            }
            ("ol", false) => {
                paragraph(&mut out);
                ordered.push(Some(0));
            }
            ("ul", true) | ("ol", true) => {
                ordered.pop();
                paragraph(&mut out);
            }
            ("li", false) => {
                let trimmed = out.trim_end_matches(' ').len();
                out.truncate(trimmed);
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                match ordered.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        out.push_str(&format!("{}. ", n));
                    }
                    _ => out.push_str("\u{2022} "),
                }
            }
            ("a", false) => {
                let href = inner
                    .split("href=\"")
                    .nth(1)
                    .and_then(|h| h.split('"').next())
                    .map(decode_entities)
                    .unwrap_or_default();
                link = Some((href, out.len()));
            }
            ("a", true) => {
                if let Some((href, start)) = link.take() {
                    let text = out[start..].trim().to_string();
                    if !href.is_empty() {
                        links.push(Link { text, href });
                    }
                }
            }
            _ => {}
        }
    }
    (out.trim().to_string(), links)
}

fn label(text: &DialogText, key: &str, fallback: &DialogText) -> String {
    text.labels
        .get(key)
        .filter(|l| !l.trim().is_empty())
        .or_else(|| fallback.labels.get(key))
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

/// The content of `dialog` from `settings` for a device in `locale`.
pub fn content(
    settings: &UserExperienceSettings,
    locale: &str,
    dialog: Dialog,
    values: &Values,
) -> DialogContent {
    let defaults = model::runbook::Dialogs::default();
    let fallback = defaults.get(dialog);
    let text = pick_culture(settings, locale)
        .map(|c| c.dialogs.get(dialog).clone())
        .unwrap_or_else(|| fallback.clone());
    let (message, links) = html_to_text(&fill(text.message.as_str(), values));
    let l = |key: &str| label(&text, key, fallback);
    let buttons = match dialog {
        Dialog::CacheCredentials => vec![
            (Choice::SignIn, l("ok_button")),
            (Choice::Cancel, l("cancel_button")),
        ],
        Dialog::MigrationAvailable => vec![
            (Choice::StartNow, l("start_button")),
            (Choice::Snooze, l("snooze_button")),
        ],
        Dialog::MigrationStarting => vec![
            (Choice::StartNow, l("yes_button")),
            (Choice::Later, l("no_button")),
        ],
        Dialog::MigrationInProgress => Vec::new(),
        Dialog::MigrationComplete | Dialog::ServiceUnavailable => {
            vec![(Choice::Ok, l("ok_button"))]
        }
    };
    let snooze = match dialog {
        Dialog::MigrationAvailable => Some((
            l("snooze_label"),
            Snooze::ALL
                .iter()
                .map(|s| (*s, l(snooze_key(*s))))
                .collect(),
        )),
        _ => None,
    };
    let credentials = match dialog {
        Dialog::CacheCredentials => Some((l("username"), l("password"))),
        _ => None,
    };
    DialogContent {
        dialog,
        title: fill(&text.title, values),
        message,
        links,
        buttons,
        snooze,
        credentials,
        qr_url: qr_url_for(&settings.qr_code_url, dialog),
        on_top: matches!(
            dialog,
            Dialog::MigrationStarting | Dialog::MigrationInProgress
        ),
    }
}

/// The label key of a snooze length.
pub fn snooze_key(length: Snooze) -> &'static str {
    match length {
        Snooze::FiveMinutes => "snooze_5_minutes",
        Snooze::FifteenMinutes => "snooze_15_minutes",
        Snooze::ThirtyMinutes => "snooze_30_minutes",
        Snooze::OneHour => "snooze_1_hour",
        Snooze::FourHours => "snooze_4_hours",
        Snooze::OneDay => "snooze_1_day",
        Snooze::OneWeek => "snooze_1_week",
    }
}
