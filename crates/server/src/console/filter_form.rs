//! The filter form every report shares: a GET form (so it works without script) of choices and
//! wildcard texts, each kept as the query string carries it.

use maud::{html, Markup};
use model::status::{AgentStatus, Phase};

/// One field of a filter form.
pub enum Field<'a> {
    /// A choice among `options` (value, label), with `any` for no choice.
    Choice {
        /// The label shown.
        label: &'a str,
        /// The query parameter.
        name: &'a str,
        /// The words for no choice.
        any: &'a str,
        /// Each value with its label.
        options: Vec<(String, String)>,
        /// The value chosen now.
        current: &'a str,
    },
    /// A text, with `*` or `%` as wildcard.
    Text {
        /// The label shown.
        label: &'a str,
        /// The query parameter.
        name: &'a str,
        /// The text given now.
        current: &'a str,
        /// An example.
        placeholder: &'a str,
    },
}

/// Every phase as a choice, by its stored name.
pub fn phases() -> Vec<(String, String)> {
    Phase::ALL
        .into_iter()
        .map(|p| (crate::store::enum_text(&p), p.label().to_string()))
        .collect()
}

/// Every status as a choice.
pub fn statuses() -> Vec<(String, String)> {
    AgentStatus::ALL
        .into_iter()
        .map(|s| (s.as_str().to_string(), s.label().to_string()))
        .collect()
}

/// Named things as choices, by name.
pub fn named<K: ToString>(items: impl IntoIterator<Item = (K, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = items
        .into_iter()
        .map(|(k, name)| (k.to_string(), name))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// The form that filters the table at `action`, with a Reset link when `reset` is given.
pub fn form(action: &str, fields: &[Field<'_>], submit: &str, reset: bool) -> Markup {
    html! {
        form.filters method="get" action=(action) {
            @for field in fields {
                @match field {
                    Field::Choice { label, name, any, options, current } => {
                        label { (label) " " select name=(name) {
                            option value="" { (any) }
                            @for (value, text) in options {
                                option value=(value) selected[*current == value.as_str()] { (text) }
                            }
                        } }
                    }
                    Field::Text { label, name, current, placeholder } => {
                        label { (label) " " input name=(name) value=(current) placeholder=(placeholder); }
                    }
                }
            }
            button type="submit" { (submit) }
            @if reset { " " a href=(action) { "Reset filters" } }
        }
    }
}

/// A report's filters as the query string carries them, every value trimmed, with its page.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Filters(std::collections::HashMap<String, String>);

impl Filters {
    /// The value of `name`, empty when not given.
    pub fn text(&self, name: &str) -> &str {
        self.0.get(name).map(|v| v.trim()).unwrap_or_default()
    }

    /// The value of `name`, `None` when not given or blank.
    pub fn some(&self, name: &str) -> Option<String> {
        Some(self.text(name).to_string()).filter(|s| !s.is_empty())
    }

    /// The value of `name` parsed, `None` when not given or not understood.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.text(name).parse().ok()
    }

    /// The filters `names` as query pairs, for links that keep them.
    pub fn pairs<'a>(&'a self, names: &[&'a str]) -> Vec<(&'a str, &'a str)> {
        names.iter().map(|n| (*n, self.text(n))).collect()
    }
}
