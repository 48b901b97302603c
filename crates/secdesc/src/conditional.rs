//! Conditional expressions of callback ACEs (MS-DTYP 2.4.4.17): SDDL text to the binary form
//! and back.

use crate::alias::Domains;
use crate::sddl::parse::Parser;
use crate::Result;

/// Reads a parenthesised conditional expression and returns its binary form.
pub(crate) fn parse_sddl(p: &mut Parser<'_>) -> Result<Vec<u8>> {
    Err(p.error("conditional expressions are not supported yet"))
}

/// The SDDL text of a binary conditional expression, or `None` if it is not one.
pub(crate) fn write_sddl(_data: &[u8], _domains: &Domains) -> Option<String> {
    None
}
