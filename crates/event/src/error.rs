//! Errors for parsing and validating model values (ids, timestamps, type names).

/// A value handed to the model does not follow its rules.
///
/// The message is meant for the person who sent the value, so it says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// An id that is empty, too long or uses characters outside `[A-Za-z0-9_.-]`.
    #[error("must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '-' or '.', and not '.' or '..'")]
    InvalidId,
    /// A timestamp that is not RFC 3339.
    #[error("must be an RFC 3339 timestamp from 1970 on, such as 2026-12-03T15:04:05.123Z")]
    InvalidTimestamp,
    /// An event type name that is not `segment.segment` of lowercase letters, digits, `_`.
    #[error("must be lowercase dot-separated words such as email.sent")]
    InvalidTypeName,
    /// A subscription pattern that is neither a type name, `prefix.*` nor `*`.
    #[error("must be an event type, a prefix such as email.* or *")]
    InvalidSubscription,
}
