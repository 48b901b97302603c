/// Every way parsing or rewriting a security descriptor can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A SID string or binary SID that is not well formed.
    #[error("invalid SID {input:?}: {reason}")]
    InvalidSid { input: String, reason: &'static str },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
