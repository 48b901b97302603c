//! Conditional expressions of callback ACEs (MS-DTYP 2.4.4.17): SDDL text to the binary form
//! (postfix tokens after the `artx` signature) and back.

use std::fmt::Write;

use crate::alias::Domains;
use crate::sddl::parse::{parse_number, Parser};
use crate::sddl::write::write_sid;
use crate::{Result, Sid};

const SIGNATURE: &[u8; 4] = b"artx";
const INT64: u8 = 0x04;
const UNICODE: u8 = 0x10;
const OCTETS: u8 = 0x18;
const COMPOSITE: u8 = 0x50;
const SID: u8 = 0x51;
const NOT: u8 = 0xa2;
const AND: u8 = 0xa0;
const OR: u8 = 0xa1;

/// Attribute name prefixes and their token bytes (local attributes have no prefix).
const ATTRIBUTES: &[(&str, u8)] = &[
    ("@User.", 0xf9),
    ("@Resource.", 0xfa),
    ("@Device.", 0xfb),
    ("", 0xf8),
];

/// Binary relational operators: `lhs op rhs`.
const RELATIONAL: &[(&str, u8)] = &[
    ("==", 0x80),
    ("!=", 0x81),
    ("<=", 0x83),
    ("<", 0x82),
    (">=", 0x85),
    (">", 0x84),
    ("Not_Contains", 0x8e),
    ("Not_Any_of", 0x8f),
    ("Contains", 0x86),
    ("Any_of", 0x88),
];

/// Prefix operators on one operand. Longer names first so that a prefix never wins.
const UNARY: &[(&str, u8)] = &[
    ("Not_Device_Member_of_Any", 0x93),
    ("Not_Device_Member_of", 0x91),
    ("Not_Member_of_Any", 0x92),
    ("Not_Member_of", 0x90),
    ("Device_Member_of_Any", 0x8c),
    ("Device_Member_of", 0x8a),
    ("Member_of_Any", 0x8b),
    ("Member_of", 0x89),
    ("Not_Exists", 0x8d),
    ("Exists", 0x87),
];

/// Reads a parenthesised conditional expression and returns its binary form, padded to 4 bytes.
pub(crate) fn parse_sddl(p: &mut Parser<'_>) -> Result<Vec<u8>> {
    let mut out = SIGNATURE.to_vec();
    skip_space(p);
    p.expect(b'(')?;
    or_expr(p, &mut out, 0)?;
    skip_space(p);
    if p.peek() != Some(b')') {
        return Err(p.error("expected ')' or && or || in the condition"));
    }
    p.at += 1;
    while out.len() % 4 != 0 {
        out.push(0);
    }
    Ok(out)
}

fn skip_space(p: &mut Parser<'_>) {
    while p.peek().map_or(false, |c| c == b' ' || c == b'\t') {
        p.at += 1;
    }
}

fn eat(p: &mut Parser<'_>, word: &str) -> bool {
    skip_space(p);
    if p.s[p.at..].starts_with(word.as_bytes()) {
        p.at += word.len();
        true
    } else {
        false
    }
}

fn check_depth(p: &Parser<'_>, depth: usize) -> Result<()> {
    // Deep nesting would otherwise exhaust the stack on hostile input.
    if depth > 64 {
        return Err(p.error("the condition is nested more than 64 levels deep"));
    }
    Ok(())
}

fn or_expr(p: &mut Parser<'_>, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    and_expr(p, out, depth)?;
    while eat(p, "||") {
        and_expr(p, out, depth)?;
        out.push(OR);
    }
    Ok(())
}

fn and_expr(p: &mut Parser<'_>, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    unary_expr(p, out, depth)?;
    while eat(p, "&&") {
        unary_expr(p, out, depth)?;
        out.push(AND);
    }
    Ok(())
}

