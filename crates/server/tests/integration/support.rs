//! Tests, filled in next.
