//! A runbook tab as a form with a field per setting, drawn from the tab's own JSON so that every
//! setting the tab stores has its field: a checkbox for a switch, a number field, a choice for a
//! setting with fixed values (found by asking the runbook's own parser which values it takes), a
//! text field, a list as one entry a line, and a password field (write-only) beside each account.
//! Each field is named by its path (`device_state.domain_join`), which is the path the runbook's
//! validation names in its errors, so every error shows beside its field.

use maud::{html, Markup};
use model::runbook::Runbook;
use serde_json::{Map, Value};

use super::forms::Errors;

/// What a form posted, by field name.
pub type Posted = [(String, String)];

fn posted<'a>(pairs: &'a Posted, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `key` in words: `remove_from` → "Remove from".
fn words(key: &str) -> String {
    let text = key.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// The values the setting at `path` takes when it has a fixed set: the runbook's parser is
/// given a value no setting takes, and its refusal lists the ones it expects.
fn choices(runbook: &Value, path: &[String]) -> Option<Vec<String>> {
    let mut probe = runbook.clone();
    let mut at = &mut probe;
    for key in path {
        at = at.get_mut(key)?;
    }
    *at = Value::String("\u{1}".to_string());
    let message = match serde_json::from_value::<Runbook>(probe) {
        Ok(_) => return None,
        Err(e) => e.to_string(),
    };
    // serde says "expected `A`", "expected `A` or `B`" or "expected one of `A`, `B`, `C`".
    let list = message.split(", expected ").nth(1)?;
    let values: Vec<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    (!values.is_empty()).then_some(values)
}

/// Whether a list is edited one entry a line (strings) rather than as JSON.
fn is_lines(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(Value::is_string)
}

struct Drawing<'a> {
    runbook: &'a Value,
    typed: Option<&'a Posted>,
    errors: &'a Errors,
    edit: bool,
    names: Vec<String>,
}

impl Drawing<'_> {
    fn shown(&self, name: &str, stored: String) -> String {
        match self.typed {
            Some(pairs) => posted(pairs, name).unwrap_or_default().to_string(),
            None => stored,
        }
    }

    fn object(&mut self, path: &[String], map: &Map<String, Value>) -> Markup {
        let mut parts = Vec::new();
        for (key, value) in map {
            let mut child = path.to_vec();
            child.push(key.clone());
            parts.push(self.value(&child, key, value));
        }
        if map.contains_key("username") {
            let mut child = path.to_vec();
            child.push("password".into());
            let name = child.join(".");
            self.names.push(name.clone());
            parts.push(html! {
                label for=(name) { "Password" }
                input id=(name) name=(name) type="password" autocomplete="new-password" placeholder="never shown: leave empty to keep the stored one" readonly[!self.edit];
                (self.errors.at(&name))
            });
        }
        html! { @for p in parts { (p) } }
    }

    fn value(&mut self, path: &[String], key: &str, value: &Value) -> Markup {
        let name = path.join(".");
        let label = words(key);
        let edit = self.edit;
        match value {
            Value::Object(map) => {
                let inner = self.object(path, map);
                html! { fieldset { legend { (label) } (inner) } }
            }
            Value::Bool(on) => {
                self.names.push(name.clone());
                let on = match self.typed {
                    Some(pairs) => posted(pairs, &name).is_some(),
                    None => *on,
                };
                html! {
                    label.check { input type="checkbox" name=(name) value="true" checked[on] disabled[!edit]; " " (label) }
                    (self.errors.at(&name))
                }
            }
            Value::Array(items) => {
                self.names.push(name.clone());
                let stored = if is_lines(items) {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("\n")
                } else {
                    serde_json::to_string(value).unwrap_or_default()
                };
                let hint = if is_lines(items) {
                    "one a line"
                } else {
                    "a JSON list"
                };
                let text = self.shown(&name, stored);
                html! {
                    label for=(name) { (label) " (" (hint) ")" }
                    textarea id=(name) name=(name) rows="3" spellcheck="false" readonly[!edit] { (text) }
                    (self.errors.at(&name))
                }
            }
            Value::String(s) => {
                self.names.push(name.clone());
                let text = self.shown(&name, s.clone());
                let input = match choices(self.runbook, path) {
                    Some(values) => html! {
                        select id=(name) name=(name) disabled[!edit] {
                            @for v in &values { option value=(v) selected[*v == text] { (words(v)) } }
                        }
                    },
                    None => html! { input id=(name) name=(name) value=(text) readonly[!edit]; },
                };
                html! { label for=(name) { (label) } (input) (self.errors.at(&name)) }
            }
            Value::Number(n) => {
                self.names.push(name.clone());
                let text = self.shown(&name, n.to_string());
                html! {
                    label for=(name) { (label) }
                    input id=(name) name=(name) type="number" value=(text) readonly[!edit];
                    (self.errors.at(&name))
                }
            }
            Value::Null => {
                self.names.push(name.clone());
                let text = self.shown(&name, String::new());
                html! {
                    label for=(name) { (label) " (optional)" }
                    input id=(name) name=(name) value=(text) placeholder="not set" readonly[!edit];
                    (self.errors.at(&name))
                }
            }
        }
    }
}