fn unary_expr(p: &mut Parser<'_>, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    check_depth(p, depth)?;
    skip_space(p);
    if p.peek() == Some(b'!') && p.s.get(p.at + 1) != Some(&b'=') {
        p.at += 1;
        skip_space(p);
        // `!(…)` is one level, as the writer puts it, so what it writes always reads back.
        if p.peek() == Some(b'(') {
            p.at += 1;
            or_expr(p, out, depth + 1)?;
            skip_space(p);
            p.expect(b')')?;
        } else {
            unary_expr(p, out, depth + 1)?;
        }
        out.push(NOT);
        return Ok(());
    }
    if p.peek() == Some(b'(') {
        p.at += 1;
        or_expr(p, out, depth + 1)?;
        skip_space(p);
        return p.expect(b')');
    }
    for (word, token) in UNARY {
        let rest = &p.s[p.at..];
        if rest.starts_with(word.as_bytes())
            && rest
                .get(word.len())
                .map_or(false, |c| *c == b' ' || *c == b'{' || *c == b'@')
        {
            p.at += word.len();
            operand(p, out)?;
            out.push(*token);
            return Ok(());
        }
    }
    let start = p.at;
    attribute(p, out)?;
    for (word, token) in RELATIONAL {
        if eat(p, word) {
            operand(p, out)?;
            out.push(*token);
            return Ok(());
        }
    }
    if p.at == start {
        return Err(p.error("expected a condition"));
    }
    Ok(())
}

fn push_text(out: &mut Vec<u8>, token: u8, text: &str) {
    let units: Vec<u16> = text.encode_utf16().collect();
    out.push(token);
    out.extend_from_slice(&((units.len() * 2) as u32).to_le_bytes());
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

fn attribute(p: &mut Parser<'_>, out: &mut Vec<u8>) -> Result<()> {
    skip_space(p);
    let start = p.at;
    let (prefix, token) = ATTRIBUTES
        .iter()
        .find(|(prefix, _)| p.s[p.at..].starts_with(prefix.as_bytes()))
        .copied()
        .unwrap_or(("", 0xf8));
    p.at += prefix.len();
    let name_start = p.at;
    while p.peek().map_or(false, |c| {
        c.is_ascii_alphanumeric() || b"_:/.%-".contains(&c)
    }) {
        p.at += 1;
    }
    if p.at == name_start || p.s[name_start].is_ascii_digit() {
        p.at = start;
        return Err(p.error("expected an attribute name such as @User.Department"));
    }
    let name = String::from_utf8_lossy(&p.s[name_start..p.at]).into_owned();
    // A local attribute spelled like an operator would be written back as that operator.
    let is_operator = UNARY
        .iter()
        .chain(RELATIONAL.iter())
        .any(|(word, _)| word.eq_ignore_ascii_case(&name));
    if prefix.is_empty() && is_operator {
        p.at = start;
        return Err(p.error("an operator cannot be used as an attribute name"));
    }
    push_text(out, token, &name);
    Ok(())
}

/// The right-hand side of an operator: a literal, a `{…}` composite or an attribute.
fn operand(p: &mut Parser<'_>, out: &mut Vec<u8>) -> Result<()> {
    skip_space(p);
    if p.peek() == Some(b'{') {
        p.at += 1;
        let mut inner = Vec::new();
        skip_space(p);
        if p.peek() != Some(b'}') {
            loop {
                literal(p, &mut inner)?;
                skip_space(p);
                if p.peek() != Some(b',') {
                    break;
                }
                p.at += 1;
            }
        }
        p.expect(b'}')?;
        out.push(COMPOSITE);
        out.extend_from_slice(&(inner.len() as u32).to_le_bytes());
        out.extend_from_slice(&inner);
        return Ok(());
    }
    if p.peek() == Some(b'@') {
        return attribute(p, out);
    }
    literal(p, out)
}

fn literal(p: &mut Parser<'_>, out: &mut Vec<u8>) -> Result<()> {
    skip_space(p);
    let rest = &p.s[p.at..];
    if rest.starts_with(b"SID(") {
        p.at += 4;
        let sid = p.sid(true)?;
        p.expect(b')')?;
        let bytes = sid.to_bytes();
        out.push(SID);
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
        return Ok(());
    }
    match p.peek() {
        Some(b'"') => {
            let start = p.at + 1;
            let end = p.s[start..]
                .iter()
                .position(|c| *c == b'"')
                .ok_or_else(|| p.error("unterminated string"))?;
            let text = String::from_utf8_lossy(&p.s[start..start + end]).into_owned();
            p.at = start + end + 1;
            push_text(out, UNICODE, &text);
            Ok(())
        }
        Some(b'#') => {
            p.at += 1;
            let start = p.at;
            while p.peek().map_or(false, |c| c.is_ascii_hexdigit()) {
                p.at += 1;
            }
            let hex = &p.s[start..p.at];
            if hex.len() % 2 != 0 {
                return Err(p.error("an octet string has an even number of hex digits"));
            }
            let bytes: Vec<u8> = hex
                .chunks(2)
                .map(|pair| {
                    u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("x"), 16).unwrap_or(0)
                })
                .collect();
            out.push(OCTETS);
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(&bytes);
            Ok(())
        }
        Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => integer(p, out),
        _ => Err(p.error("expected a literal: a number, \"string\", SID(…), #hex or {…}")),
    }
}

