//! Match expressions: a small text language that computes a key from an object's attributes,
//! e.g. `replacedomain(lower(userPrincipalName), "new.example")`. Parsed once (regexes compiled
//! then), printed back in one canonical form, evaluated per object without allocating where the
//! value passes through unchanged.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Attribute, Attributes};

/// Longest expression text accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 1024;
/// Deepest nesting of function calls accepted.
pub const MAX_DEPTH: usize = 16;
/// Largest compiled regex accepted, so a profile cannot make matching slow or huge.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A parsed match expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// An attribute's value, trimmed; nothing when it is missing or blank.
    Attribute(Attribute),
    /// A fixed string.
    Literal(String),
    /// Lower case.
    Lower(Box<Expr>),
    /// Upper case.
    Upper(Box<Expr>),
    /// The part before the last `@`; the whole value when it has no `@`.
    LocalPart(Box<Expr>),
    /// The part after the last `@`; nothing when it has no `@`.
    Domain(Box<Expr>),
    /// The local part, `@`, then the given domain.
    ReplaceDomain(Box<Expr>, String),
    /// Every match of the pattern replaced (`$1` names a group); the value unchanged when the
    /// pattern does not match.
    Regex(Box<Expr>, Pattern, String),
    /// The values joined; nothing when any of them is missing.
    Concat(Vec<Expr>),
    /// The first value that is not missing.
    First(Vec<Expr>),
    /// A GUID as the base64 of its 16 bytes in Active Directory's order (how Entra Connect
    /// writes objectGUID to onPremisesImmutableId); nothing when the value is not a GUID.
    Base64(Box<Expr>),
}

/// A regex compiled when its expression was parsed.
#[derive(Debug, Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Pattern {}

/// Why an expression did not parse: where (a byte offset into the text) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    /// Byte offset into the expression text.
    pub offset: usize,
    /// What was expected there, or what is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The functions, with how many expression arguments and string arguments each takes.
/// `None` expression arity means two or more.
const FUNCTIONS: &[(&str, Option<usize>, usize)] = &[
    ("lower", Some(1), 0),
    ("upper", Some(1), 0),
    ("localpart", Some(1), 0),
    ("domain", Some(1), 0),
    ("replacedomain", Some(1), 1),
    ("regex", Some(1), 2),
    ("concat", None, 0),
    ("first", None, 0),
    ("base64", Some(1), 0),
];

impl Expr {
    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Expr, ParseError> {
        if text.len() > MAX_EXPRESSION_LEN {
            return Err(ParseError {
                offset: MAX_EXPRESSION_LEN,
                message: format!("expressions are limited to {MAX_EXPRESSION_LEN} bytes"),
            });
        }
        let mut parser = Parser { text, pos: 0 };
        let expr = parser.expr(0)?;
        parser.skip_space();
        if parser.pos < text.len() {
            return Err(parser.error(format!(
                "expected the end of the expression, found {}",
                parser.found()
            )));
        }
        Ok(expr)
    }

    /// Whether the expression reads at least one attribute (a constant would give every object
    /// the same key).
    pub fn reads_attributes(&self) -> bool {
        let mut found = false;
        self.visit_attributes(&mut |_| found = true);
        found
    }

    fn visit_attributes(&self, f: &mut impl FnMut(Attribute)) {
        match self {
            Expr::Attribute(a) => f(*a),
            Expr::Literal(_) => {}
            Expr::Lower(e)
            | Expr::Upper(e)
            | Expr::LocalPart(e)
            | Expr::Domain(e)
            | Expr::ReplaceDomain(e, _)
            | Expr::Regex(e, _, _)
            | Expr::Base64(e) => e.visit_attributes(f),
            Expr::Concat(es) | Expr::First(es) => es.iter().for_each(|e| e.visit_attributes(f)),
        }
    }

    /// The attributes this expression reads that `object` lacks, each once, in order.
    pub fn missing_attributes<A: Attributes + ?Sized>(&self, object: &A) -> Vec<Attribute> {
        let mut missing = Vec::new();
        self.visit_attributes(&mut |a| {
            if attribute_value(object, a).is_none() && !missing.contains(&a) {
                missing.push(a);
            }
        });
        missing
    }

    /// The expression's value for `object`; `None` when an attribute it needs is missing or blank,
    /// or the result is empty.
    pub fn evaluate<'a, A: Attributes + ?Sized>(&'a self, object: &'a A) -> Option<Cow<'a, str>> {
        let value = self.eval(object)?;
        (!value.is_empty()).then_some(value)
    }