/// The fields of `tab` of `runbook`, showing `typed` (what was posted) instead of the stored
/// values when given, each error beside its field and the others above.
pub fn fields(
    runbook: &Runbook,
    tab: &str,
    typed: Option<&Posted>,
    errors: &Errors,
    edit: bool,
) -> Markup {
    let whole = serde_json::to_value(runbook).unwrap_or(Value::Null);
    let Some(Value::Object(map)) = whole.get(tab) else {
        return html! { p.error { "This tab cannot be shown." } };
    };
    let mut drawing = Drawing {
        runbook: &whole,
        typed,
        errors,
        edit,
        names: vec![tab.to_string()],
    };
    let body = drawing.object(&[tab.to_string()], map);
    let names: Vec<&str> = drawing.names.iter().map(String::as_str).collect();
    html! {
        (errors.rest(&names))
        (body)
    }
}

/// Reads the posted fields back into the tab's JSON, in the shape the stored tab has; each
/// value that cannot be read is an error on its field.
fn read_object(
    path: &[String],
    stored: &Map<String, Value>,
    pairs: &Posted,
    errors: &mut Vec<model::FieldError>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in stored {
        let mut child = path.to_vec();
        child.push(key.clone());
        let name = child.join(".");
        let text = posted(pairs, &name).unwrap_or_default();
        let read = match value {
            Value::Object(map) => Value::Object(read_object(&child, map, pairs, errors)),
            Value::Bool(_) => Value::Bool(posted(pairs, &name).is_some()),
            Value::Array(items)
                if is_lines(items) || (text.trim().is_empty() && items.is_empty()) =>
            {
                Value::Array(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| Value::String(l.to_string()))
                        .collect(),
                )
            }
            Value::Array(_) => match serde_json::from_str::<Value>(text) {
                Ok(v @ Value::Array(_)) => v,
                _ => {
                    errors.push(model::FieldError::new(
                        &name,
                        "a JSON list is expected, e.g. [\"a\", \"b\"]",
                    ));
                    value.clone()
                }
            },
            Value::Number(_) => match serde_json::from_str::<serde_json::Number>(text.trim()) {
                Ok(n) => Value::Number(n),
                Err(_) => {
                    errors.push(model::FieldError::new(&name, "a number is expected"));
                    value.clone()
                }
            },
            Value::String(_) => Value::String(text.trim().to_string()),
            Value::Null => match text.trim() {
                "" => Value::Null,
                t => serde_json::from_str::<Value>(t)
                    .unwrap_or_else(|_| Value::String(t.to_string())),
            },
        };
        out.insert(key.clone(), read);
    }
    if stored.contains_key("username") {
        let name = format!("{}.password", path.join("."));
        if let Some(p) = posted(pairs, &name).filter(|p| !p.is_empty()) {
            out.insert("password".into(), Value::String(p.to_string()));
        }
    }
    out
}