fn integer(p: &mut Parser<'_>, out: &mut Vec<u8>) -> Result<()> {
    let start = p.at;
    let sign = match p.peek() {
        Some(b'-') => 2,
        Some(b'+') => 1,
        _ => 3,
    };
    if sign != 3 {
        p.at += 1;
    }
    let digits_start = p.at;
    while p
        .peek()
        .map_or(false, |c| c.is_ascii_hexdigit() || c == b'x' || c == b'X')
    {
        p.at += 1;
    }
    let digits = &p.s[digits_start..p.at];
    let base = if digits.starts_with(b"0x") || digits.starts_with(b"0X") {
        3
    } else if digits.len() > 1 && digits[0] == b'0' {
        1
    } else {
        2
    };
    let magnitude = parse_number(digits).ok_or_else(|| p.error("invalid number"))?;
    let value = if sign == 2 {
        0i64.checked_sub_unsigned_compat(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
    .ok_or_else(|| {
        p.at = start;
        p.error("the number does not fit 64 bits")
    })?;
    out.push(INT64);
    out.extend_from_slice(&value.to_le_bytes());
    out.push(sign);
    out.push(base);
    Ok(())
}

/// `i64::checked_sub_unsigned` is newer than the minimum Rust version.
trait CheckedSubUnsigned {
    fn checked_sub_unsigned_compat(self, rhs: u64) -> Option<i64>;
}

impl CheckedSubUnsigned for i64 {
    fn checked_sub_unsigned_compat(self, rhs: u64) -> Option<i64> {
        if rhs == 1 << 63 {
            return Some(i64::MIN);
        }
        i64::try_from(rhs).ok().and_then(|r| self.checked_sub(r))
    }
}

/// A node of the expression being rebuilt from postfix tokens: its text and whether it is an
/// operand (literal or attribute) rather than a condition.
struct Node {
    text: String,
    operand: bool,
    /// The logical operator (AND or OR) at the top of this node, if that is what it is.
    logic: Option<u8>,
}

/// The SDDL text of a binary conditional expression, with its outer parentheses, or `None` if
/// `data` is not a well-formed one.
pub(crate) fn write_sddl(data: &[u8], domains: &Domains) -> Option<String> {
    let body = data.strip_prefix(SIGNATURE)?;
    let mut stack: Vec<Node> = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let token = body[at];
        at += 1;
        match token {
            0x00 => {
                // Padding: only zeros may follow.
                if body[at..].iter().any(|b| *b != 0) {
                    return None;
                }
                break;
            }
            0x01..=0x04 | UNICODE | OCTETS | COMPOSITE | SID => {
                let (text, used) = read_literal(&body[at - 1..], domains)?;
                at += used - 1;
                stack.push(Node {
                    text,
                    operand: true,
                    logic: None,
                });
            }
            0xf8..=0xfb => {
                let (name, used) = read_utf16(&body[at..])?;
                at += used;
                // Only names the text form can carry back.
                let plain = |c: char| c.is_ascii_alphanumeric() || "_:/.%-".contains(c);
                if name.is_empty()
                    || name.starts_with(|c: char| c.is_ascii_digit())
                    || !name.chars().all(plain)
                {
                    return None;
                }
                let prefix = ATTRIBUTES.iter().find(|(_, t)| *t == token)?.0;
                stack.push(Node {
                    text: format!("{}{}", prefix, name),
                    operand: true,
                    logic: None,
                });
            }
            NOT => {
                let inner = stack.pop()?;
                stack.push(Node {
                    text: format!("!{}", wrap(inner)),
                    operand: false,
                    logic: None,
                });
            }
            AND | OR => {
                let rhs = stack.pop()?;
                let lhs = stack.pop()?;
                let op = if token == AND { "&&" } else { "||" };
                // A chain of one operator reads left to right, so its left side needs no
                // parentheses: `a || b || c`, not `((a || b) || c)`, which keeps the text as
                // shallow as the expression and within the reader's nesting limit.
                let left = if lhs.logic == Some(token) {
                    lhs.text
                } else {
                    wrap(lhs)
                };
                stack.push(Node {
                    text: format!("{} {} {}", left, op, wrap(rhs)),
                    operand: false,
                    logic: Some(token),
                });
            }
            _ => {
                if let Some((word, _)) = UNARY.iter().find(|(_, t)| *t == token) {
                    let operand = stack.pop()?;
                    stack.push(Node {
                        text: format!("{} {}", word, operand.text),
                        operand: false,
                        logic: None,
                    });
                } else if let Some((word, _)) = RELATIONAL.iter().find(|(_, t)| *t == token) {
                    let rhs = stack.pop()?;
                    let lhs = stack.pop()?;
                    stack.push(Node {
                        text: format!("{} {} {}", lhs.text, word, rhs.text),
                        operand: false,
                        logic: None,
                    });
                } else {
                    return None;
                }
            }
        }
    }
    if stack.len() != 1 {
        return None;
    }
    let top = stack.pop()?;
    Some(format!("({})", top.text))
}

/// Conditions nested in another are parenthesised, as Windows writes them.
fn wrap(node: Node) -> String {
    if node.operand {
        node.text
    } else {
        format!("({})", node.text)
    }
}

fn read_u32(bytes: &[u8]) -> Option<usize> {
    let b = bytes.get(..4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// A length-prefixed UTF-16LE string and the bytes it used.
fn read_utf16(bytes: &[u8]) -> Option<(String, usize)> {
    let len = read_u32(bytes)?;
    let raw = bytes.get(4..4usize.checked_add(len)?)?;
    if len % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = raw
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16(&units).ok()?;
    Some((text, 4 + len))
}

/// One literal token (starting at its token byte) as text, and the bytes it used.
fn read_literal(bytes: &[u8], domains: &Domains) -> Option<(String, usize)> {
    let token = *bytes.first()?;
    let rest = &bytes[1..];
    match token {
        0x01..=0x04 => {
            let raw = rest.get(..10)?;
            let mut v = [0u8; 8];
            v.copy_from_slice(&raw[..8]);
            let value = i64::from_le_bytes(v);
            let (sign, base) = (raw[8], raw[9]);
            let magnitude = if value < 0 {
                (value as i128).unsigned_abs() as u64
            } else {
                value as u64
            };
            let mut text = String::new();
            match sign {
                1 => text.push('+'),
                2 => text.push('-'),
                3 if value >= 0 => {}
                _ => return None,
            }
            if (sign == 2) != (value < 0) && value != 0 {
                return None;
            }
            let _ = match base {
                // Octal zero keeps a second 0: a lone "0" reads back as decimal.
                1 if magnitude == 0 => write!(text, "00"),
                1 => write!(text, "0{:o}", magnitude),
                2 => write!(text, "{}", magnitude),
                3 => write!(text, "0x{:x}", magnitude),
                _ => return None,
            };
            Some((text, 11))
        }
        UNICODE => {
            let (text, used) = read_utf16(rest)?;
            if text.contains('"') {
                return None;
            }
            Some((format!("\"{}\"", text), 1 + used))
        }
        OCTETS => {
            let len = read_u32(rest)?;
            let raw = rest.get(4..4usize.checked_add(len)?)?;
            let mut text = String::from("#");
            for b in raw {
                let _ = write!(text, "{:02x}", b);
            }
            Some((text, 5 + len))
        }
        SID => {
            let len = read_u32(rest)?;
            let raw = rest.get(4..4usize.checked_add(len)?)?;
            let sid = Sid::from_bytes(raw).ok()?;
            let mut text = String::from("SID(");
            write_sid(&mut text, &sid, domains);
            text.push(')');
            Some((text, 5 + len))
        }
        COMPOSITE => {
            let len = read_u32(rest)?;
            let inner = rest.get(4..4usize.checked_add(len)?)?;
            let mut items = Vec::new();
            let mut at = 0;
            while at < inner.len() {
                let (text, used) = read_literal(&inner[at..], domains)?;
                items.push(text);
                at += used;
            }
            Some((format!("{{{}}}", items.join(", ")), 5 + len))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
