//! Resource attribute ACE claims (MS-DTYP 2.4.10.1, CLAIM_SECURITY_ATTRIBUTE_RELATIVE_V1).

use crate::sddl::parse::Parser;
use crate::Result;

/// Reads a parenthesised resource attribute and returns its binary form.
pub(crate) fn parse_sddl(p: &mut Parser<'_>) -> Result<Vec<u8>> {
    Err(p.error("resource attributes are not supported yet"))
}

/// The SDDL text of a binary claim, or `None` if it is not one.
pub(crate) fn write_sddl(_data: &[u8]) -> Option<String> {
    None
}
