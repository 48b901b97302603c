/// Every way parsing or rewriting a security descriptor can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A SID string or binary SID that is not well formed.
    #[error("invalid SID {input:?}: {reason}")]
    InvalidSid {
        /// The text that was read (empty for a SID built from parts).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A GUID string that is not of the form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    #[error("invalid GUID {input:?}: expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")]
    InvalidGuid {
        /// The text that was read.
        input: String,
    },
    /// SDDL text that cannot be read; `offset` is the byte offset where reading stopped.
    #[error("invalid SDDL at byte {offset}: {reason}")]
    Sddl {
        /// Byte offset into the SDDL string.
        offset: usize,
        /// What was expected or what is wrong.
        reason: String,
    },
    /// A binary (self-relative) structure that cannot be read.
    #[error("invalid binary security descriptor at byte {offset}: {reason}")]
    Binary {
        /// Byte offset into the buffer.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An ACL that would not fit the 16-bit size or ACE count of the binary form.
    #[error("the {acl} would be {size} bytes with {count} ACEs; an ACL holds at most 65,535 bytes and 65,535 ACEs")]
    AclTooLarge {
        /// "DACL" or "SACL".
        acl: &'static str,
        /// The size in bytes it would have.
        size: usize,
        /// The number of ACEs it would have.
        count: usize,
    },
    /// A descriptor whose parts cannot be expressed in SDDL.
    #[error("cannot write SDDL: {reason}")]
    NotExpressible {
        /// What cannot be written.
        reason: String,
    },
    /// A SID map (CSV) line that cannot be read.
    #[error("SID map line {line}: {reason}")]
    SidMap {
        /// 1-based line number.
        line: usize,
        /// What is wrong, and what to do.
        reason: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
