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

/// `value` with the value at `path` (inside objects and lists) replaced by `new`, when there is
/// one.
fn put(value: &mut Value, path: &[String], new: Value) -> Option<()> {
    let mut at = value;
    for key in path {
        at = match at {
            Value::Array(items) => items.get_mut(key.parse::<usize>().ok()?)?,
            other => other.get_mut(key)?,
        };
    }
    *at = new;
    Some(())
}

/// What the runbook's parser makes of `path` set to `probe`, each field it says is missing
/// given as an empty text: the shape a new section or row takes, with every default filled in.
/// `None` when the parser wants more than texts there.
fn filled(runbook: &Value, path: &[String], probe: Value) -> Option<Value> {
    let mut probe = probe;
    for _ in 0..16 {
        let mut whole = runbook.clone();
        put(&mut whole, path, probe.clone())?;
        match serde_json::from_value::<Runbook>(whole) {
            Ok(parsed) => {
                let mut at = serde_json::to_value(parsed).ok()?;
                for key in path {
                    at = match at {
                        Value::Array(mut items) => {
                            let i = key.parse::<usize>().ok()?;
                            (i < items.len()).then(|| items.swap_remove(i))?
                        }
                        Value::Object(mut map) => map.remove(key)?,
                        _ => return None,
                    };
                }
                return Some(at);
            }
            Err(e) => {
                let message = e.to_string();
                let field = message.split("missing field `").nth(1)?.split('`').next()?;
                let target = match &mut probe {
                    Value::Array(items) => items.first_mut()?,
                    other => other,
                };
                target
                    .as_object_mut()?
                    .insert(field.to_string(), Value::String(String::new()));
            }
        }
    }
    None
}

/// The shape an optional section at `path` takes once added, when it is a group of settings.
fn section_template(runbook: &Value, path: &[String]) -> Option<Map<String, Value>> {
    match filled(runbook, path, Value::Object(Map::new()))? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Whether the section at `path` may be left unset.
fn is_optional(runbook: &Value, path: &[String]) -> bool {
    let mut whole = runbook.clone();
    put(&mut whole, path, Value::Null).is_some() && serde_json::from_value::<Runbook>(whole).is_ok()
}

/// The shape a new row of the list at `path` takes, when its rows are groups of settings.
fn row_template(runbook: &Value, path: &[String]) -> Option<Map<String, Value>> {
    let mut row = path.to_vec();
    row.push("0".into());
    let mut whole = runbook.clone();
    put(
        &mut whole,
        path,
        Value::Array(vec![Value::Object(Map::new())]),
    )?;
    match filled(&whole, &row, Value::Object(Map::new()))? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Whether the list at `path` holds texts (edited one a line).
fn holds_texts(runbook: &Value, path: &[String], items: &[Value]) -> bool {
    if !items.is_empty() {
        return is_lines(items);
    }
    let mut whole = runbook.clone();
    put(
        &mut whole,
        path,
        Value::Array(vec![Value::String(String::new())]),
    )
    .is_some()
        && serde_json::from_value::<Runbook>(whole).is_ok()
}

/// Marks a form carries beside its fields: `{path}.added` (a section added), `{path}.unset`
/// (a stored section removed) and `{path}.rows` (how many rows a list of groups has).
fn mark<'a>(pairs: Option<&'a Posted>, path: &str, what: &str) -> Option<&'a str> {
    pairs.and_then(|p| posted(p, &format!("{path}.{what}")))
}