/// `runbook` with `tab` read from the posted fields; what cannot be read is an error beside its
/// field, and a runbook the parser refuses is an error on the tab.
pub fn read(runbook: &Runbook, tab: &str, pairs: &Posted) -> std::result::Result<Runbook, Errors> {
    let mut whole = serde_json::to_value(runbook)
        .map_err(|e| Errors::one(tab, format!("cannot read the runbook: {e}")))?;
    let Some(Value::Object(stored)) = whole.get(tab).cloned() else {
        return Err(Errors::one(tab, "this tab cannot be edited"));
    };
    let mut errors = Vec::new();
    let read = read_object(&[tab.to_string()], &stored, pairs, &mut errors);
    if !errors.is_empty() {
        return Err(Errors(errors));
    }
    if let Some(map) = whole.as_object_mut() {
        map.insert(tab.to_string(), Value::Object(read));
    }
    serde_json::from_value(whole).map_err(|e| Errors::one(tab, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runbook() -> Runbook {
        serde_json::from_value(serde_json::json!({
            "id": model::ids::RunbookId::new(), "name": "R",
            "source_directories": [model::ids::DirectoryId::new()],
            "target_directory": model::ids::DirectoryId::new()
        }))
        .expect("a runbook")
    }

    #[test]
    fn a_setting_with_fixed_values_is_a_choice_of_them() {
        let r = runbook();
        let html = fields(&r, "permissions", None, &Errors::default(), true).into_string();
        assert!(html.contains("<select id=\"permissions.mode\""), "{html}");
        assert!(html.contains("value=\"AddAndRemove\""), "{html}");
    }

    #[test]
    fn the_stored_values_posted_back_unchanged_give_the_same_tab() {
        let r = runbook();
        for tab in [
            "startup",
            "user_experience",
            "device_state",
            "permissions",
            "apps",
            "completion",
        ] {
            let whole = serde_json::to_value(&r).expect("json");
            let mut pairs = Vec::new();
            collect(&whole[tab], tab.to_string(), &mut pairs);
            let back = read(&r, tab, &pairs).unwrap_or_else(|e| panic!("{tab}: {:?}", e.0));
            assert_eq!(
                serde_json::to_value(&back).expect("json")[tab],
                whole[tab],
                "{tab}"
            );
        }
    }

    /// The pairs a browser posts for `value` drawn as a form.
    fn collect(value: &Value, name: String, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    collect(v, format!("{name}.{k}"), out);
                }
            }
            Value::Bool(true) => out.push((name, "true".into())),
            Value::Bool(false) => {}
            Value::Array(items) if is_lines(items) => out.push((
                name,
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
            Value::Array(_) => out.push((name, value.to_string())),
            Value::String(s) => out.push((name, s.clone())),
            Value::Number(n) => out.push((name, n.to_string())),
            Value::Null => out.push((name, String::new())),
        }
    }

    #[test]
    fn an_account_gets_a_password_field_and_a_number_that_is_not_one_is_an_error_beside_it() {
        let r: Runbook = serde_json::from_value(serde_json::json!({
            "id": model::ids::RunbookId::new(), "name": "R",
            "source_directories": [model::ids::DirectoryId::new()],
            "target_directory": model::ids::DirectoryId::new(),
            "startup": {"admin_fallback": {"username": "rescue", "delay_deletion_days": 3}}
        }))
        .expect("a runbook");
        let html = fields(&r, "startup", None, &Errors::default(), true).into_string();
        assert!(
            html.contains("name=\"startup.admin_fallback.password\" type=\"password\""),
            "{html}"
        );
        let whole = serde_json::to_value(&r).expect("json");
        let mut pairs = Vec::new();
        collect(&whole["startup"], "startup".into(), &mut pairs);
        for (k, v) in pairs.iter_mut() {
            if k == "startup.admin_fallback.delay_deletion_days" {
                *v = "soon".into();
            }
        }
        let errors = read(&r, "startup", &pairs).expect_err("refused");
        assert_eq!(
            errors.0[0].field,
            "startup.admin_fallback.delay_deletion_days"
        );
        let html = fields(&r, "startup", Some(&pairs), &errors, true).into_string();
        let field = html
            .find("id=\"startup.admin_fallback.delay_deletion_days\"")
            .expect("field");
        let error = html.find("a number is expected").expect("error");
        assert!(error > field && html.contains("value=\"soon\""), "{html}");
        // A password typed is taken; none keeps the stored one.
        pairs.retain(|(k, _)| k != "startup.admin_fallback.delay_deletion_days");
        pairs.push((
            "startup.admin_fallback.delay_deletion_days".into(),
            "5".into(),
        ));
        pairs.push(("startup.admin_fallback.password".into(), "Rescue-1".into()));
        let back = read(&r, "startup", &pairs).expect("read");
        let fallback = back.startup.admin_fallback.expect("the account");
        assert_eq!(
            (fallback.delay_deletion_days, fallback.password.expose()),
            (5, Some("Rescue-1"))
        );
    }
}