    fn eval<'a, A: Attributes + ?Sized>(&'a self, object: &'a A) -> Option<Cow<'a, str>> {
        Some(match self {
            Expr::Attribute(a) => attribute_value(object, *a)?,
            Expr::Literal(s) => Cow::Borrowed(s.as_str()),
            Expr::Lower(e) => lower(e.eval(object)?),
            Expr::Upper(e) => {
                let v = e.eval(object)?;
                if v.chars().any(char::is_lowercase) {
                    Cow::Owned(v.to_uppercase())
                } else {
                    v
                }
            }
            Expr::LocalPart(e) => match e.eval(object)? {
                Cow::Borrowed(v) => Cow::Borrowed(local_part(v)),
                Cow::Owned(v) => Cow::Owned(local_part(&v).to_string()),
            },
            Expr::Domain(e) => match e.eval(object)? {
                Cow::Borrowed(v) => Cow::Borrowed(domain(v)?),
                Cow::Owned(v) => Cow::Owned(domain(&v)?.to_string()),
            },
            Expr::ReplaceDomain(e, new) => {
                let v = e.eval(object)?;
                Cow::Owned(format!("{}@{new}", local_part(&v)))
            }
            Expr::Regex(e, pattern, replacement) => match e.eval(object)? {
                Cow::Borrowed(v) => pattern.0.replace_all(v, replacement.as_str()),
                Cow::Owned(v) => match pattern.0.replace_all(&v, replacement.as_str()) {
                    Cow::Borrowed(_) => Cow::Owned(v),
                    Cow::Owned(replaced) => Cow::Owned(replaced),
                },
            },
            Expr::Concat(es) => {
                let mut joined = String::new();
                for e in es {
                    joined.push_str(&e.eval(object)?);
                }
                Cow::Owned(joined)
            }
            Expr::First(es) => es
                .iter()
                .find_map(|e| e.eval(object).filter(|v| !v.is_empty()))?,
            Expr::Base64(e) => {
                use base64::Engine;
                let guid = uuid::Uuid::parse_str(e.eval(object)?.trim()).ok()?;
                Cow::Owned(base64::engine::general_purpose::STANDARD.encode(guid.to_bytes_le()))
            }
        })
    }
}

/// An attribute's value trimmed, or `None` when missing or blank. SIDs and GUIDs are written
/// out as text.
fn attribute_value<A: Attributes + ?Sized>(
    object: &A,
    attribute: Attribute,
) -> Option<Cow<'_, str>> {
    let value = match attribute {
        Attribute::ObjectSid => Cow::Owned(object.sid()?.to_string()),
        Attribute::OnPremisesSid => Cow::Owned(object.on_premises_sid()?.to_string()),
        Attribute::ObjectGuid => Cow::Owned(object.object_guid()?.to_string()),
        other => Cow::Borrowed(object.attribute(other)?.trim()),
    };
    (!value.is_empty()).then_some(value)
}