/// The tab as the form shows it: the stored tab (`stored`, at `path` in `runbook`) with the
/// sections and rows that the marks in `pairs` say were added or removed.
fn shape(runbook: &Value, path: &[String], stored: &Value, pairs: Option<&Posted>) -> Value {
    let name = path.join(".");
    match stored {
        Value::Object(map) => {
            if mark(pairs, &name, "unset").is_some() && is_optional(runbook, path) {
                return Value::Null;
            }
            let mut out = Map::new();
            for (key, value) in map {
                let mut child = path.to_vec();
                child.push(key.clone());
                out.insert(key.clone(), shape(runbook, &child, value, pairs));
            }
            Value::Object(out)
        }
        Value::Null if mark(pairs, &name, "added").is_some() => {
            match section_template(runbook, path) {
                Some(map) => shape(runbook, path, &Value::Object(map), pairs),
                None => Value::Null,
            }
        }
        Value::Array(items) => {
            let Some(rows) =
                mark(pairs, &name, "rows").and_then(|n| n.trim().parse::<usize>().ok())
            else {
                return stored.clone();
            };
            let Some(template) = row_template(runbook, path) else {
                return stored.clone();
            };
            let rows = rows.min(MAX_ROWS);
            Value::Array(
                (0..rows)
                    .map(|i| {
                        let mut child = path.to_vec();
                        child.push(i.to_string());
                        let item = items
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| Value::Object(template.clone()));
                        shape(runbook, &child, &item, pairs)
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// The most rows a list of groups takes from one form.
const MAX_ROWS: usize = 200;

/// What a form's `action` button asks: add a section or a row, remove one, or copy a row.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Adds the section, or a row to the list, at the path.
    Add(String),
    /// Removes the section, or the row, at the path.
    Remove(String),
    /// Copies the row at the path to a new row whose `code` is typed beside it.
    Copy(String),
}

impl Action {
    /// The action `pairs` ask for, if any.
    pub fn of(pairs: &Posted) -> Option<Action> {
        let (verb, path) = posted(pairs, "action")?.split_once(':')?;
        let path = path.trim().to_string();
        match verb {
            "add" => Some(Action::Add(path)),
            "remove" => Some(Action::Remove(path)),
            "copy" => Some(Action::Copy(path)),
            _ => None,
        }
    }
}

/// The last number of `path` and the list it is a row of: `a.b.3` → (`a.b`, 3).
fn row_of(path: &str) -> Option<(&str, usize)> {
    let (list, i) = path.rsplit_once('.')?;
    Some((list, i.parse().ok()?))
}

/// `pairs` with `action` carried out on them (nothing is saved): the fields and marks the form
/// shows next. A copy without a code for the new row is an error beside that field.
pub fn apply(
    runbook: &Runbook,
    pairs: &Posted,
    action: &Action,
) -> std::result::Result<Vec<(String, String)>, Errors> {
    let whole = serde_json::to_value(runbook).unwrap_or(Value::Null);
    let mut out: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "action")
        .cloned()
        .collect();
    let set = |out: &mut Vec<(String, String)>, key: String, value: Option<String>| {
        out.retain(|(k, _)| *k != key);
        if let Some(v) = value {
            out.push((key, v));
        }
    };
    let rows_of = |out: &Vec<(String, String)>, list: &str| -> usize {
        posted(out, &format!("{list}.rows"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| {
                let path: Vec<String> = list.split('.').map(str::to_string).collect();
                let mut at = &whole;
                for key in &path {
                    at = match at.get(key) {
                        Some(v) => v,
                        None => return 0,
                    };
                }
                at.as_array().map_or(0, Vec::len)
            })
    };
    let path_of = |p: &str| -> Vec<String> { p.split('.').map(str::to_string).collect() };
    match action {
        Action::Add(path) if row_template(&whole, &path_of(path)).is_some() => {
            let n = rows_of(&out, path);
            set(
                &mut out,
                format!("{path}.rows"),
                Some((n + 1).min(MAX_ROWS).to_string()),
            );
        }
        Action::Add(path) => {
            set(&mut out, format!("{path}.unset"), None);
            set(&mut out, format!("{path}.added"), Some("1".into()));
        }
        Action::Remove(path) => match row_of(path) {
            Some((list, i)) if row_template(&whole, &path_of(list)).is_some() => {
                let n = rows_of(&out, list);
                let prefix = format!("{list}.");
                out = out
                    .into_iter()
                    .filter_map(|(k, v)| {
                        let Some(rest) = k.strip_prefix(&prefix) else {
                            return Some((k, v));
                        };
                        let (index, tail) = rest.split_once('.').unwrap_or((rest, ""));
                        match index.parse::<usize>() {
                            Ok(j) if j == i => None,
                            Ok(j) if j > i => Some((format!("{list}.{}.{tail}", j - 1), v)),
                            _ => Some((k, v)),
                        }
                    })
                    .collect();
                set(
                    &mut out,
                    format!("{list}.rows"),
                    Some(n.saturating_sub(1).to_string()),
                );
            }
            _ => {
                let prefix = format!("{path}.");
                out.retain(|(k, _)| !k.starts_with(&prefix));
                out.push((format!("{path}.unset"), "1".into()));
            }
        },
        Action::Copy(path) => {
            let Some((list, _)) = row_of(path) else {
                return Err(Errors::one(path, "this cannot be copied"));
            };
            let field = format!("{path}.copy_to");
            let code = posted(&out, &field).unwrap_or_default().trim().to_string();
            if code.is_empty() {
                return Err(Errors::one(
                    &field,
                    "type the culture to copy to, e.g. de-DE",
                ));
            }
            let n = rows_of(&out, list);
            let prefix = format!("{path}.");
            let copies: Vec<(String, String)> = out
                .iter()
                .filter_map(|(k, v)| {
                    let tail = k.strip_prefix(&prefix)?;
                    (tail != "copy_to").then(|| {
                        let value = if tail == "code" {
                            code.clone()
                        } else {
                            v.clone()
                        };
                        (format!("{list}.{n}.{tail}"), value)
                    })
                })
                .collect();
            out.extend(copies);
            set(&mut out, field, None);
            set(
                &mut out,
                format!("{list}.rows"),
                Some((n + 1).min(MAX_ROWS).to_string()),
            );
        }
    }
    Ok(out)
}

struct Drawing<'a> {
    runbook: &'a Value,
    typed: Option<&'a Posted>,
    errors: &'a Errors,
    edit: bool,
    names: Vec<String>,
}

impl Drawing<'_> {
    /// What a field shows: what was typed in it, else the value it has (a field the form did
    /// not have before, as in a section or row just added, shows its default).
    fn shown(&self, name: &str, stored: String) -> String {
        match self.typed.and_then(|pairs| posted(pairs, name)) {
            Some(text) => text.to_string(),
            None => stored,
        }
    }

    /// A button of the form that adds, removes or copies at `path` without saving.
    fn button(&self, verb: &str, path: &str, text: &str) -> Markup {
        html! {
            @if self.edit {
                button.secondary type="submit" name="action" value=(format!("{verb}:{path}")) formnovalidate { (text) }
            }
        }
    }

    /// A list whose rows are groups of settings: each row a group with its own fields and a
    /// Remove button (and, for cultures, Copy To), then Add row.
    fn rows(&mut self, path: &[String], label: &str, items: &[Value]) -> Markup {
        let name = path.join(".");
        let mut parts = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let mut child = path.to_vec();
            child.push(i.to_string());
            let row = child.join(".");
            let title = item
                .get("code")
                .and_then(Value::as_str)
                .map(|c| self.shown(&format!("{row}.code"), c.to_string()))
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| format!("Row {}", i + 1));
            let inner = match item {
                Value::Object(map) => self.object(&child, map),
                other => self.value(&child, &i.to_string(), other),
            };
            let copy = item.get("code").is_some().then(|| {
                let field = format!("{row}.copy_to");
                self.names.push(field.clone());
                html! {
                    @if self.edit {
                        label for=(field) { "Copy to culture" }
                        input id=(field) name=(field) placeholder="de-DE";
                        (self.button("copy", &row, "Copy to"))
                        (self.errors.at(&field))
                    }
                }
            });
            let remove = self.button("remove", &row, &format!("Remove {title}"));
            parts.push(html! {
                fieldset.row { legend { (title) } (inner) (copy.unwrap_or_default()) (remove) }
            });
        }
        self.names.push(name.clone());
        html! {
            fieldset {
                legend { (label) }
                input type="hidden" name=(format!("{name}.rows")) value=(items.len());
                @for p in parts { (p) }
                @if items.is_empty() { p.muted { "None yet." } }
                (self.button("add", &name, "Add row"))
                (self.errors.at(&name))
            }
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
                let optional = is_optional(self.runbook, path);
                let added = self
                    .typed
                    .and_then(|p| mark(Some(p), &name, "added"))
                    .is_some();
                html! {
                    fieldset {
                        legend { (label) }
                        @if added { input type="hidden" name=(format!("{name}.added")) value="1"; }
                        (inner)
                        @if optional { (self.button("remove", &name, &format!("Remove {}", label.to_lowercase()))) }
                    }
                }
            }
            Value::Null if section_template(self.runbook, path).is_some() => {
                self.names.push(name.clone());
                let unset = self
                    .typed
                    .and_then(|p| mark(Some(p), &name, "unset"))
                    .is_some();
                html! {
                    fieldset.unset {
                        legend { (label) }
                        @if unset { input type="hidden" name=(format!("{name}.unset")) value="1"; }
                        p.muted { "Not set." }
                        (self.button("add", &name, &format!("Add {}", label.to_lowercase())))
                        (self.errors.at(&name))
                    }
                }
            }
            Value::Array(items)
                if items.iter().all(Value::is_object)
                    && (!items.is_empty() || row_template(self.runbook, path).is_some()) =>
            {
                self.rows(path, &label, items)
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
                let lines = holds_texts(self.runbook, path, items);
                let stored = if lines {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("\n")
                } else {
                    serde_json::to_string(value).unwrap_or_default()
                };
                let hint = if lines { "one a line" } else { "a JSON list" };
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
    let Some(stored) = whole.get(tab) else {
        return html! { p.error { "This tab cannot be shown." } };
    };
    let Value::Object(map) = shape(&whole, &[tab.to_string()], stored, typed) else {
        return html! { p.error { "This tab cannot be shown." } };
    };
    let map = &map;
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
    runbook: &Value,
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
            Value::Object(map) => Value::Object(read_object(runbook, &child, map, pairs, errors)),
            Value::Array(items)
                if items.iter().all(Value::is_object)
                    && (!items.is_empty() || row_template(runbook, &child).is_some()) =>
            {
                Value::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| {
                            let mut row = child.clone();
                            row.push(i.to_string());
                            match item {
                                Value::Object(map) => {
                                    Value::Object(read_object(runbook, &row, map, pairs, errors))
                                }
                                other => other.clone(),
                            }
                        })
                        .collect(),
                )
            }
            Value::Bool(_) => Value::Bool(posted(pairs, &name).is_some()),
            Value::Array(items)
                if holds_texts(runbook, &child, items)
                    || (text.trim().is_empty() && items.is_empty()) =>
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
    let path = [tab.to_string()];
    let Some(Value::Object(stored)) = whole
        .get(tab)
        .map(|stored| shape(&whole, &path, stored, Some(pairs)))
    else {
        return Err(Errors::one(tab, "this tab cannot be edited"));
    };
    let mut errors = Vec::new();
    let read = read_object(&whole, &path, &stored, pairs, &mut errors);
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
            let pairs = posted_form(&r, tab, None);
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

    fn unescape(text: &str) -> String {
        text.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    /// The pairs a browser posts for the form as drawn (`typed` shown), less its buttons.
    fn posted_form(r: &Runbook, tab: &str, typed: Option<&Posted>) -> Vec<(String, String)> {
        let html = fields(r, tab, typed, &Errors::default(), true).into_string();
        let mut out = Vec::new();
        for part in html.split('<').skip(1) {
            let attr = |name: &str| {
                part.split(&format!(" {name}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(unescape)
            };
            let Some(name) = attr("name") else { continue };
            if part.starts_with("input") && !part.contains("type=\"checkbox\"") {
                out.push((name, attr("value").unwrap_or_default()));
            } else if part.starts_with("input") && part.contains(" checked") {
                out.push((name, "true".into()));
            } else if part.starts_with("textarea") {
                let text = part.split_once('>').map(|(_, t)| t).unwrap_or_default();
                out.push((name, unescape(text)));
            } else if part.starts_with("select") {
                let chosen = html[html.find(&format!("name=\"{name}\"")).unwrap_or(0)..]
                    .split("<option")
                    .find(|o| o.contains(" selected"))
                    .and_then(|o| o.split("value=\"").nth(1))
                    .and_then(|v| v.split('"').next())
                    .unwrap_or_default()
                    .to_string();
                out.push((name, chosen));
            }
        }
        out
    }

    #[test]
    fn an_unset_section_is_added_with_its_fields_saved_and_removed_again() {
        let r = runbook();
        let html = fields(&r, "apps", None, &Errors::default(), true).into_string();
        assert!(
            html.contains("value=\"add:apps.information_protection\""),
            "{html}"
        );
        assert!(!html.contains("id=\"apps.information_protection.target_host\""));
        let pairs = posted_form(&r, "apps", None);
        let action = Action::of(&[("action".into(), "add:apps.information_protection".into())])
            .expect("an action");
        let mut next = apply(&r, &pairs, &action).expect("added");
        let html = fields(&r, "apps", Some(&next), &Errors::default(), true).into_string();
        assert!(
            html.contains("id=\"apps.information_protection.target_host\""),
            "{html}"
        );
        // Left empty, the section is refused by the runbook's checks, beside its field.
        let mut again = posted_form(&r, "apps", Some(&next));
        let empty = read(&r, "apps", &again)
            .and_then(|changed| match changed.validate() {
                Err(model::Error::Invalid(fields)) => Err(Errors(fields)),
                _ => Ok(changed),
            })
            .expect_err("empty hosts are refused");
        assert!(
            empty
                .0
                .iter()
                .any(|e| e.field.starts_with("apps.information_protection")),
            "{:?}",
            empty.0
        );
        for (k, v) in again.iter_mut() {
            if k == "apps.information_protection.source_hosts" {
                *v = "rms.source.test".into();
            }
            if k == "apps.information_protection.target_host" {
                *v = "rms.target.test".into();
            }
        }
        let saved = read(&r, "apps", &again).expect("read");
        let aip = saved.apps.information_protection.clone().expect("set");
        assert_eq!(aip.target_host, "rms.target.test");
        // Removing it again leaves it unset.
        next = posted_form(&saved, "apps", None);
        let removed = apply(
            &saved,
            &next,
            &Action::Remove("apps.information_protection".into()),
        )
        .expect("removed");
        let html = fields(&saved, "apps", Some(&removed), &Errors::default(), true).into_string();
        assert!(html.contains("Not set."), "{html}");
        let after =
            read(&saved, "apps", &posted_form(&saved, "apps", Some(&removed))).expect("read");
        assert!(after.apps.information_protection.is_none());
    }

    #[test]
    fn a_culture_is_copied_to_a_new_row_and_a_copy_without_a_code_is_an_error_beside_it() {
        let r = runbook();
        let html = fields(&r, "user_experience", None, &Errors::default(), true).into_string();
        assert!(
            html.contains("user_experience.cultures.0.copy_to"),
            "{html}"
        );
        let mut pairs = posted_form(&r, "user_experience", None);
        let copy = Action::Copy("user_experience.cultures.0".into());
        let errors = apply(&r, &pairs, &copy).expect_err("no code");
        assert_eq!(errors.0[0].field, "user_experience.cultures.0.copy_to");
        pairs.retain(|(k, _)| k != "user_experience.cultures.0.copy_to");
        pairs.push(("user_experience.cultures.0.copy_to".into(), "de-DE".into()));
        let next = apply(&r, &pairs, &copy).expect("copied");
        let shown = posted_form(&r, "user_experience", Some(&next));
        let saved = read(&r, "user_experience", &shown).expect("read");
        let codes: Vec<&str> = saved
            .user_experience
            .cultures
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(codes, ["en-US", "de-DE"]);
        assert_eq!(
            saved.user_experience.cultures[1].dialogs,
            saved.user_experience.cultures[0].dialogs
        );
        // And a row removed is gone.
        let removed = apply(
            &saved,
            &posted_form(&saved, "user_experience", None),
            &Action::Remove("user_experience.cultures.0".into()),
        )
        .expect("removed");
        let back = read(
            &saved,
            "user_experience",
            &posted_form(&saved, "user_experience", Some(&removed)),
        )
        .expect("read");
        let codes: Vec<&str> = back
            .user_experience
            .cultures
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(codes, ["de-DE"]);
    }
}