/// Lower case, borrowing when there is nothing to change.
pub(crate) fn lower(value: Cow<'_, str>) -> Cow<'_, str> {
    if value.chars().any(char::is_uppercase) {
        Cow::Owned(value.to_lowercase())
    } else {
        value
    }
}

fn local_part(value: &str) -> &str {
    value.rfind('@').map_or(value, |at| &value[..at])
}

fn domain(value: &str) -> Option<&str> {
    value.rfind('@').map(|at| &value[at + 1..])
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    /// What is at the current position, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end".to_string(),
            Some(c) => format!("`{c}`"),
        }
    }

    fn expect(&mut self, c: char, context: &str) -> Result<(), ParseError> {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{c}` {context}, found {}", self.found())))
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.skip_space();
        match self.peek() {
            Some('"') => Ok(Expr::Literal(self.string()?)),
            Some(c) if c.is_ascii_alphabetic() => self.name_or_call(depth),
            _ => Err(self.error(format!(
                "expected an attribute name, a function or a \"string\", found {}",
                self.found()
            ))),
        }
    }

    fn name_or_call(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let start = self.pos;
        let len = self.text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(self.text.len() - start);
        self.pos += len;
        let name = &self.text[start..self.pos];
        let after_name = self.pos;
        self.skip_space();
        if self.peek() != Some('(') {
            self.pos = after_name;
            return Attribute::parse(name)
                .map(Expr::Attribute)
                .ok_or(ParseError {
                    offset: start,
                    message: format!(
                        "unknown attribute `{name}`; expected one of {}, or a function call",
                        Attribute::ALL.map(Attribute::as_str).join(", ")
                    ),
                });
        }
        let Some(&(function, exprs, strings)) = FUNCTIONS
            .iter()
            .find(|(f, _, _)| f.eq_ignore_ascii_case(name))
        else {
            return Err(ParseError {
                offset: start,
                message: format!(
                    "unknown function `{name}`; expected one of {}",
                    FUNCTIONS.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                ),
            });
        };
        if depth >= MAX_DEPTH {
            return Err(ParseError {
                offset: start,
                message: format!("functions may nest at most {MAX_DEPTH} deep"),
            });
        }
        self.pos += 1; // the `(`
        let context = format!("in the arguments of {function}");
        let mut args = vec![self.expr(depth + 1)?];
        let wanted = exprs.unwrap_or(usize::MAX);
        loop {
            self.skip_space();
            if args.len() >= wanted || self.peek() != Some(',') {
                break;
            }
            self.pos += 1;
            args.push(self.expr(depth + 1)?);
        }
        if args.len() < exprs.unwrap_or(2) {
            return Err(self.error(format!(
                "expected `,` and another argument: {function} takes at least two"
            )));
        }
        let mut literals = Vec::new();
        let mut pattern = None;
        for i in 0..strings {
            self.expect(',', &context)?;
            self.skip_space();
            let at = self.pos;
            if self.peek() != Some('"') {
                let what = if function == "regex" && i == 0 {
                    "a \"pattern\""
                } else if function == "regex" {
                    "a \"replacement\""
                } else {
                    "a \"domain\""
                };
                return Err(self.error(format!("expected {what}, found {}", self.found())));
            }
            let literal = self.string()?;
            if function == "replacedomain"
                && (literal.is_empty() || literal.contains(|c: char| c == '@' || c.is_whitespace()))
            {
                return Err(ParseError {
                    offset: at,
                    message:
                        "expected a domain such as \"example.com\": not empty, no `@` or spaces"
                            .to_string(),
                });
            }
            if function == "regex" && i == 0 {
                pattern = Some(compile(&literal).map_err(|message| ParseError {
                    offset: at,
                    message,
                })?);
            }
            literals.push(literal);
        }
        self.expect(')', &context)?;
        let mut args = args.into_iter();
        let mut literals = literals.into_iter();
        let mut one = || Box::new(args.next().unwrap_or(Expr::Literal(String::new())));
        Ok(match function {
            "lower" => Expr::Lower(one()),
            "upper" => Expr::Upper(one()),
            "localpart" => Expr::LocalPart(one()),
            "domain" => Expr::Domain(one()),
            "replacedomain" => Expr::ReplaceDomain(one(), literals.next().unwrap_or_default()),
            "regex" => match pattern {
                Some(pattern) => Expr::Regex(one(), pattern, literals.nth(1).unwrap_or_default()),
                None => return Err(self.error("expected a \"pattern\"")),
            },
            "concat" => Expr::Concat(args.collect()),
            "base64" => Expr::Base64(one()),
            _ => Expr::First(args.collect()),
        })
    }

    /// A `"..."` literal: `\"` and `\\` are escapes; any other backslash stands for itself, so
    /// regex patterns such as `"\d+"` read naturally.
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.clone().next() {
                    Some((_, e @ ('"' | '\\'))) => {
                        chars.next();
                        out.push(e);
                    }
                    _ => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        Err(ParseError {
            offset: start,
            message: "expected a closing `\"` for the string that starts here".to_string(),
        })
    }
}

fn compile(pattern: &str) -> Result<Pattern, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Pattern)
        .map_err(|e| match e {
            regex::Error::Syntax(detail) => format!("invalid regex pattern:\n{detail}"),
            regex::Error::CompiledTooBig(_) => {
                "the regex pattern is too large; simplify it".to_string()
            }
            other => format!("invalid regex pattern: {other}"),
        })
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => f.write_str("\\\"")?,
            // Doubled only where a lone backslash would read as an escape or end the string.
            '\\' if matches!(chars.peek(), None | Some('"') | Some('\\')) => f.write_str("\\\\")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let call = |f: &mut fmt::Formatter<'_>, name: &str, args: &[&Expr], strings: &[&str]| {
            write!(f, "{name}(")?;
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{arg}")?;
            }
            for s in strings {
                f.write_str(", ")?;
                write_string(f, s)?;
            }
            f.write_str(")")
        };
        match self {
            Expr::Attribute(a) => f.write_str(a.as_str()),
            Expr::Literal(s) => write_string(f, s),
            Expr::Lower(e) => call(f, "lower", &[e], &[]),
            Expr::Upper(e) => call(f, "upper", &[e], &[]),
            Expr::LocalPart(e) => call(f, "localpart", &[e], &[]),
            Expr::Domain(e) => call(f, "domain", &[e], &[]),
            Expr::ReplaceDomain(e, d) => call(f, "replacedomain", &[e], &[d]),
            Expr::Regex(e, p, r) => call(f, "regex", &[e], &[p.as_str(), r]),
            Expr::Concat(es) => call(f, "concat", &es.iter().collect::<Vec<_>>(), &[]),
            Expr::First(es) => call(f, "first", &es.iter().collect::<Vec<_>>(), &[]),
            Expr::Base64(e) => call(f, "base64", &[e], &[]),
        }
    }
}

impl std::str::FromStr for Expr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Expr, ParseError> {
        Expr::parse(s)
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Expr, D::Error> {
        let text = String::deserialize(deserializer)?;
        Expr::parse(&text).map_err(serde::de::Error::custom)
    }
}
